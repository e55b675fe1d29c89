// The launcher, for real: a sandbox is cloned into a cgroup v2 directory with
// clone3(CLONE_INTO_CGROUP) (the production path, tried here on this host's
// controller-less cgroup2 mount), and a failing set-up step comes back as a
// report naming the step, with nothing run.
#include <CppUTest/TestHarness.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "sandbox/launcher.h"
#include "sandbox/seccomp.h"

using namespace pyexec;
using namespace pyexec::sandbox;

namespace {

// A RunCgroup that is a bare cgroup2 directory: enough for CLONE_INTO_CGROUP.
class DirCgroup : public RunCgroup {
public:
    explicit DirCgroup(int fd) : fd_(fd) {}
    int dirFd() const override { return fd_; }
    std::vector<int> joinFds() const override { return {}; }
    Status killAll() override { return okStatus(); }
    CgroupUsage usage() const override { return {}; }

private:
    int fd_;
};

// Where the unified hierarchy is, and our own v2 cgroup in it ("0::/path").
std::string ownV2Dir() {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("0::", 0) != 0) continue;
        for (const char* mount : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
            std::string probe = std::string(mount) + "/cgroup.procs";
            struct stat st{};
            if (::stat(probe.c_str(), &st) == 0 && ::access((std::string(mount) + "/cgroup.subtree_control").c_str(), F_OK) == 0) {
                return std::string(mount) + line.substr(3);
            }
        }
    }
    return "";
}

std::string readAll(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Sandbox {
    SeccompProgram profile;
    SandboxConfig config;
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    ChildIo io{devnull, devnull, devnull, devnull, devnull};
    char* argv[3] = {const_cast<char*>("/usr/bin/sleep"), const_cast<char*>("1"), nullptr};
    char* envp[1] = {nullptr};
    Sandbox() {
        auto p = SeccompProgram::loadFile("seccomp-profiles/python.json");
        CHECK_TEXT(p.ok(), "python.json must load");
        profile = std::move(p.value());
        config.seccomp = &profile;
        char dir[] = "/run/pyexec-launcher-XXXXXX";
        CHECK(::mkdtemp(dir) != nullptr);
        config.rootMountPoint = dir;
    }
    ~Sandbox() {
        ::rmdir(config.rootMountPoint.c_str());
        ::close(devnull);
    }
};

ChildReport waitReport(Launched& l) {
    pollfd p{l.report.get(), POLLIN, 0};
    ChildReport r{};
    for (int i = 0; i < 100 && ::read(l.report.get(), &r, sizeof r) != sizeof r; ++i) ::poll(&p, 1, 100);
    return r;
}

}  // namespace

TEST_GROUP(Launcher) {
    // A cgroup folder a test made: removed even when a check failed (a
    // failed CHECK leaves the test at once).
    std::string madeDir;
    void teardown() override {
        if (!madeDir.empty()) ::rmdir(madeDir.c_str());
    }
};

TEST(Launcher, ClonesIntoACgroupV2DirectoryWithClone3) {
    std::string own = ownV2Dir();
    if (own.empty() || ::geteuid() != 0) {
        std::printf("\nSKIP Launcher.ClonesIntoACgroupV2DirectoryWithClone3: no cgroup2 mount or not root\n");
        return;
    }
    std::string dir = own + (own.back() == '/' ? "" : "/") + "pyexec-launcher-test-" + std::to_string(::getpid());
    CHECK_TEXT(::mkdir(dir.c_str(), 0755) == 0, ("mkdir " + dir).c_str());
    madeDir = dir;
    int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dirFd >= 0);
    Sandbox s;
    DirCgroup cgroup(dirFd);
    auto launched = launch(s.config, cgroup, s.io, Program{s.argv, s.envp, nullptr}, 5);
    CHECK_TEXT(launched.ok(), launched.ok() ? "" : launched.error().message.c_str());
    // Seen from here, the init is in the directory from its first instruction.
    std::string cg = readAll("/proc/" + std::to_string(launched.value().initPid) + "/cgroup");
    std::string rel = dir.substr(dir.find("pyexec-launcher-test-"));
    CHECK_TEXT(cg.find(rel) != std::string::npos, cg.c_str());
    ChildReport r = waitReport(launched.value());
    CHECK_EQUAL(ChildReport::kReady, r.kind);  // every step done, the program forked
    r = waitReport(launched.value());
    CHECK_EQUAL(ChildReport::kExited, r.kind);
    CHECK(WIFEXITED(r.value) && WEXITSTATUS(r.value) == 0);
    ::waitpid(launched.value().initPid, nullptr, 0);
    ::close(dirFd);
    CHECK_EQUAL(0, ::rmdir(dir.c_str()));
    madeDir.clear();
}

TEST(Launcher, AFailedStepIsReportedAndNothingRuns) {
    Sandbox s;
    ::rmdir(s.config.rootMountPoint.c_str());  // the new root cannot be mounted
    DirCgroup cgroup(-1);
    auto launched = launch(s.config, cgroup, s.io, Program{s.argv, s.envp, nullptr}, 5);
    CHECK(launched.ok());
    ChildReport r = waitReport(launched.value());
    CHECK_EQUAL(ChildReport::kSetupFailed, r.kind);
    STRCMP_EQUAL("filesystem", stepName(static_cast<Step>(r.step)));
    CHECK_EQUAL(ENOENT, r.value);
    // The init gave up at once (exit 127) instead of forking the program
    // (which would have slept for a second and reported kExited).
    int status = 0;
    CHECK_EQUAL(launched.value().initPid, ::waitpid(launched.value().initPid, &status, 0));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127);
    ChildReport more{};
    CHECK(::read(launched.value().report.get(), &more, sizeof more) <= 0);
}
