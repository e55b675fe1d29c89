// cgroup v2 backend. pyexecd's own cgroup P is split in two so that it may
// enable controllers for its children ("no internal processes" rule):
//   P/daemon     every process that was in P, pyexecd included
//   P/runs       "+cpu +memory +pids"; one run-<name> per run below it
// Detection reads P/cgroup.controllers: cpu, memory and pids must all be
// delegated to P.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "common/log.h"
#include "common/unique_fd.h"
#include "sandbox/cgroup_impl.h"

namespace pyexec::sandbox::cg {
namespace {

constexpr std::string_view kControllers = "+cpu +memory +pids";
constexpr std::string_view kIoController = " +io";  // where delegated (optional)

// Whether a cgroup.controllers text ("cpu io memory pids\n") names `controller`.
bool lists(std::string text, std::string_view controller) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::vector<std::string> names = split(text, ' ');
    return std::find(names.begin(), names.end(), controller) != names.end();
}
std::atomic<bool> gSwapWarned{false};

class RunCgroupV2 final : public RunCgroupBase {
public:
    RunCgroupV2(std::string dir, bool fake, bool io = false) : dir_(std::move(dir)), fake_(fake), io_(io) {}
    ~RunCgroupV2() override;
    RunCgroupV2(const RunCgroupV2&) = delete;
    RunCgroupV2& operator=(const RunCgroupV2&) = delete;

    Status applyLimits(const CgroupLimits& limits);
    Status applyIoLimits(const IoLimits& io) const;
    Status openDir();

    int dirFd() const override { return fd_.get(); }
    // cgroup.procs: for a process that moves itself in (the warm program).
    std::vector<int> joinFds() const override { return {procs_.get()}; }
    Status killAll() override;
    CgroupUsage usage() const override;
    double cpuMs() const override;
    Status refillCpuBudget() override { return write("cpu.max", cpuMax_); }
    std::vector<std::string> dirs() const override { return {dir_}; }
    std::vector<pid_t> pids() const override {
        Result<std::string> r = readFile(join(dir_, "cgroup.procs"));
        return r.ok() ? parsePids(r.value()) : std::vector<pid_t>{};
    }

private:
    Status write(std::string_view file, std::string_view value) const {
        return writeFile(join(dir_, file), value, fake_);
    }

    std::string dir_;
    std::string cpuMax_;  // cpu.max, for refillCpuBudget()
    bool fake_;
    bool io_;  // the io controller is enabled for it
    UniqueFd fd_;
    UniqueFd procs_;
};

RunCgroupV2::~RunCgroupV2() {
    Status killed = killAll();
    if (!killed.ok()) log::warn(killed.error().message);
    fd_.reset();
    procs_.reset();
    Status removed = removeDir(dir_, fake_);
    if (!removed.ok()) log::warn(removed.error().message);
}

Status RunCgroupV2::applyLimits(const CgroupLimits& limits) {
    cpuMax_ = std::to_string(limits.cpuQuotaUs) + " " + std::to_string(limits.cpuPeriodUs);
    Status s = write("cpu.max", cpuMax_);
    if (s.ok()) s = write("memory.max", std::to_string(limits.memoryBytes));
    if (s.ok()) {
        s = write("memory.swap.max", "0");
        // Without swap accounting (swapaccount=0, or no swap in the kernel)
        // there is no file: acceptable only where the host has no swap.
        if (!s.ok() && s.error().err == ENOENT) {
            s = requireNoSwap(join(dir_, "memory.swap.max"));
            if (s.ok() && !gSwapWarned.exchange(true)) log::warn("no memory.swap.max (no swap accounting; the host has no swap)");
        }
    }
    // oom.group: the OOM killer takes the whole run, not just the biggest process.
    if (s.ok()) s = write("memory.oom.group", "1");
    if (s.ok()) s = write("pids.max", std::to_string(limits.pidsMax));
    if (s.ok() && limits.io.any() && io_) s = applyIoLimits(limits.io);
    return s;
}

// One line per device: "MAJ:MIN rbps=N wbps=N riops=N wiops=N" ("max": none).
Status RunCgroupV2::applyIoLimits(const IoLimits& io) const {
    auto value = [](uint64_t v) { return v == 0 ? std::string("max") : std::to_string(v); };
    for (const std::string& dev : io.devices) {
        std::string line = dev + " rbps=" + value(io.readBps) + " wbps=" + value(io.writeBps) +
                           " riops=" + value(io.readIops) + " wiops=" + value(io.writeIops);
        if (Status s = write("io.max", line); !s) return s;
    }
    return okStatus();
}

Status RunCgroupV2::openDir() {
    fd_.reset(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd_.valid()) return sysError("cannot open", dir_, errno);
    std::string procs = join(dir_, "cgroup.procs");
    procs_.reset(::open(procs.c_str(), O_WRONLY | O_CLOEXEC | (fake_ ? O_CREAT : 0), 0644));
    if (!procs_.valid()) return sysError("cannot open", procs, errno);
    return okStatus();
}

Status RunCgroupV2::killAll() {
    Status s = writeFile(join(dir_, "cgroup.kill"), "1", false);
    if (!s.ok() && s.error().err != ENOENT) return s;
    // Before 5.14 there is no cgroup.kill: freeze, signal each pid, thaw.
    std::string freeze = s.ok() ? std::string() : join(dir_, "cgroup.freeze");
    return killUntilEmpty({join(dir_, "cgroup.procs")}, freeze);
}

double RunCgroupV2::cpuMs() const {
    Result<std::string> cpu = readFile(join(dir_, "cpu.stat"));
    if (!cpu.ok()) return 0;
    std::optional<uint64_t> us = keyedValue(cpu.value(), "usage_usec");
    return us ? static_cast<double>(*us) / 1000.0 : 0;
}

CgroupUsage RunCgroupV2::usage() const {
    CgroupUsage u;
    u.cpuMs = cpuMs();
    Result<std::string> peak = readFile(join(dir_, "memory.peak"));  // kernel >= 5.19
    if (peak.ok()) u.memoryPeakBytes = parseU64(peak.value());
    Result<std::string> events = readFile(join(dir_, "memory.events"));
    if (events.ok()) {
        u.oomKilled = keyedValue(events.value(), "oom_kill").value_or(0) > 0 ||
                      keyedValue(events.value(), "oom_group_kill").value_or(0) > 0;
    }
    return u;
}

class CgroupV2Manager final : public CgroupManagerBase {
public:
    explicit CgroupV2Manager(const V2Plan& plan)
        : dir_(plan.dir), runs_(join(plan.dir, "runs")), fake_(plan.fake) {}

