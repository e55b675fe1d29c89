// cgroup v1 backend, for hybrid hosts whose cpu, memory and pids controllers
// are still on v1. Each controller has its own hierarchy; in each, under
// pyexecd's own cgroup there:   pyexec-<pid>/run-<name>
// A run is limited by cpu + memory + pids and accounted by cpuacct (its own
// hierarchy when not mounted together with cpu), so cpu time is per run.
// v1 has no cgroup.kill: killAll signals every listed pid until none is left.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "common/log.h"
#include "common/unique_fd.h"
#include "sandbox/cgroup_impl.h"

namespace pyexec::sandbox::cg {
namespace {

bool has(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

class RunCgroupV1 final : public RunCgroupBase {
public:
    explicit RunCgroupV1(bool fake) : fake_(fake) {}
    ~RunCgroupV1() override;
    RunCgroupV1(const RunCgroupV1&) = delete;
    RunCgroupV1& operator=(const RunCgroupV1&) = delete;

    // Takes charge of an existing folder: removed by the destructor.
    void adopt(std::string controller, std::string dir) {
        dirs_.push_back({std::move(controller), std::move(dir)});
    }
    Status applyLimits(const CgroupLimits& limits);
    Status applyIoLimits(const IoLimits& io) const;

    int dirFd() const override { return -1; }
    std::vector<int> joinFds() const override;
    std::vector<pid_t> pids() const override {
        if (dirs_.empty()) return {};
        Result<std::string> r = readFile(join(dirs_.front().ownDir, "cgroup.procs"));
        return r.ok() ? parsePids(r.value()) : std::vector<pid_t>{};
    }
    Status openJoinFiles();
    Status killAll() override;
    CgroupUsage usage() const override;
    double cpuMs() const override;
    Status refillCpuBudget() override { return write("cpu", "cpu.cfs_quota_us", cpuQuota_); }
    std::vector<std::string> dirs() const override;

private:
    std::string file(std::string_view controller, std::string_view name) const;
    Status write(std::string_view controller, std::string_view name, std::string_view value) const {
        return writeFile(file(controller, name), value, fake_);
    }

    bool fake_;
    std::vector<V1Hierarchy> dirs_;  // in the order they were created
    std::vector<UniqueFd> tasks_;    // each dir's `tasks`, for joinFds()
    std::string cpuQuota_;           // cpu.cfs_quota_us, for refillCpuBudget()
};

RunCgroupV1::~RunCgroupV1() {
    tasks_.clear();
    Status killed = killAll();
    if (!killed.ok()) log::warn(killed.error().message);
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
        Status removed = removeDir(it->ownDir, fake_);
        if (!removed.ok()) log::warn(removed.error().message);
    }
}

// The file `name` of this run in `controller`'s hierarchy; "" if it has none.
std::string RunCgroupV1::file(std::string_view controller, std::string_view name) const {
    for (const V1Hierarchy& h : dirs_) {
        if (h.controller == controller) return join(h.ownDir, name);
    }
    return {};
}

std::vector<std::string> RunCgroupV1::dirs() const {
    std::vector<std::string> out;
    for (const V1Hierarchy& h : dirs_) out.push_back(h.ownDir);
    return out;
}

Status RunCgroupV1::applyLimits(const CgroupLimits& limits) {
    cpuQuota_ = std::to_string(limits.cpuQuotaUs);
    Status s = write("cpu", "cpu.cfs_period_us", std::to_string(limits.cpuPeriodUs));
    if (s.ok()) s = write("cpu", "cpu.cfs_quota_us", cpuQuota_);
    std::string bytes = std::to_string(limits.memoryBytes);
    // limit_in_bytes first: memsw may never be below it.
    if (s.ok()) s = write("memory", "memory.limit_in_bytes", bytes);
    if (s.ok()) {
        // memory+swap = memory: no swap. The file is missing without swap
        // accounting: acceptable only where the host has no swap to use.
        s = write("memory", "memory.memsw.limit_in_bytes", bytes);
        if (!s.ok() && s.error().err == ENOENT) s = requireNoSwap(file("memory", "memory.memsw.limit_in_bytes"));
    }
    if (s.ok()) (void)write("memory", "memory.swappiness", "0");  // belt and braces; may be refused
    if (s.ok()) s = write("pids", "pids.max", std::to_string(limits.pidsMax));
    if (s.ok() && limits.io.any() && !file("blkio", "").empty()) s = applyIoLimits(limits.io);
    return s;
}

// One "MAJ:MIN value" line per device and file; 0 is "no limit" there too.
Status RunCgroupV1::applyIoLimits(const IoLimits& io) const {
    const std::pair<const char*, uint64_t> files[] = {
        {"blkio.throttle.read_bps_device", io.readBps},   {"blkio.throttle.write_bps_device", io.writeBps},
        {"blkio.throttle.read_iops_device", io.readIops}, {"blkio.throttle.write_iops_device", io.writeIops},
    };
    for (const auto& [name, value] : files) {
        if (value == 0) continue;
        for (const std::string& dev : io.devices) {
            if (Status s = write("blkio", name, dev + " " + std::to_string(value)); !s) return s;
        }
    }
    return okStatus();
}

// In the order the folders were made: memory and pids first, so that a
// process is limited before it can be charged anywhere else.
Status RunCgroupV1::openJoinFiles() {
    for (const V1Hierarchy& h : dirs_) {
        std::string path = join(h.ownDir, "tasks");
        UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | (fake_ ? O_CREAT : 0), 0644));
        if (!fd.valid()) return sysError("cannot open", path, errno);
        tasks_.push_back(std::move(fd));
    }
    return okStatus();
}

