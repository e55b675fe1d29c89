#include "sandbox/launcher.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "common/proc_title.h"
#include "sandbox/identity.h"
#include "sandbox/mounts.h"
#include "sandbox/seccomp.h"

namespace pyexec::sandbox {
namespace {

constexpr uint64_t kNamespaces = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
constexpr int kHighFd = 100;  // where fds are parked before being moved to 0–4

struct ChildContext {
    const SandboxConfig* config;
    const ChildIo* io;
    const Program* program;
    const Placement* placement;
    int cpuSeconds;
    int reportFd;
};

// Set-up timestamps of this init (a child-local copy of a global; written
// only by the init).
int64_t gStepEndNs[10];

void markStep(Step step) {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    gStepEndNs[static_cast<int>(step)] = ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void report(int fd, ChildReport::Kind kind, Step step, int value, int detail = 0) {
    ChildReport r{kind, static_cast<int32_t>(step), value, detail, {}};
    for (int i = 0; i < 10; ++i) r.stepEndNs[i] = gStepEndNs[i];
    ssize_t w = ::write(fd, &r, sizeof r);
    (void)w;  // the worker treats a missing report as a failed setup
}

[[noreturn]] void fail(const ChildContext& c, Step step, int err, int detail = 0) {
    report(c.reportFd, ChildReport::kSetupFailed, step, err, detail);
    ::_exit(127);
}

// Closes every descriptor inherited from the worker (its FastCGI socket
// among them) except those in keep[].
int closeAllExcept(int* keep, int n) {
    int m = 0;  // -1 entries (no such descriptor) drop out
    for (int i = 0; i < n; ++i)
        if (keep[i] >= 0) keep[m++] = keep[i];
    n = m;
    for (int i = 1; i < n; ++i)  // insertion sort: n is tiny and we may not allocate
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) std::swap(keep[j - 1], keep[j]);
    unsigned from = 0;
    for (int i = 0; i <= n; ++i) {
        unsigned to = (i < n) ? static_cast<unsigned>(keep[i]) : ~0U;
        if (to > from && ::syscall(SYS_close_range, from, to - 1, 0) != 0) return errno;
        if (i < n) from = to + 1;
    }
    return 0;
}

// The program process: moves its five fds into place, closes every other fd,
// and execs the interpreter. Runs with all restrictions already applied.
[[noreturn]] void execProgram(const ChildContext& parent) {
    // The report pipe moves out of 0–4 first, wherever it was, so that
    // placing the program's descriptors cannot clobber it.
    ChildContext c = parent;
    c.reportFd = ::fcntl(parent.reportFd, F_DUPFD_CLOEXEC, kHighFd);
    if (c.reportFd < 0) fail(parent, Step::kExec, errno, 30);
    const int src[5] = {c.io->stdinFd, c.io->stdoutFd, c.io->stderrFd, c.io->inputFd, c.io->resultFd};
    int parked[5];
    for (int i = 0; i < 5; ++i) {
        parked[i] = ::fcntl(src[i], F_DUPFD_CLOEXEC, kHighFd);
        if (parked[i] < 0) fail(c, Step::kExec, errno, i);
    }
    for (int i = 0; i < 5; ++i) {
        if (::dup2(parked[i], i) < 0) fail(c, Step::kExec, errno, 10 + i);
    }
    // Everything from 5 up but the report pipe goes: nothing of the worker
    // stays reachable.
    int keep[] = {0, 1, 2, 3, 4, c.reportFd};
    if (int err = closeAllExcept(keep, 6)) fail(c, Step::kExec, err, 20);
    if (c.program->inProcess != nullptr) {
        // No exec will reset these for a warm program: make it an ordinary
        // process (dumpable, as after an exec) and forget the one path of
        // pyexecd's it holds (the sandbox root's mount point).
        if (c.program->scrub != nullptr) std::memset(c.program->scrub, 0, c.program->scrubBytes);
        if (::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) fail(c, Step::kExec, errno, 21);
    }
    // 7. seccomp, last.
    if (int err = c.config->seccomp->apply()) fail(c, Step::kSeccomp, err);
    if (c.program->inProcess != nullptr) {
        ::close(c.reportFd);
        c.program->inProcess();
    }
    ::execve(c.program->argv[0], c.program->argv, c.program->envp);  // the report fd is close-on-exec
    _exit(127);  // the worker sees exit 127 and no output
}

// As pid 1 of the run's pid namespace: reap every orphan until the program
// itself exits, then report its status. Our exit tears down the namespace.
[[noreturn]] void superviseProgram(const ChildContext& c, pid_t program) {
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, __WALL);
        if (pid == program) {
            report(c.reportFd, ChildReport::kExited, Step::kExec, status);
            ::_exit(0);
        }
        if (pid < 0 && errno != EINTR) fail(c, Step::kFork, errno);
    }
}