    Status prepare();
    std::string_view backendName() const override { return "v2"; }
    bool ioControl() const override { return io_; }
    Result<std::unique_ptr<RunCgroup>> createRun(std::string_view name,
                                                 const CgroupLimits& limits) override;
    void removeSubtree() override;
    void removeRunsOf(std::string_view prefix) override;
    std::vector<std::string> subtreeDirs() const override { return {runs_}; }

private:
    Status makeDir(const std::string& path) const;
    Status moveProcessesToDaemon() const;
    Status enableControllers() const;
    void removeRuns(bool stale) const;

    std::string controllers() const { return std::string(kControllers) + (io_ ? std::string(kIoController) : ""); }

    std::string dir_;   // P
    std::string runs_;  // P/runs
    bool fake_;
    bool io_ = false;   // io is delegated to P: runs get io.max
};

Status CgroupV2Manager::makeDir(const std::string& path) const {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
        return sysError("cannot create", path, errno);
    }
    return okStatus();
}

// Moves every process listed in P into P/daemon, each with its own write(2)
// as the kernel wants. A process that exits meanwhile (ESRCH) is fine.
Status CgroupV2Manager::moveProcessesToDaemon() const {
    Result<std::string> procs = readFile(join(dir_, "cgroup.procs"));
    if (!procs.ok()) return procs.error();
    std::string target = join(dir_, "daemon/cgroup.procs");
    UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CLOEXEC | (fake_ ? O_CREAT : 0), 0644));
    if (!fd.valid()) return sysError("cannot open", target, errno);
    for (pid_t pid : parsePids(procs.value())) {
        std::string line = std::to_string(pid) + "\n";
        if (::write(fd.get(), line.data(), line.size()) < 0 && errno != ESRCH) {
            return sysError("cannot move pid " + std::to_string(pid) + " into", target, errno);
        }
    }
    return okStatus();
}

// The root of the whole hierarchy (it has no cgroup.type) is exempt from the
// no-internal-processes rule, and moving every process of the host into
// /daemon would be wrong: there, nothing moves.
Status CgroupV2Manager::enableControllers() const {
    bool realRoot = !fake_ && !exists(join(dir_, "cgroup.type"));
    Status s = okStatus();
    for (int attempt = 0; attempt < 5; ++attempt) {
        if (!realRoot) {
            s = makeDir(join(dir_, "daemon"));
            if (s.ok()) s = moveProcessesToDaemon();
            if (!s.ok()) return s;
        }
        // EBUSY: a process was forked into P while we were moving the others.
        s = writeFile(join(dir_, "cgroup.subtree_control"), controllers(), fake_);
        if (s.ok() || s.error().err != EBUSY) return s;
        sleepMs(10);
    }
    return s;
}