std::vector<int> RunCgroupV1::joinFds() const {
    std::vector<int> out;
    for (const UniqueFd& fd : tasks_) out.push_back(fd.get());
    return out;
}

Status RunCgroupV1::killAll() {
    std::vector<std::string> procs;
    for (const V1Hierarchy& h : dirs_) procs.push_back(join(h.ownDir, "cgroup.procs"));
    if (procs.empty()) return okStatus();
    return killUntilEmpty(procs, "");
}

double RunCgroupV1::cpuMs() const {
    std::string acct = file("cpuacct", "cpuacct.usage");
    if (acct.empty()) acct = file("cpu", "cpuacct.usage");  // cpu,cpuacct mounted together
    Result<std::string> cpu = readFile(acct);
    if (!cpu.ok()) return 0;
    std::optional<uint64_t> ns = parseU64(cpu.value());
    return ns ? static_cast<double>(*ns) / 1e6 : 0;
}

CgroupUsage RunCgroupV1::usage() const {
    CgroupUsage u;
    u.cpuMs = cpuMs();
    Result<std::string> peak = readFile(file("memory", "memory.max_usage_in_bytes"));
    if (peak.ok()) u.memoryPeakBytes = parseU64(peak.value());
    // oom_kill: kernel >= 4.13.
    Result<std::string> oom = readFile(file("memory", "memory.oom_control"));
    if (oom.ok()) u.oomKilled = keyedValue(oom.value(), "oom_kill").value_or(0) > 0;
    return u;
}

class CgroupV1Manager final : public CgroupManagerBase {
public:
    CgroupV1Manager(const V1Plan& plan, pid_t self);

    Status prepare();
    std::string_view backendName() const override { return "v1"; }
    bool ioControl() const override {
        return std::any_of(bases_.begin(), bases_.end(), [](const V1Hierarchy& h) { return h.controller == "blkio"; });
    }
    Result<std::unique_ptr<RunCgroup>> createRun(std::string_view name,
                                                 const CgroupLimits& limits) override;
    void removeSubtree() override;
    void removeRunsOf(std::string_view prefix) override;
    std::vector<std::string> subtreeDirs() const override;

private:
    void removeRun(const std::string& runName) const;