// The idle init's SIGCHLD handler: the orphans of its program's children.
// (The program itself is not its child: it is the zygote's, or the worker's.)
void reapOrphans(int) {
    int saved = errno;
    while (::waitpid(-1, nullptr, WNOHANG | __WALL) > 0) {
    }
    errno = saved;
}

// An idle init: complete, it reports kReady and then only reaps the orphans
// of the program that enters its namespaces, until the worker kills it.
[[noreturn]] void waitForEntry(const ChildContext& c) {
    struct sigaction sa{};
    sa.sa_handler = reapOrphans;  // no SA_RESTART: poll returns, and waits again
    ::sigaction(SIGCHLD, &sa, nullptr);
    if (int err = c.config->seccomp->apply()) fail(c, Step::kSeccomp, err);
    markStep(Step::kSeccomp);
    report(c.reportFd, ChildReport::kReady, Step::kSeccomp, 0);
    for (;;) ::poll(nullptr, 0, -1);
}

// First thing in a process that sets itself up (the init, or the warm
// program): a session and process group of its own, every signal at its
// default and unblocked, whatever the cloning process had (the zygote blocks
// SIGCHLD for its signalfd, its interpreter has handlers), then idle
// priority. The session comes first: a pid namespace does not change the
// session or process group, and pyexecd's (shared with nginx under `make
// run`) is what kill(0), killpg, setpriority(PRIO_PGRP), an orphaned group's
// SIGHUP and /proc/self/autogroup would otherwise reach (SPEC S6). Idle
// priority: preparing the next run must never slow the runs being answered;
// the worker raises the sandbox to normal priority when its request arrives
// (runner.cc). Returns 0 or the errno of setsid.
int startSetUp() {
    if (::setsid() < 0) return errno;
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    sched_param idle{};
    ::sched_setscheduler(0, SCHED_IDLE, &idle);
    markStep(static_cast<Step>(0));
    return 0;
}

// The uts namespace's names: the host's stay hidden (SPEC S10).
constexpr char kHostname[] = "sandbox";
constexpr char kDomainname[] = "(none)";

