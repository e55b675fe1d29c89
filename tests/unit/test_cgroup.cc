// Unit tests of src/sandbox/cgroup*: the text parsers; the v2 and v1 backends
// against fake cgroup trees in a temporary folder (which files they write,
// with what, and what they remove); and the backend of this host for real
// (root only): OOM, cpu quota and accounting, pids limit, killAll of a
// setsid'd grandchild, nothing left afterwards.
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_impl.h"

#include <CppUTest/TestHarness.h>

using pyexec::ErrorKind;
using namespace pyexec::sandbox;
namespace cg = pyexec::sandbox::cg;

namespace {

constexpr pid_t kNoSuchPid = 99999999;  // above PID_MAX_LIMIT: killing it is harmless

std::string makeTempDir() {
    char tmpl[] = "/tmp/pyexec-cgtest-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return {};
    char real[PATH_MAX];
    return ::realpath(tmpl, real) != nullptr ? std::string(real) : std::string(tmpl);
}

int removeEntry(const char* path, const struct stat*, int, FTW*) {
    return ::remove(path);
}
void removeTree(const std::string& dir) {
    if (!dir.empty()) ::nftw(dir.c_str(), removeEntry, 16, FTW_DEPTH | FTW_PHYS);
}

void mkdirs(const std::string& dir) {
    for (size_t i = 1; i <= dir.size(); ++i) {
        if (i == dir.size() || dir[i] == '/') ::mkdir(dir.substr(0, i).c_str(), 0755);
    }
}

void put(const std::string& path, const std::string& content) {
    mkdirs(path.substr(0, path.rfind('/')));
    CHECK_TEXT(cg::writeFile(path, content, true).ok(), path.c_str());
}

std::string get(const std::string& path) {
    auto r = cg::readFile(path);
    return r.ok() ? r.value() : "<missing>";
}

bool exists(const std::string& path) {
    return ::access(path.c_str(), F_OK) == 0;
}

#define STR_EQ(expected, actual) \
    STRCMP_EQUAL(std::string(expected).c_str(), std::string(actual).c_str())
#define CHECK_OK(status)                                                \
    do {                                                                \
        auto s_ = (status);                                             \
        CHECK_TEXT(s_.ok(), s_.ok() ? "" : s_.error().message.c_str()); \
    } while (0)
#define CHECK_CONTAINS(needle, hay) \
    CHECK_TEXT(std::string(hay).find(needle) != std::string::npos, std::string(hay).c_str())

std::unique_ptr<CgroupManager> mustCreate(const CgroupOptions& opt) {
    auto r = CgroupManager::create(opt);
    if (!r.ok()) FAIL(r.error().message.c_str());
    return std::move(r).value();
}

std::unique_ptr<RunCgroup> mustRun(CgroupManager& m, const char* name, CgroupLimits limits = {}) {
    auto r = m.createRun(name, limits);
    if (!r.ok()) FAIL(r.error().message.c_str());
    return std::move(r).value();
}

std::vector<std::string> runDirs(const RunCgroup& run) {
    return dynamic_cast<const cg::RunCgroupBase&>(run).dirs();
}

}  // namespace

// ---- parsers -----------------------------------------------------------------

TEST_GROUP(CgroupParse){};

TEST(CgroupParse, ProcSelfCgroupHybrid) {
    auto r =
        cg::parseProcSelfCgroup("9:name=systemd:/\n4:memory:/a:b\n2:cpu,cpuacct:/\n0::/\n", "x");
    CHECK_TRUE(r.ok());
    LONGS_EQUAL(4, r.value().size());
    STR_EQ("/a:b", r.value()[1].path);
    STR_EQ("cpu,cpuacct", r.value()[2].list);
    LONGS_EQUAL(2, r.value()[2].controllers.size());
    STR_EQ("", r.value()[3].list);
}

TEST(CgroupParse, ProcSelfCgroupGarbage) {
    auto r = cg::parseProcSelfCgroup("hello world\n", "/fake/cgroup");
    CHECK_FALSE(r.ok());
    CHECK_CONTAINS("/fake/cgroup", r.error().message);
    CHECK_CONTAINS("hello world", r.error().message);
    CHECK_FALSE(cg::parseProcSelfCgroup("", "x").ok());
}