    std::vector<V1Hierarchy> bases_;  // ownDir here: <own cgroup>/pyexec-<pid>
    bool fake_;
};

CgroupV1Manager::CgroupV1Manager(const V1Plan& plan, pid_t self) : fake_(plan.fake) {
    for (const V1Hierarchy& h : plan.hierarchies) {
        bases_.push_back({h.controller, join(h.ownDir, "pyexec-" + std::to_string(self))});
    }
}

std::vector<std::string> CgroupV1Manager::subtreeDirs() const {
    std::vector<std::string> out;
    for (const V1Hierarchy& h : bases_) out.push_back(h.ownDir);
    return out;
}

// A pyexec-<pid> left by a crashed pyexecd with our pid (after a reboot or
// in a fresh pid namespace) is reused; its runs are killed and removed.
Status CgroupV1Manager::prepare() {
    std::set<std::string> stale;
    for (const V1Hierarchy& h : bases_) {
        if (::mkdir(h.ownDir.c_str(), 0755) != 0 && errno != EEXIST) {
            return sysError("cannot create", h.ownDir, errno);
        }
        for (std::string& name : childDirs(h.ownDir, "run-")) stale.insert(std::move(name));
    }
    for (const std::string& name : stale) {
        log::warn("cgroup: removing stale " + name + " in " + bases_.front().ownDir);
        removeRun(name);
    }
    return okStatus();
}

void CgroupV1Manager::removeRun(const std::string& runName) const {
    RunCgroupV1 stale(fake_);  // its destructor kills and removes
    for (const V1Hierarchy& h : bases_) {
        std::string dir = join(h.ownDir, runName);
        if (exists(dir)) stale.adopt(h.controller, dir);
    }
}

Result<std::unique_ptr<RunCgroup>> CgroupV1Manager::createRun(std::string_view name,
                                                              const CgroupLimits& limits) {
    Result<std::string> runName = runDirName(name);
    if (!runName.ok()) return runName.error();
    removeRun(runName.value());  // left by a worker that died mid-run, if any
    auto run = std::make_unique<RunCgroupV1>(fake_);
    for (const V1Hierarchy& h : bases_) {
        std::string dir = join(h.ownDir, runName.value());
        if (::mkdir(dir.c_str(), 0755) != 0) return sysError("cannot create", dir, errno);
        run->adopt(h.controller, dir);  // from here on, removed on every path
    }
    Status s = run->applyLimits(limits);
    if (s.ok()) s = run->openJoinFiles();
    if (!s.ok()) return s.error();
    return std::unique_ptr<RunCgroup>(std::move(run));
}

void CgroupV1Manager::removeRunsOf(std::string_view prefix) {
    std::set<std::string> runs;
    for (const V1Hierarchy& h : bases_) {
        for (std::string& name : childDirs(h.ownDir, "run-" + std::string(prefix))) runs.insert(std::move(name));
    }
    for (const std::string& name : runs) removeRun(name);
}

void CgroupV1Manager::removeSubtree() {
    std::set<std::string> runs;
    for (const V1Hierarchy& h : bases_) {
        for (std::string& name : childDirs(h.ownDir, "run-")) runs.insert(std::move(name));
    }
    for (const std::string& name : runs) removeRun(name);
    for (const V1Hierarchy& h : bases_) {
        Status s = removeDir(h.ownDir, fake_);
        if (!s.ok()) log::warn(s.error().message);
    }
}