Status CgroupV2Manager::prepare() {
    Result<std::string> have = readFile(join(dir_, "cgroup.controllers"));
    io_ = have.ok() && lists(have.value(), "io");
    Status s = enableControllers();
    if (!s.ok()) return s;
    // runs/ left over by a pyexecd that crashed in this same cgroup: its
    // run-* children may still hold processes; kill and remove them.
    removeRuns(true);
    s = makeDir(runs_);
    if (s.ok()) s = writeFile(join(runs_, "cgroup.subtree_control"), controllers(), fake_);
    return s;
}

void CgroupV2Manager::removeRuns(bool stale) const {
    for (const std::string& name : childDirs(runs_, "run-")) {
        if (stale) log::warn("cgroup: removing stale " + join(runs_, name));
        RunCgroupV2 run(join(runs_, name), fake_);  // its destructor kills and removes
    }
}

Result<std::unique_ptr<RunCgroup>> CgroupV2Manager::createRun(std::string_view name,
                                                              const CgroupLimits& limits) {
    Result<std::string> base = runDirName(name);
    if (!base.ok()) return base.error();
    std::string dir = join(runs_, base.value());
    int rc = ::mkdir(dir.c_str(), 0755);
    if (rc != 0 && errno == EEXIST) {
        { RunCgroupV2 stale(dir, fake_); }  // left by a worker that died mid-run
        rc = ::mkdir(dir.c_str(), 0755);
    }
    if (rc != 0) return sysError("cannot create", dir, errno);
    auto run = std::make_unique<RunCgroupV2>(dir, fake_, io_);  // from here on, removed on every path
    Status s = run->applyLimits(limits);
    if (s.ok()) s = run->openDir();
    if (!s.ok()) return s.error();
    return std::unique_ptr<RunCgroup>(std::move(run));
}

void CgroupV2Manager::removeRunsOf(std::string_view prefix) {
    for (const std::string& name : childDirs(runs_, "run-" + std::string(prefix))) {
        RunCgroupV2 run(join(runs_, name), fake_);  // its destructor kills and removes
    }
}

void CgroupV2Manager::removeSubtree() {
    removeRuns(false);
    Status s = removeDir(runs_, fake_);
    if (!s.ok()) log::warn(s.error().message);
}

// The unified hierarchy: mountRoot itself on a v2 host, mountRoot/unified
// on a hybrid one. A fake tree (tests) is recognised by cgroup.controllers.
std::string findV2Mount(const std::string& root) {
    for (const std::string& c : {root, join(root, "unified")}) {
        FsKind k = fsKind(c);
        bool fake = k == FsKind::kOther && exists(join(c, "cgroup.controllers"));
        if (k == FsKind::kCgroup2 || fake) return c;
    }
    return {};
}

// "cpu, pids" for those of cpu, memory and pids that `controllers` lacks.
std::string missingControllers(const std::string& controllers) {
    std::string missing;
    for (const char* want : {"cpu", "memory", "pids"}) {
        if (!lists(controllers, want)) missing += (missing.empty() ? "" : ", ") + std::string(want);
    }
    return missing;
}

}  // namespace

Result<V2Plan> detectV2(const DetectContext& ctx) {
    auto own = std::find_if(ctx.own.begin(), ctx.own.end(),
                            [](const OwnCgroup& c) { return c.list.empty(); });
    if (own == ctx.own.end()) {
        return makeError(ErrorKind::kSandboxUnavailable,
                         "no cgroup2 entry ('0::/path') in " + ctx.options.procSelfCgroup);
    }
    const std::string& root = ctx.options.mountRoot;
    std::string mount = findV2Mount(root);
    if (mount.empty()) {
        return makeError(ErrorKind::kSandboxUnavailable,
                         "no cgroup2 hierarchy at " + root + " or " + join(root, "unified"));
    }
    Result<std::string> dir = pathUnderMount(ctx, mount, own->path);
    if (!dir.ok()) return dir.error();
    std::string file = join(dir.value(), "cgroup.controllers");
    Result<std::string> text = readFile(file);
    if (!text.ok()) return text.error();
    std::string missing = missingControllers(text.value());
    if (!missing.empty()) {
        return makeError(
            ErrorKind::kSandboxUnavailable,
            file + " lacks " + missing + "; delegate cpu, memory and pids to pyexecd's cgroup");
    }
    return V2Plan{dir.value(), fsKind(dir.value()) == FsKind::kOther};
}

Result<std::unique_ptr<CgroupManager>> setupV2(const V2Plan& plan) {
    auto m = std::make_unique<CgroupV2Manager>(plan);
    Status s = m->prepare();
    if (!s.ok()) return s.error();
    log::info("cgroups: v2 at " + plan.dir);
    return std::unique_ptr<CgroupManager>(std::move(m));
}

}  // namespace pyexec::sandbox::cg