// The whole set-up order of a sandbox, in one place (SPEC §5).
[[noreturn]] void containAndRun(const ChildContext& c) {
    if (int err = startSetUp()) fail(c, Step::kNamespaces, err, 30);
    // 1. cgroup. Born in it on v2; on v1 this single-threaded process moves
    // itself in, memory and pids first, before it allocates anything. Then a
    // cgroup namespace rooted there, so /proc/self/cgroup shows "/".
    const Placement& p = *c.placement;
    for (int i = 0; p.dirFd < 0 && i < p.joinCount; ++i) {
        if (::write(p.joinFds[i], "0", 1) != 1) fail(c, Step::kCgroup, errno, i);
    }
    if (::unshare(CLONE_NEWCGROUP) != 0) fail(c, Step::kCgroup, errno, 10);
    markStep(Step::kCgroup);
    // 2. namespaces: created by clone3, but for the network when all runs share
    // one empty namespace. Then drop what we inherited from the worker.
    if (c.config->sharedNetnsFd >= 0 && ::setns(c.config->sharedNetnsFd, CLONE_NEWNET) != 0) {
        fail(c, Step::kNamespaces, errno, 1);
    }
    int keep[] = {c.io->stdinFd, c.io->stdoutFd, c.io->stderrFd, c.io->inputFd, c.io->resultFd, c.reportFd};
    if (int err = closeAllExcept(keep, 6)) fail(c, Step::kNamespaces, err);
    if (::sethostname(kHostname, sizeof kHostname - 1) != 0) fail(c, Step::kNamespaces, errno, 2);
    if (::setdomainname(kDomainname, sizeof kDomainname - 1) != 0) fail(c, Step::kNamespaces, errno, 3);
    // Nothing of the worker's command line or environment for /proc/1/.
    proctitle::wipe();
    ::prctl(PR_SET_NAME, "init", 0, 0, 0);
    markStep(Step::kNamespaces);
    int item = 0;
    // 3. filesystem
    if (int err = buildRoot(*c.config, &item)) fail(c, Step::kFilesystem, err, item);
    markStep(Step::kFilesystem);
    // 4. identity
    if (int err = changeIdentity(*c.config)) fail(c, Step::kIdentity, err);
    markStep(Step::kIdentity);
    // If the worker dies, so does this run (cleared by the uid change above,
    // hence set here). Its pid namespace goes with us.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(c, Step::kIdentity, errno);
    // 5. capabilities
    if (int err = dropCapabilities()) fail(c, Step::kCapabilities, err);
    markStep(Step::kCapabilities);
    // 6. rlimits
    if (int err = applyRlimits(*c.config, c.cpuSeconds)) fail(c, Step::kRlimits, err);
    markStep(Step::kRlimits);
    if (c.program->idle) waitForEntry(c);
    pid_t program = ::fork();
    if (program < 0) fail(c, Step::kFork, errno);
    if (program == 0) execProgram(c);  // applies 7, seccomp, to itself, last
    // The program's descriptors are the program's alone: its output pipes
    // reach EOF when it exits, not when this init does.
    for (int fd : {c.io->stdinFd, c.io->stdoutFd, c.io->stderrFd, c.io->inputFd, c.io->resultFd}) ::close(fd);
    // 7. seccomp for the init as well: its remaining calls (wait, write) are allowed.
    if (int err = c.config->seccomp->apply()) {
        ::kill(program, SIGKILL);
        fail(c, Step::kSeccomp, err);
    }
    markStep(Step::kSeccomp);
    report(c.reportFd, ChildReport::kReady, Step::kSeccomp, 0);
    superviseProgram(c, program);
}

struct Pipe {
    UniqueFd read, write;
};

Result<Pipe> makePipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return makeError(ErrorKind::kSandboxUnavailable, std::string("pipe2: ") + std::strerror(errno), {}, errno);
    }
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

pid_t cloneSandbox(const SandboxConfig& config, int cgroupDirFd, int* pidfd) {
    // No CLONE_NEWCGROUP: the init unshares it once in its cgroup (step 1).
    clone_args args{};
    args.flags = kNamespaces | CLONE_PIDFD | (config.sharedNetnsFd >= 0 ? 0 : CLONE_NEWNET);
    args.pidfd = reinterpret_cast<uint64_t>(pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroupDirFd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cgroupDirFd);
    }
    return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

}  // namespace

const char* stepName(Step step) {
    switch (step) {
        case Step::kCgroup: return "cgroup";
        case Step::kNamespaces: return "namespaces";
        case Step::kFilesystem: return "filesystem";
        case Step::kIdentity: return "identity";
        case Step::kCapabilities: return "capabilities";
        case Step::kRlimits: return "rlimits";
        case Step::kSeccomp: return "seccomp";
        case Step::kFork: return "fork";
        case Step::kExec: return "exec";
    }
    return "unknown";
}