// A v1 hierarchy holding `controller`: <root>/<list> ("cpu,cpuacct"),
// <root>/<controller>, or any folder of root whose name lists it. On cgroupfs
// the mount must carry the controller; a fake tree needs a cgroup.procs.
std::string findV1Mount(const DetectContext& ctx, const std::string& list,
                        const std::string& controller) {
    const std::string& root = ctx.options.mountRoot;
    std::vector<std::string> candidates = {join(root, list), join(root, controller)};
    for (const std::string& name : childDirs(root, "")) {
        if (has(split(name, ','), controller)) candidates.push_back(join(root, name));
    }
    for (const std::string& c : candidates) {
        FsKind k = fsKind(c);
        if (k == FsKind::kOther && exists(join(c, "cgroup.procs"))) return c;
        if (k != FsKind::kCgroup1) continue;
        const MountEntry* m = findMount(ctx, c);
        if (m == nullptr || has(m->superOptions, controller)) return c;
    }
    return {};
}

// pyexecd's cgroup in the hierarchy of `controller`, or why there is none.
Result<V1Hierarchy> findHierarchy(const DetectContext& ctx, const std::string& controller) {
    auto own = std::find_if(ctx.own.begin(), ctx.own.end(),
                            [&](const OwnCgroup& c) { return has(c.controllers, controller); });
    if (own == ctx.own.end()) {
        return makeError(ErrorKind::kSandboxUnavailable,
                         controller + " (not in " + ctx.options.procSelfCgroup + ")");
    }
    std::string mount = findV1Mount(ctx, own->list, controller);
    if (mount.empty()) {
        return makeError(ErrorKind::kSandboxUnavailable,
                         controller + " (no v1 hierarchy under " + ctx.options.mountRoot + ")");
    }
    Result<std::string> dir = pathUnderMount(ctx, mount, own->path);
    if (!dir.ok()) {
        return makeError(ErrorKind::kSandboxUnavailable,
                         controller + " (" + dir.error().message + ")");
    }
    return V1Hierarchy{controller, dir.value()};
}

bool sameHierarchy(const DetectContext& ctx, const std::string& a, const std::string& b) {
    return std::any_of(ctx.own.begin(), ctx.own.end(), [&](const OwnCgroup& c) {
        return has(c.controllers, a) && has(c.controllers, b);
    });
}

}  // namespace

Result<V1Plan> detectV1(const DetectContext& ctx) {
    V1Plan plan;
    std::string missing;
    for (const char* controller : {"memory", "pids", "cpu"}) {
        Result<V1Hierarchy> h = findHierarchy(ctx, controller);
        if (h.ok()) {
            plan.hierarchies.push_back(h.value());
        } else {
            missing += (missing.empty() ? "" : ", ") + h.error().message;
        }
    }
    if (!missing.empty()) {
        return makeError(ErrorKind::kSandboxUnavailable, "missing v1 controllers: " + missing);
    }
    // cpuacct is optional: without it cpuMs stays 0 and callers use rusage.
    if (!sameHierarchy(ctx, "cpu", "cpuacct")) {
        Result<V1Hierarchy> acct = findHierarchy(ctx, "cpuacct");
        if (acct.ok()) plan.hierarchies.push_back(acct.value());
    }
    // blkio is optional too: without it runs' disk I/O is not limited
    // (CgroupManager::ioControl()).
    if (!sameHierarchy(ctx, "cpu", "blkio") && !sameHierarchy(ctx, "memory", "blkio") &&
        !sameHierarchy(ctx, "pids", "blkio")) {
        Result<V1Hierarchy> blkio = findHierarchy(ctx, "blkio");
        if (blkio.ok()) plan.hierarchies.push_back(blkio.value());
    }
    plan.fake = fsKind(plan.hierarchies.front().ownDir) == FsKind::kOther;
    return plan;
}

Result<std::unique_ptr<CgroupManager>> setupV1(const V1Plan& plan, pid_t self) {
    auto m = std::make_unique<CgroupV1Manager>(plan, self);
    Status s = m->prepare();
    if (!s.ok()) {
        m->removeSubtree();
        return s.error();
    }
    std::string where;
    for (const std::string& d : m->subtreeDirs()) where += " " + d;
    log::info("cgroups: v1 at" + where);
    return std::unique_ptr<CgroupManager>(std::move(m));
}

}  // namespace pyexec::sandbox::cg