TEST(CgroupParse, KeyedValuesPidsAndMountinfo) {
    CHECK_TRUE(cg::keyedValue("max 3\noom 1\noom_kill 2\n", "oom_kill") == 2u);
    CHECK_FALSE(cg::keyedValue("oom 1\n", "oom_kill").has_value());
    CHECK_FALSE(cg::parseU64("12x").has_value());
    LONGS_EQUAL(2, cg::parsePids("12\n34\n\n").size());
    auto m = cg::parseMountinfo(
        "41 31 0:38 /a\\040b /sys/fs/cgroup/x\\040y rw shared:1 - cgroup cgroup rw,cpu,cpuacct\n");
    LONGS_EQUAL(1, m.size());
    STR_EQ("/a b", m[0].root);
    STR_EQ("/sys/fs/cgroup/x y", m[0].mountPoint);
    STR_EQ("cgroup", m[0].fsType);
    LONGS_EQUAL(3, m[0].superOptions.size());
}

// ---- v2 on a fake tree -------------------------------------------------------

TEST_GROUP(CgroupFakeV2) {
    std::string tmp, root, p;
    CgroupOptions opt;
    void setup() override {
        pyexec::log::setQuiet(true);
        tmp = makeTempDir();
        root = tmp + "/cg";
        p = root + "/svc/pyexecd.service";
        put(tmp + "/proc/self/cgroup", "0::/svc/pyexecd.service\n");
        put(root + "/cgroup.controllers", "cpuset cpu io memory pids\n");
        put(p + "/cgroup.controllers", "cpu io memory pids\n");
        put(p + "/cgroup.procs", "101\n202\n");
        opt.procSelfCgroup = tmp + "/proc/self/cgroup";
        opt.mountRoot = root;
    }
    void teardown() override {
        removeTree(tmp);
        pyexec::log::setQuiet(false);
    }
    std::string run(const char* name, const char* file) {
        return p + "/runs/run-" + name + "/" + file;
    }
};

TEST(CgroupFakeV2, CreateMovesProcessesAndEnablesControllers) {
    auto m = mustCreate(opt);
    STR_EQ("v2", m->backendName());
    STR_EQ("101\n202\n", get(p + "/daemon/cgroup.procs"));
    STR_EQ("+cpu +memory +pids +io", get(p + "/cgroup.subtree_control"));
    STR_EQ("+cpu +memory +pids +io", get(p + "/runs/cgroup.subtree_control"));
    CHECK_TRUE(m->ioControl());
}

TEST(CgroupFakeV2, IoIsOptional) {
    put(p + "/cgroup.controllers", "cpu memory pids\n");
    auto m = mustCreate(opt);
    STR_EQ("+cpu +memory +pids", get(p + "/runs/cgroup.subtree_control"));
    CHECK_FALSE(m->ioControl());
    CgroupLimits limits;
    limits.io = IoLimits{{"254:0"}, 1000, 0, 30, 40};
    auto r = mustRun(*m, "n", limits);
    STR_EQ("<missing>", get(run("n", "io.max")));
}

TEST(CgroupFakeV2, IoMaxPerDevice) {
    auto m = mustCreate(opt);
    CgroupLimits limits;
    limits.io = IoLimits{{"8:0", "254:0"}, 1000, 0, 30, 40};
    auto r = mustRun(*m, "io", limits);
    // One write(2) per device: the fake file keeps the last one.
    STR_EQ("254:0 rbps=1000 wbps=max riops=30 wiops=40", get(run("io", "io.max")));
}

TEST(CgroupFakeV2, CreateRunWritesLimits) {
    auto m = mustCreate(opt);
    auto r = mustRun(*m, "7");
    STR_EQ("50000 100000", get(run("7", "cpu.max")));
    STR_EQ("268435456", get(run("7", "memory.max")));
    STR_EQ("0", get(run("7", "memory.swap.max")));
    STR_EQ("1", get(run("7", "memory.oom.group")));
    STR_EQ("50", get(run("7", "pids.max")));
    struct stat a {}, b {};
    CHECK_TRUE(r->dirFd() >= 0);
    CHECK_EQUAL(0, ::fstat(r->dirFd(), &a));
    CHECK_EQUAL(0, ::stat((p + "/runs/run-7").c_str(), &b));
    CHECK_TRUE(a.st_ino == b.st_ino);
    // The warm program moves itself in through cgroup.procs.
    std::vector<int> joins = r->joinFds();
    LONGS_EQUAL(1, joins.size());
    CHECK_EQUAL(1, ::pwrite(joins[0], "0", 1, 0));
    STR_EQ("0", get(run("7", "cgroup.procs")));
    put(run("7", "cgroup.procs"), "");
}