static double msBetween(const timespec& a, const timespec& b) {
    return static_cast<double>(b.tv_sec - a.tv_sec) * 1e3 + static_cast<double>(b.tv_nsec - a.tv_nsec) / 1e6;
}

[[noreturn]] void enterSandbox(const SandboxConfig& config, const Entry& e, const Program& program) {
    Placement none;
    ChildContext c{&config, &e.io, &program, &none, e.cpuSeconds, e.reportFd};
    if (int err = startSetUp()) fail(c, Step::kNamespaces, err, 30);
    // 1. cgroup: this process is single-threaded (a fork), so moving itself
    // is cheap (cgroup.h, joinFds).
    for (int i = 0; i < e.joinCount; ++i) {
        if (::write(e.joinFds[i], "0", 1) != 1) fail(c, Step::kCgroup, errno, i);
    }
    // 2. the init's namespaces (the pid namespace came with the fork); the
    // mount namespace's root is the sandbox's new root.
    if (::setns(e.initPidfd, CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP) != 0) {
        fail(c, Step::kNamespaces, errno);
    }
    // 3. filesystem: built by the init; start where its programs start.
    if (::chdir("/tmp") != 0) fail(c, Step::kFilesystem, errno);
    ::prctl(PR_SET_NAME, "python3", 0, 0, 0);
    // 4.–6. as in the init.
    // No parent-death signal: the program lives and dies with its sandbox
    // (the init's pid namespace, the worker's child), not with the zygote.
    if (int err = changeIdentity(config)) fail(c, Step::kIdentity, err);
    if (int err = dropCapabilities()) fail(c, Step::kCapabilities, err);
    if (int err = applyRlimits(config, e.cpuSeconds)) fail(c, Step::kRlimits, err);
    execProgram(c);  // descriptors, 7 seccomp (last), the harness
}

Placement placementOf(const RunCgroup& cgroup) {
    Placement p;
    p.dirFd = cgroup.dirFd();
    for (int fd : cgroup.joinFds()) {
        if (p.joinCount < Placement::kMaxJoinFds) p.joinFds[p.joinCount++] = fd;
    }
    return p;
}

Result<Launched> spawn(const SandboxConfig& config, const Placement& placement, const ChildIo& io,
                       const Program& program, int cpuSeconds) {
    if (config.seccomp == nullptr) {
        return makeError(ErrorKind::kSandboxUnavailable, "no seccomp profile loaded");
    }
    auto rep = makePipe();
    if (!rep) return rep.error();
    int pidfd = -1;
    timespec t0{}, t1{};
    ::clock_gettime(CLOCK_MONOTONIC, &t0);
    ChildContext ctx{&config, &io, &program, &placement, cpuSeconds, rep.value().write.get()};
    pid_t pid = cloneSandbox(config, placement.dirFd, &pidfd);
    if (pid < 0) {
        return makeError(ErrorKind::kSandboxUnavailable,
                         std::string("clone3 with namespaces: ") + std::strerror(errno), {}, errno);
    }
    if (pid == 0) containAndRun(ctx);
    ::clock_gettime(CLOCK_MONOTONIC, &t1);
    Launched out{pid, UniqueFd(pidfd), std::move(rep.value().read), {}, msBetween(t0, t1)};
    if (program.idle) out.reportWrite = std::move(rep.value().write);
    ::fcntl(out.report.get(), F_SETFL, O_NONBLOCK);  // read only when poll says so, or at the end
    return out;
}

Result<Launched> launch(const SandboxConfig& config, const RunCgroup& cgroup, const ChildIo& io,
                        const Program& program, int cpuSeconds) {
    return spawn(config, placementOf(cgroup), io, program, cpuSeconds);
}

}  // namespace pyexec::sandbox