TEST(CgroupFakeV2, CustomLimits) {
    auto m = mustCreate(opt);
    auto r = mustRun(*m, "c", CgroupLimits{25000, 50000, 1u << 20, 7, {}});
    STR_EQ("25000 50000", get(run("c", "cpu.max")));
    STR_EQ("1048576", get(run("c", "memory.max")));
    STR_EQ("7", get(run("c", "pids.max")));
}

TEST(CgroupFakeV2, UsageParsing) {
    auto m = mustCreate(opt);
    auto r = mustRun(*m, "u");
    put(run("u", "cpu.stat"), "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n");
    put(run("u", "memory.peak"), "1048576\n");
    put(run("u", "memory.events"), "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n");
    CgroupUsage u = r->usage();
    DOUBLES_EQUAL(123.456, u.cpuMs, 1e-9);
    CHECK_TRUE(u.memoryPeakBytes == 1048576u);
    CHECK_TRUE(u.oomKilled);
}

TEST(CgroupFakeV2, UsageWithoutPeakOrOom) {
    auto m = mustCreate(opt);
    auto r = mustRun(*m, "u");
    put(run("u", "memory.events"), "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    CgroupUsage u = r->usage();
    DOUBLES_EQUAL(0, u.cpuMs, 0);
    CHECK_FALSE(u.memoryPeakBytes.has_value());
    CHECK_FALSE(u.oomKilled);
    put(run("u", "memory.events"), "oom_kill 0\noom_group_kill 2\n");
    CHECK_TRUE(r->usage().oomKilled);
}

TEST(CgroupFakeV2, KillAllUsesCgroupKillAndDestructionRemoves) {
    auto m = mustCreate(opt);
    auto r = mustRun(*m, "k");
    put(run("k", "cgroup.kill"), "");
    CHECK_OK(r->killAll());
    STR_EQ("1", get(run("k", "cgroup.kill")));
    std::vector<std::string> dirs = runDirs(*r);
    LONGS_EQUAL(1, dirs.size());
    STR_EQ(p + "/runs/run-k", dirs[0]);
    r.reset();
    CHECK_FALSE(exists(dirs[0]));
}

TEST(CgroupFakeV2, KillAllWithoutCgroupKillEndsOnEmptyProcs) {
    auto m = mustCreate(opt);
    auto r = mustRun(*m, "k");
    CHECK_OK(r->killAll());  // no cgroup.procs at all
    put(run("k", "cgroup.procs"), "");
    CHECK_OK(r->killAll());
    CHECK_FALSE(exists(run("k", "cgroup.kill")));
}

TEST(CgroupFakeV2, StaleRunsRemovedAtStartup) {
    put(p + "/runs/run-old/cpu.max", "max 100000");
    put(p + "/runs/run-old/cgroup.procs", "");
    auto m = mustCreate(opt);
    CHECK_FALSE(exists(p + "/runs/run-old"));
    CHECK_TRUE(exists(p + "/runs"));
}

TEST(CgroupFakeV2, RemoveSubtreeKeepsDaemon) {
    auto m = mustCreate(opt);
    auto r = mustRun(*m, "live");
    m->removeSubtree();
    CHECK_FALSE(exists(p + "/runs"));
    CHECK_TRUE(exists(p + "/daemon"));
    r.reset();  // already gone: must not fail or hang
}

TEST(CgroupFakeV2, InvalidRunNames) {
    auto m = mustCreate(opt);
    for (const char* bad : {"", ".", "..", "a/b", "../x"}) {
        auto r = m->createRun(bad, {});
        CHECK_FALSE(r.ok());
        CHECK_TRUE(r.error().kind == ErrorKind::kInternal);
    }
}

TEST(CgroupFakeV2, NoControllers) {
    put(p + "/cgroup.controllers", "");
    opt.forceBackend = "v2";
    auto r = CgroupManager::create(opt);
    CHECK_FALSE(r.ok());
    CHECK_TRUE(r.error().kind == ErrorKind::kSandboxUnavailable);
    CHECK_CONTAINS(p + "/cgroup.controllers lacks cpu, memory, pids", r.error().message);
    opt.forceBackend = "";
    auto a = CgroupManager::create(opt);
    CHECK_FALSE(a.ok());
    CHECK_CONTAINS("v2: " + p + "/cgroup.controllers lacks cpu, memory, pids", a.error().message);
    CHECK_CONTAINS("v1: missing v1 controllers: memory (not in ", a.error().message);
    CHECK_FALSE(exists(p + "/daemon"));
}

TEST(CgroupFakeV2, MissingPids) {
    put(p + "/cgroup.controllers", "cpu io memory\n");
    auto r = CgroupManager::create(opt);
    CHECK_FALSE(r.ok());
    CHECK_CONTAINS("lacks pids;", r.error().message);
}

TEST(CgroupFakeV2, UnreadableProcSelfCgroup) {
    put(opt.procSelfCgroup, "garbage\n");
    auto r = CgroupManager::create(opt);
    CHECK_FALSE(r.ok());
    CHECK_CONTAINS(opt.procSelfCgroup + ": line 'garbage'", r.error().message);
    opt.procSelfCgroup = tmp + "/nope";
    auto m = CgroupManager::create(opt);
    CHECK_FALSE(m.ok());
    CHECK_CONTAINS(tmp + "/nope: No such file or directory", m.error().message);
    CHECK_EQUAL(ENOENT, m.error().err);
}

TEST(CgroupFakeV2, NoCgroup2EntryOrHierarchy) {
    opt.forceBackend = "v2";
    put(opt.procSelfCgroup, "1:memory:/\n");
    auto r = CgroupManager::create(opt);
    CHECK_FALSE(r.ok());
    CHECK_CONTAINS("no cgroup2 entry", r.error().message);
    put(opt.procSelfCgroup, "0::/svc/pyexecd.service\n");
    ::unlink((root + "/cgroup.controllers").c_str());
    auto n = CgroupManager::create(opt);
    CHECK_FALSE(n.ok());
    CHECK_CONTAINS("no cgroup2 hierarchy at " + root + " or " + root + "/unified",
                   n.error().message);
}

TEST(CgroupFakeV2, BadForceBackend) {
    opt.forceBackend = "v3";
    auto r = CgroupManager::create(opt);
    CHECK_FALSE(r.ok());
    CHECK_TRUE(r.error().kind == ErrorKind::kConfig);
}

TEST(CgroupFakeV2, HybridUnifiedFolder) {
    std::string q = root + "/unified/svc";
    put(root + "/unified/cgroup.controllers", "cpu memory pids\n");
    put(q + "/cgroup.controllers", "cpu memory pids\n");
    put(q + "/cgroup.procs", "5\n");
    ::unlink((root + "/cgroup.controllers").c_str());
    put(opt.procSelfCgroup, "1:memory:/\n0::/svc\n");
    auto m = mustCreate(opt);
    STR_EQ("5\n", get(q + "/daemon/cgroup.procs"));
    CHECK_TRUE(exists(q + "/runs"));
}

TEST(CgroupFakeV2, MountRootStripped) {
    // A container without a cgroup namespace: its cgroup is the mount's root.
    put(tmp + "/proc/self/mountinfo", "41 31 0:38 /svc " + root + " rw - cgroup2 cgroup2 rw\n");
    put(root + "/pyexecd.service/cgroup.controllers", "cpu memory pids\n");
    put(root + "/pyexecd.service/cgroup.procs", "9\n");
    auto m = mustCreate(opt);
    STR_EQ("9\n", get(root + "/pyexecd.service/daemon/cgroup.procs"));
    put(opt.procSelfCgroup, "0::/elsewhere\n");
    auto r = CgroupManager::create(opt);
    CHECK_FALSE(r.ok());
    CHECK_CONTAINS("outside the hierarchy mounted at " + root, r.error().message);
}

// ---- v1 on a fake tree -------------------------------------------------------

TEST_GROUP(CgroupFakeV1) {
    std::string tmp, root;
    CgroupOptions opt;
    void setup() override {
        pyexec::log::setQuiet(true);
        tmp = makeTempDir();
        root = tmp + "/cg";
        opt.procSelfCgroup = tmp + "/proc/self/cgroup";
        opt.mountRoot = root;
        opt.self = 4242;
    }
    void teardown() override {
        removeTree(tmp);
        pyexec::log::setQuiet(false);
    }
    // cpu and cpuacct in one hierarchy "cpu,cpuacct", or in two.
    void build(bool coMounted, bool blkio = false) {
        std::vector<std::string> dirs = {"memory", "pids"};
        if (coMounted) {
            dirs.push_back("cpu,cpuacct");
        } else {
            dirs.insert(dirs.end(), {"cpu", "cpuacct"});
        }
        if (blkio) dirs.push_back("blkio");
        std::string self;
        for (size_t i = 0; i < dirs.size(); ++i) {
            put(root + "/" + dirs[i] + "/cgroup.procs", "");
            put(root + "/" + dirs[i] + "/a/cgroup.procs", "");
            self += std::to_string(i + 1) + ":" + dirs[i] + ":/a\n";
        }
        put(opt.procSelfCgroup, self + "9:name=systemd:/\n0::/\n");
    }
    std::string run(const char* dir, const char* name, const char* file) {
        return root + "/" + dir + "/a/pyexec-4242/run-" + name + "/" + file;
    }
};

TEST(CgroupFakeV1, DetectsV1AndCreatesBases) {
    build(true);
    auto m = mustCreate(opt);
    STR_EQ("v1", m->backendName());
    auto dirs = dynamic_cast<cg::CgroupManagerBase&>(*m).subtreeDirs();
    LONGS_EQUAL(3, dirs.size());
    STR_EQ(root + "/memory/a/pyexec-4242", dirs[0]);
    STR_EQ(root + "/pids/a/pyexec-4242", dirs[1]);
    STR_EQ(root + "/cpu,cpuacct/a/pyexec-4242", dirs[2]);
    for (const auto& d : dirs) CHECK_TRUE(exists(d));
    m->removeSubtree();
    for (const auto& d : dirs) CHECK_FALSE(exists(d));
}

TEST(CgroupFakeV1, CreateRunWritesLimitsAndAddsEverywhere) {
    build(true);
    auto m = mustCreate(opt);
    auto r = mustRun(*m, "1");
    LONGS_EQUAL(-1, r->dirFd());
    STR_EQ("100000", get(run("cpu,cpuacct", "1", "cpu.cfs_period_us")));
    STR_EQ("50000", get(run("cpu,cpuacct", "1", "cpu.cfs_quota_us")));
    STR_EQ("268435456", get(run("memory", "1", "memory.limit_in_bytes")));
    STR_EQ("268435456", get(run("memory", "1", "memory.memsw.limit_in_bytes")));
    STR_EQ("0", get(run("memory", "1", "memory.swappiness")));
    STR_EQ("50", get(run("pids", "1", "pids.max")));
    // Each hierarchy's `tasks`, memory first, open for a process to move itself in.
    std::vector<int> joins = r->joinFds();
    LONGS_EQUAL(3, joins.size());
    for (int fd : joins) CHECK_EQUAL(1, ::pwrite(fd, "0", 1, 0));
    for (const char* d : {"memory", "pids", "cpu,cpuacct"}) STR_EQ("0", get(run(d, "1", "tasks")));
    std::vector<std::string> dirs = runDirs(*r);
    LONGS_EQUAL(3, dirs.size());
    CHECK_TRUE(dirs[0].find("/memory/") != std::string::npos);
    r.reset();
    for (const auto& d : dirs) CHECK_FALSE(exists(d));
    m->removeSubtree();
}

TEST(CgroupFakeV1, WithoutBlkioThereIsNoIoControl) {
    build(true);
    auto m = mustCreate(opt);
    CHECK_FALSE(m->ioControl());
    CgroupLimits limits;
    limits.io = IoLimits{{"254:0"}, 1000, 2000, 30, 40};
    auto r = mustRun(*m, "n", limits);  // limits it cannot apply are not an error
    LONGS_EQUAL(3, runDirs(*r).size());
}

TEST(CgroupFakeV1, BlkioThrottlesEachDevice) {
    build(true, true);
    auto m = mustCreate(opt);
    CHECK_TRUE(m->ioControl());
    CgroupLimits limits;
    limits.io = IoLimits{{"254:0", "8:16"}, 1000, 0, 30, 40};
    auto r = mustRun(*m, "io", limits);
    // One write(2) per device: the fake file keeps the last one.
    STR_EQ("8:16 1000", get(run("blkio", "io", "blkio.throttle.read_bps_device")));
    STR_EQ("<missing>", get(run("blkio", "io", "blkio.throttle.write_bps_device")));  // 0: no limit
    STR_EQ("8:16 30", get(run("blkio", "io", "blkio.throttle.read_iops_device")));
    STR_EQ("8:16 40", get(run("blkio", "io", "blkio.throttle.write_iops_device")));
    LONGS_EQUAL(4, r->joinFds().size());  // blkio's tasks too
    r.reset();
    m->removeSubtree();
    CHECK_FALSE(exists(root + "/blkio/a/pyexec-4242"));
}

TEST(CgroupFakeV1, UsageCoMounted) {
    build(true);
    auto m = mustCreate(opt);
    auto r = mustRun(*m, "u");
    put(run("cpu,cpuacct", "u", "cpuacct.usage"), "300000000\n");
    put(run("memory", "u", "memory.max_usage_in_bytes"), "5000\n");
    put(run("memory", "u", "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    CgroupUsage u = r->usage();
    DOUBLES_EQUAL(300.0, u.cpuMs, 1e-9);
    CHECK_TRUE(u.memoryPeakBytes == 5000u);
    CHECK_TRUE(u.oomKilled);
    r.reset();
    m->removeSubtree();
}

TEST(CgroupFakeV1, SeparateCpuacctHierarchy) {
    build(false);
    auto m = mustCreate(opt);
    LONGS_EQUAL(4, dynamic_cast<cg::CgroupManagerBase&>(*m).subtreeDirs().size());
    auto r = mustRun(*m, "s");
    STR_EQ("50000", get(run("cpu", "s", "cpu.cfs_quota_us")));
    put(run("cpuacct", "s", "cpuacct.usage"), "1500000");
    put(run("memory", "s", "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    CgroupUsage u = r->usage();
    DOUBLES_EQUAL(1.5, u.cpuMs, 1e-9);
    CHECK_FALSE(u.memoryPeakBytes.has_value());
    CHECK_FALSE(u.oomKilled);
    r.reset();
    m->removeSubtree();
    CHECK_FALSE(exists(root + "/cpuacct/a/pyexec-4242"));
}

TEST(CgroupFakeV1, MissingPidsHierarchy) {
    build(true);
    removeTree(root + "/pids");
    opt.forceBackend = "v1";
    auto r = CgroupManager::create(opt);
    CHECK_FALSE(r.ok());
    CHECK_CONTAINS("missing v1 controllers: pids (no v1 hierarchy under " + root + ")",
                   r.error().message);
    CHECK_FALSE(exists(root + "/memory/a/pyexec-4242"));
    put(opt.procSelfCgroup, "1:memory:/a\n2:cpu,cpuacct:/a\n");
    auto n = CgroupManager::create(opt);
    CHECK_FALSE(n.ok());
    CHECK_CONTAINS("pids (not in " + opt.procSelfCgroup + ")", n.error().message);
}

TEST(CgroupFakeV1, StaleRunsRemovedAtStartup) {
    build(true);
    put(root + "/memory/a/pyexec-4242/run-old/cgroup.procs", "");
    put(root + "/pids/a/pyexec-4242/run-old/cgroup.procs", "");
    auto m = mustCreate(opt);
    CHECK_FALSE(exists(root + "/memory/a/pyexec-4242/run-old"));
    CHECK_FALSE(exists(root + "/pids/a/pyexec-4242/run-old"));
    m->removeSubtree();
}

// ---- this host's cgroups, for real ------------------------------------------------

namespace {

struct Held {
    pid_t pid = -1;
    int release = -1;
};

// Forks a child that waits until released, moves itself into a cgroup
// through joins (RunCgroup::joinFds, as the sandbox's processes do), then
// runs body(arg) and exits 0 (3 if it could not move in). If the parent
// goes away without releasing it, the child exits 1 unharmed.
Held spawnHeld(void (*body)(int), int arg, std::vector<int> joins = {}) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return {};
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(p[1]);
        char c;
        ssize_t n;
        while ((n = ::read(p[0], &c, 1)) < 0 && errno == EINTR) {
        }
        if (n != 1) ::_exit(1);
        for (int fd : joins)
            if (::write(fd, "0", 1) != 1) ::_exit(3);
        body(arg);
        ::_exit(0);
    }
    ::close(p[0]);
    return {pid, p[1]};
}

void release(Held& h) {
    ssize_t n = ::write(h.release, "x", 1);
    (void)n;
    ::close(h.release);
    h.release = -1;
}

int waitFor(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// Killed orphans leave the cgroup a moment before they become zombies.
void reapOrphans() {
    for (int i = 0; i < 200; ++i) {
        pid_t r = ::waitpid(-1, nullptr, WNOHANG);
        if (r < 0) return;  // ECHILD: none left
        if (r == 0) ::usleep(5000);
    }
}

double monoMs() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

void touch300MB(int) {
    size_t size = 300u << 20;
    void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) ::_exit(3);
    for (size_t i = 0; i < size; i += 4096) static_cast<volatile char*>(mem)[i] = 1;
}

void burn300ms(int) {
    timespec ts{};
    do {
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    } while (ts.tv_sec == 0 && ts.tv_nsec < 300000000L);
}

void fork100(int) {
    for (int i = 0; i < 100; ++i) {
        pid_t pid = ::fork();
        if (pid == 0) {
            ::pause();
            ::_exit(0);
        }
        if (pid < 0) ::_exit(errno == EAGAIN ? 42 : 43);
    }
}

// child -> setsid'd grandchild -> great-grandchild, which reports its pid on fd.
void doubleFork(int fd) {
    pid_t pid = ::fork();
    if (pid == 0) {
        ::setsid();
        if (::fork() == 0) {
            pid_t me = ::getpid();
            ssize_t n = ::write(fd, &me, sizeof me);
            (void)n;
            ::pause();
        }
        ::_exit(0);
    }
    waitFor(pid);
}

}  // namespace

TEST_GROUP(CgroupReal) {
    std::unique_ptr<CgroupManager> m;
    std::vector<std::string> subtree;
    void setup() override {
        pyexec::log::setQuiet(true);
        if (::geteuid() != 0) {
            std::fprintf(stderr, "\nSKIP %s: not root\n",
                         UtestShell::getCurrent()->getName().asCharString());
            return;
        }
        auto r = CgroupManager::create(CgroupOptions{});
        if (!r.ok()) {
            std::fprintf(stderr, "\nSKIP %s: %s\n",
                         UtestShell::getCurrent()->getName().asCharString(),
                         r.error().message.c_str());
            return;
        }
        m = std::move(r).value();
        subtree = dynamic_cast<cg::CgroupManagerBase&>(*m).subtreeDirs();
        // Orphans of the runs (setsid'd grandchildren) come back to us to reap.
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    }
    void teardown() override {
        if (m) {
            m->removeSubtree();
            m.reset();
            if (subtree.size() > 1) {  // v1: all ours; v2: runs/ only
                for (const auto& d : subtree) CHECK_TEXT(!exists(d), d.c_str());
            }
            reapOrphans();
            ::prctl(PR_SET_CHILD_SUBREAPER, 0);
        }
        pyexec::log::setQuiet(false);
    }
    // Runs body in a fresh run cgroup; returns its wait status.
    int runHeld(RunCgroup & run, void (*body)(int), int arg = 0) {
        Held h = spawnHeld(body, arg, run.joinFds());
        CHECK_TRUE(h.pid > 0);
        release(h);
        return waitFor(h.pid);
    }
    void checkRemoved(std::unique_ptr<RunCgroup> & run) {
        std::vector<std::string> dirs = runDirs(*run);
        CHECK_TRUE(!dirs.empty());
        run.reset();
        for (const auto& d : dirs) CHECK_TEXT(!exists(d), d.c_str());
    }
};

TEST(CgroupReal, MemoryLimitOomKills) {
    if (!m) return;
    auto run = mustRun(*m, "oom");
    int status = runHeld(*run, touch300MB);
    CHECK_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CgroupUsage u = run->usage();
    CHECK_TRUE(u.oomKilled);
    CHECK_TRUE(u.memoryPeakBytes.has_value());
    CHECK_TRUE(*u.memoryPeakBytes > (200u << 20) &&
               *u.memoryPeakBytes <= (256u << 20) + (1u << 20));
    checkRemoved(run);
}

TEST(CgroupReal, CpuQuotaAndAccounting) {
    if (!m) return;
    auto run = mustRun(*m, "cpu");
    double start = monoMs();
    int status = runHeld(*run, burn300ms);
    double wall = monoMs() - start;
    CHECK_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CgroupUsage u = run->usage();
    CHECK_TEXT(u.cpuMs >= 200 && u.cpuMs < 1000, std::to_string(u.cpuMs).c_str());
    CHECK_TEXT(wall >= 400, std::to_string(wall).c_str());  // 0.5 CPU: ~600 ms for 300 ms
    CHECK_FALSE(u.oomKilled);
    checkRemoved(run);
}

TEST(CgroupReal, PidsLimitStopsForkBomb) {
    if (!m) return;
    auto run = mustRun(*m, "pids");
    int status = runHeld(*run, fork100);
    CHECK_TRUE(WIFEXITED(status));
    LONGS_EQUAL(42, WEXITSTATUS(status));
    CHECK_OK(run->killAll());
    checkRemoved(run);
}

TEST(CgroupReal, KillAllReachesSetsidGrandchild) {
    if (!m) return;
    auto run = mustRun(*m, "kill");
    int p[2];
    CHECK_EQUAL(0, ::pipe2(p, O_CLOEXEC));
    Held h = spawnHeld(doubleFork, p[1], run->joinFds());
    ::close(p[1]);
    release(h);
    pid_t g = -1;
    ssize_t n = ::read(p[0], &g, sizeof g);
    ::close(p[0]);
    LONGS_EQUAL(sizeof g, n);
    waitFor(h.pid);
    CHECK_EQUAL(0, ::kill(g, 0));
    CHECK_CONTAINS("/run-kill", get("/proc/" + std::to_string(g) + "/cgroup"));
    CHECK_OK(run->killAll());
    int status = waitFor(g);  // we are its subreaper
    CHECK_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    checkRemoved(run);
}

// v1: the launcher's init moves itself in (one write of "0" per hierarchy's
// `tasks`), which is what makes a v1 set-up cost tenths of a millisecond.
TEST(CgroupReal, AProcessMovesItselfInThroughJoinFds) {
    if (!m) return;
    auto run = mustRun(*m, "join");
    std::vector<int> joins = run->joinFds();
    // v1: each hierarchy's tasks; v2: cgroup.procs (the init is born inside
    // with clone3, the warm program moves itself in).
    CHECK_EQUAL(run->dirFd() >= 0 ? 1u : runDirs(*run).size(), joins.size());
    int go[2], done[2];
    CHECK_EQUAL(0, ::pipe2(go, O_CLOEXEC));
    CHECK_EQUAL(0, ::pipe2(done, O_CLOEXEC));
    pid_t pid = ::fork();
    if (pid == 0) {
        int ok = 1;
        for (int fd : joins) ok &= ::write(fd, "0", 1) == 1;
        char c = static_cast<char>(ok);
        ssize_t n = ::write(done[1], &c, 1);
        n = ::read(go[0], &c, 1);  // stay until the parent has looked
        ::_exit(n == 1 ? 0 : 1);
    }
    char ok = 0;
    CHECK_EQUAL(1, ::read(done[0], &ok, 1));
    CHECK_EQUAL(1, ok);
    std::string cg = get("/proc/" + std::to_string(pid) + "/cgroup");
    for (const char* ctrl : run->dirFd() >= 0 ? std::vector<const char*>{""} : std::vector<const char*>{"memory", "pids", "cpu"}) {
        bool found = false;
        std::istringstream lines(cg);
        for (std::string line; std::getline(lines, line);) {
            size_t a = line.find(':'), b = line.find(':', a + 1);
            std::string list = line.substr(a + 1, b - a - 1);
            if (("," + list + ",").find(std::string(",") + ctrl + ",") == std::string::npos) continue;
            found = line.find("/run-join") != std::string::npos;
        }
        CHECK_TEXT(found, (std::string(ctrl) + " not joined: " + cg).c_str());
    }
    CHECK_EQUAL(1, ::write(go[1], "x", 1));
    CHECK_TRUE(WIFEXITED(waitFor(pid)));
    for (int fd : {go[0], go[1], done[0], done[1]}) ::close(fd);
    checkRemoved(run);
}

// A missing swap limit file is fine only where the host has no swap (issue 9:
// it used to be taken as "no swap" everywhere, failing open).
TEST_GROUP(CgroupSwap){};

TEST(CgroupSwap, NoSwapOnTheHostIsFine) {
    CHECK_OK(cg::requireNoSwap("x/memory.swap.max", "MemTotal:  100 kB\nSwapTotal:       0 kB\nSwapFree: 0 kB\n"));
}

TEST(CgroupSwap, SwapWithoutAccountingFailsClosed) {
    auto s = cg::requireNoSwap("x/memory.swap.max", "MemTotal: 100 kB\nSwapTotal:  2097148 kB\n");
    CHECK_FALSE(s.ok());
    CHECK_CONTAINS("x/memory.swap.max is missing", s.error().message);
    CHECK_CONTAINS("swapaccount=1", s.error().message);
    CHECK_EQUAL(static_cast<int>(pyexec::ErrorKind::kSandboxUnavailable), static_cast<int>(s.error().kind));
}

TEST(CgroupSwap, AnUnreadableAnswerFailsClosedToo) {
    CHECK_FALSE(cg::requireNoSwap("f", "MemTotal: 100 kB\n").ok());
}
