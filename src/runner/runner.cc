// The life of one sandbox, worker side:
//   setUp (cgroup, pipes, clone: before the request when prepared)
//   → waitReady → hand over the input, watch (output caps, wall clock, the
//   init's reports) → answer → retire (kill, reap, empty and remove the
//   cgroup: after the answer).
#include "runner/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "harness_source.h"
#include "runner/run_io.h"
#include "runner/sandbox_env.h"
#include "runner/zygote.h"

namespace pyexec::runner {

using sandbox::ChildReport;

// One sandbox from its set-up to its removal; every descriptor, the cgroup
// and the init have their owner here.
struct LiveSandbox {
    std::unique_ptr<sandbox::RunCgroup> cgroup;
    RunIo io;
    sandbox::Launched launched;
    bool warm = false;
    bool prepared = false;  // set up before its request
    pid_t programPid = -1;  // warm: the zygote's child, which moves itself into the cgroup
    UniqueFd programPidfd;  // warm: readable once it has exited; open until reaped or retired
    SetupTiming timing;
    // What the init has reported so far.
    bool ready = false, failed = false, exited = false, reportEof = false, initGone = false;
    ChildReport readyReport{}, failure{}, exit{};

    // Reads every report available now (the pipe is non-blocking).
    void readReports() {
        for (;;) {
            ChildReport r{};
            ssize_t n = ::read(launched.report.get(), &r, sizeof r);
            if (n == 0) reportEof = true;
            if (n != static_cast<ssize_t>(sizeof r)) return;  // EAGAIN, EOF; records are written whole
            if (r.kind == ChildReport::kReady && !ready) ready = true, readyReport = r;
            if (r.kind == ChildReport::kSetupFailed && !failed) failed = true, failure = r;
            if (r.kind == ChildReport::kExited && !exited) exited = true, exit = r;
        }
    }
    // Warm: reaps the program if it became the worker's (its zygote died;
    // the worker is a child subreaper) and takes its status. While the
    // zygote lives, waitid fails with ECHILD and the zygote reports instead.
    void reapProgramIfOurs() {
        if (!programPidfd.valid()) return;
        siginfo_t info{};
        if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(programPidfd.get()), &info,
                     WEXITED | WNOHANG) != 0 || info.si_pid == 0) {
            return;
        }
        programPidfd.reset();
        if (exited) return;
        int status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8
                                                : (info.si_status & 0x7f) | (info.si_code == CLD_DUMPED ? 0x80 : 0);
        exited = true;
        exit = ChildReport{ChildReport::kExited, static_cast<int32_t>(sandbox::Step::kExec), status, 0, {}};
    }
    bool checkInitGone() {
        pollfd p{launched.pidfd.get(), POLLIN, 0};
        if (!initGone && ::poll(&p, 1, 0) == 1) initGone = true;
        return initGone;
    }
};

namespace {

// One output stream read into a capped buffer.
struct Stream {
    int fd;
    std::string* sink;
    size_t cap;
    bool open = true;
    bool overflowed = false;

    void drain() {
        char buf[65536];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n > 0) {
                size_t room = cap > sink->size() ? cap - sink->size() : 0;
                sink->append(buf, std::min(room, static_cast<size_t>(n)));
                if (static_cast<size_t>(n) > room) overflowed = true;
                continue;
            }
            if (n == 0) open = false;
            if (n < 0 && errno == EINTR) continue;
            return;  // EAGAIN or EOF
        }
    }
};

// One input written into its pipe as the program reads it, then closed (EOF).
struct Feeder {
    UniqueFd* fd;
    std::string_view data;
    size_t done = 0;

    void pump() {
        while (fd->valid() && done < data.size()) {
            ssize_t n = ::write(fd->get(), data.data() + done, data.size() - done);
            if (n > 0) {
                done += static_cast<size_t>(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && errno == EAGAIN) {
                return;
            } else {
                fd->reset();  // EPIPE: the program stopped reading (SIGPIPE is ignored)
            }
        }
        fd->reset();
    }
};

struct Watch {
    std::vector<Stream> streams;  // stdout, stderr, harness records
    std::vector<Feeder> feeders;
    bool timedOut = false;
    bool overflowed = false;
    std::optional<int> harnessExit;  // the harness's own word, once its stream is complete
    bool leftoversKilled = false;

    bool streamsClosed() const {
        for (const Stream& s : streams)
            if (s.open) return false;
        return true;
    }
};

void killInit(const LiveSandbox& sb) {
    // Through the pidfd: the pid cannot have been reused by then.
    ::syscall(SYS_pidfd_send_signal, sb.launched.pidfd.get(), SIGKILL, nullptr, 0);
}

// Until the program has exited and its output is drained (or the init is
// gone, or the deadline passed, or stdout/stderr went over their cap).
void watchRun(LiveSandbox& sb, Watch& w, double deadlineMs,
              const std::function<std::optional<int>(std::string_view)>& exitCodeFromRecords) {
    for (;;) {
        for (Feeder& f : w.feeders) f.pump();
        std::vector<pollfd> fds;
        for (const Stream& s : w.streams)
            if (s.open) fds.push_back({s.fd, POLLIN, 0});
        for (const Feeder& f : w.feeders)
            if (f.fd->valid()) fds.push_back({f.fd->get(), POLLOUT, 0});
        if (!sb.reportEof) fds.push_back({sb.launched.report.get(), POLLIN, 0});
        // A warm program that has exited but whose status has not come (its
        // zygote is reaping it, or died and left it to us): look again soon;
        // until it exits, its pidfd wakes us.
        pollfd program{sb.programPidfd.get(), POLLIN, 0};
        bool programEnded = sb.programPidfd.valid() && !sb.exited && ::poll(&program, 1, 0) == 1;
        size_t programAt = fds.size();
        bool watchingProgram = sb.programPidfd.valid() && !sb.exited && !programEnded;
        if (watchingProgram) fds.push_back(program);
        fds.push_back({sb.launched.pidfd.get(), POLLIN, 0});  // last: see below
        double left = deadlineMs - clock::monotonicMs();
        if (left <= 0) {
            w.timedOut = true;
            return;
        }
        int rc = ::poll(fds.data(), fds.size(), programEnded ? std::min(static_cast<int>(left) + 1, 20)
                                                               : static_cast<int>(left) + 1);
        if (rc < 0 && errno != EINTR) return;
        for (size_t i = 0; i < w.streams.size(); ++i) {
            Stream& s = w.streams[i];
            if (!s.open) continue;
            s.drain();
            if (s.overflowed && i < 2) w.overflowed = true;  // stdout, stderr
        }
        if (w.overflowed) return;
        sb.readReports();
        if (programEnded || (watchingProgram && fds[programAt].revents)) sb.reapProgramIfOurs();
        if (sb.failed) return;
        // Done when every output is at EOF (no leftover holds a pipe) and the
        // kernel or, before it, the harness's complete stream gave the status.
        if (w.streamsClosed()) {
            if (sb.exited) return;
            if (exitCodeFromRecords) w.harnessExit = exitCodeFromRecords(*w.streams[2].sink);
            if (w.harnessExit) return;
        } else if (sb.exited && !w.leftoversKilled) {
            // The program is gone but something it started holds a pipe: the
            // run is over, and its pid namespace goes (with a warm program the
            // init does not end by itself).
            killInit(sb);
            w.leftoversKilled = true;
        }
        if (fds.back().revents) {
            sb.initGone = true;
            return;
        }
    }
}

// After the init is gone or killed: its namespace is torn down and the pipes
// reach EOF shortly; read what is left, without waiting on a stuck writer forever.
void drainAfterExit(LiveSandbox& sb, Watch& w) {
    double until = clock::monotonicMs() + 250;
    for (;;) {
        sb.readReports();
        std::vector<pollfd> fds;
        for (const Stream& s : w.streams)
            if (s.open) fds.push_back({s.fd, POLLIN, 0});
        if (fds.empty()) return;
        double left = until - clock::monotonicMs();
        if (left <= 0) return;
        ::poll(fds.data(), fds.size(), static_cast<int>(left) + 1);
        for (Stream& s : w.streams)
            if (s.open) s.drain();
    }
}

// Durations of the init's set-up steps from its timestamps (same clock).
void recordSteps(const ChildReport& r, SetupTiming* t) {
    int64_t prev = r.stepEndNs[0];
    for (int i = 1; i < 10; ++i) {
        t->stepMs[i] = 0;
        if (r.stepEndNs[i] == 0 || prev == 0) continue;
        t->stepMs[i] = static_cast<double>(r.stepEndNs[i] - prev) / 1e6;
        prev = r.stepEndNs[i];
    }
}

// What the run ended with, from the init's report, the watch and the cgroup.
void fillOutcome(const LiveSandbox& sb, const Watch& w, const sandbox::CgroupUsage& usage,
                 protocol::RunOutcome* out) {
    out->cpuMs = usage.cpuMs;
    out->memoryPeakBytes = usage.memoryPeakBytes;
    out->memoryExceeded = usage.oomKilled;
    out->timedOut = w.timedOut;
    out->outputTruncated = w.overflowed;
    out->observationsTruncated = w.streams[2].overflowed;
    if (sb.exited && !w.timedOut) {
        int st = sb.exit.value;
        if (WIFEXITED(st)) out->exitCode = WEXITSTATUS(st);
        if (WIFSIGNALED(st)) out->signal = WTERMSIG(st);
    } else if (w.harnessExit && !w.timedOut) {
        out->exitCode = *w.harnessExit;
    } else {
        out->signal = SIGKILL;  // killed by us (timeout, output cap) or the OOM killer took the init
    }
}

Error setupFailure(const ChildReport& r) {
    auto step = static_cast<sandbox::Step>(r.step);
    return makeError(ErrorKind::kSandboxUnavailable,
                     std::string("sandbox step '") + sandbox::stepName(step) + "' failed (item " +
                         std::to_string(r.detail) + "): " + std::strerror(r.value),
                     {}, r.value);
}

// Whether a prepared sandbox is whole: its init and its program (the only
// processes in its cgroup, `pids`, until the request) alive, running (not
// stopped or traced) and not exiting.
// A pidfd reports an exit only once it is complete; /proc says at once.
bool intact(const LiveSandbox& sb, const std::vector<pid_t>& pids) {
    if (pids.size() < 2 || std::find(pids.begin(), pids.end(), sb.launched.initPid) == pids.end()) return false;
    for (pid_t pid : pids) {
        char path[64], buf[512];
        std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
        UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
        ssize_t n = fd.valid() ? ::read(fd.get(), buf, sizeof buf - 1) : -1;
        if (n <= 0) return false;
        buf[n] = 0;
        // "pid (comm) state ppid ... flags (9th) ... signal (31st: pending)";
        // comm may hold anything, so fields count from its closing ')'.
        const char* p = std::strrchr(buf, ')');
        if (p == nullptr || p[1] != ' ') return false;
        char state = p[2];
        unsigned long field[32] = {};
        char* at = const_cast<char*>(p) + 3;
        for (int i = 4; i <= 31; ++i) field[i] = std::strtoul(at, &at, 10);
        constexpr unsigned long kPfExiting = 0x4;
        constexpr unsigned long kKillPending = 1ul << (SIGKILL - 1);
        // Stopped ('T') or traced ('t'): it would not answer its request.
        bool stopped = state == 'T' || state == 't';
        if (stopped || state == 'Z' || state == 'X' || (field[9] & kPfExiting) != 0 ||
            (field[31] & kKillPending) != 0) {
            return false;
        }
    }
    return true;
}

// Scheduling class of the sandbox's processes (`pids`, from its cgroup):
// SCHED_OTHER while it serves a request, SCHED_IDLE while it is set up or
// torn down (launcher.cc).
void setPolicy(const std::vector<pid_t>& pids, int policy) {
    sched_param p{};
    for (pid_t pid : pids) ::sched_setscheduler(pid, policy, &p);
}


constexpr int kSetupTimeoutMs = 10000;

}  // namespace

Runner::Runner(const sandbox::SandboxConfig& config, sandbox::CgroupManager& cgroups, RunnerLimits limits)
    : config_(config), cgroups_(cgroups), limits_(limits) {
    ::signal(SIGPIPE, SIG_IGN);  // a program that stops reading its stdin is EPIPE, not our death
}

Runner::~Runner() {
    retire(std::move(last_));
    retire(std::move(next_));
}

// Cgroup, pipes and the clone; the init then sets itself up while we go on.
// Warm when the zygote is ready (a broken zygote makes it cold, in the same
// sandbox), cold otherwise.
Result<std::unique_ptr<LiveSandbox>> Runner::setUp() {
    auto sb = std::make_unique<LiveSandbox>();
    double t0 = clock::monotonicMs();
    auto cg = cgroups_.createRun(std::to_string(::getpid()) + "-" + std::to_string(++runCounter_), config_.cgroup);
    if (!cg) return cg.error();
    sb->cgroup = std::move(cg.value());
    auto io = makeRunIo();
    if (!io) return io.error();
    sb->io = std::move(io.value());
    sb->timing.cgroupMs = clock::monotonicMs() - t0;

    sandbox::Placement placement = sandbox::placementOf(*sb->cgroup);
    RunIo& r = sb->io;
    sandbox::ChildIo childIo{r.stdinChild.get(), r.outChild.get(), r.errChild.get(), r.inputChild.get(),
                             r.resultChild.get()};
    sb->warm = zygote_ != nullptr && zygote_->ready();
    if (sb->warm) {
        // A small idle init builds the sandbox; once it is complete, the
        // zygote forks the program into it.
        sandbox::Program idle;
        idle.idle = true;
        auto init = sandbox::spawn(config_, placement, sandbox::ChildIo{}, idle, limits_.cpuSeconds);
        if (!init) return init.error();
        sb->launched = std::move(init.value());
        if (Status s = waitReady(*sb); !s) {
            retire(std::move(sb));
            return s.error();
        }
        double t1 = clock::monotonicMs();
        auto program = zygote_->spawnProgram(sb->launched.pidfd.get(), sb->cgroup->joinFds(), childIo,
                                             sb->launched.reportWrite.get(), limits_.cpuSeconds);
        sb->launched.reportWrite.reset();
        sb->timing.cloneMs = clock::monotonicMs() - t1;
        if (program) {
            sb->programPid = program.value().pid;
            sb->programPidfd = std::move(program.value().pidfd);
            // It is ready to be raised to normal priority (run()) only once it
            // has set itself to idle, which it does before moving into the
            // cgroup: wait for that (about a millisecond; bounded).
            for (int i = 0; i < 1000; ++i) {
                std::vector<pid_t> in = sb->cgroup->pids();
                if (std::find(in.begin(), in.end(), sb->programPid) != in.end()) break;
                ::usleep(200);
            }
        }
        if (!program) {
            retire(std::move(sb));
            if (!zygote_->ready()) return setUp();  // the zygote is gone: cold instead
            return program.error();
        }
        r.closeChildEnds();
        return sb;
    }
    Result<sandbox::Launched> launched = makeError(ErrorKind::kInternal, "not launched");
    {
        // The embedded source is a string literal, so it is NUL-terminated and
        // can be an argument as it is (execve does not write to it).
        char* harness = const_cast<char*>(gen::kHarnessSource.data());
        char* argv[] = {const_cast<char*>(config_.python.c_str()), const_cast<char*>("-u"), const_cast<char*>("-B"),
                        const_cast<char*>("-s"), const_cast<char*>("-c"), harness, nullptr};
        sandbox::Program program{argv, const_cast<char* const*>(kSandboxEnv), nullptr};
        launched = sandbox::spawn(config_, placement, childIo, program, limits_.cpuSeconds);
    }
    if (!launched) return launched.error();
    sb->launched = std::move(launched.value());
    sb->timing.cloneMs = sb->launched.cloneMs;
    r.closeChildEnds();
    return sb;
}

// Until the init says the sandbox is complete (or that a step failed).
Status Runner::waitReady(LiveSandbox& sb) {
    double deadline = clock::monotonicMs() + kSetupTimeoutMs;
    for (;;) {
        sb.readReports();
        if (sb.failed) return setupFailure(sb.failure);
        if (sb.ready) return okStatus();
        if (sb.checkInitGone()) {
            sb.readReports();
            if (sb.failed) return setupFailure(sb.failure);
            if (sb.ready) return okStatus();
            return makeError(ErrorKind::kSandboxUnavailable, "the sandbox init died during its set-up");
        }
        double left = deadline - clock::monotonicMs();
        if (left <= 0) return makeError(ErrorKind::kSandboxUnavailable, "the sandbox set-up took over 10 s");
        pollfd fds[2] = {{sb.launched.report.get(), POLLIN, 0}, {sb.launched.pidfd.get(), POLLIN, 0}};
        ::poll(fds, sb.reportEof ? 1 : 2, static_cast<int>(left) + 1);
        if (sb.reportEof) ::poll(&fds[1], 1, static_cast<int>(left) + 1);
    }
}

Result<protocol::RunOutcome> Runner::run(const RunSpec& spec) {
    retire(std::move(last_));  // when the caller did not call afterRun()
    std::unique_ptr<LiveSandbox> sb = std::move(next_);
    Status ready = okStatus();
    std::vector<pid_t> pids;  // read once: the request path
    if (sb) {
        sb->readReports();
        pids = sb->cgroup->pids();
        ready = sb->checkInitGone() || sb->exited || !intact(*sb, pids)
                    ? makeError(ErrorKind::kSandboxUnavailable, "part of it has exited")
                    : waitReady(*sb);
        if (!ready) {  // its zygote died, say: set one up now instead
            log::warn("prepared sandbox unusable (" + ready.error().message + "); setting one up");
            retire(std::move(sb));
        }
    }
    if (!sb) {
        auto fresh = setUp();
        if (!fresh) return fresh.error();
        sb = std::move(fresh.value());
        ready = waitReady(*sb);
        pids = sb->cgroup->pids();  // kReady: a cold init has forked its program; a warm one has moved in (setUp)
    }
    setPolicy(pids, SCHED_OTHER);
    lastWarm_ = sb->warm;
    lastPrepared_ = sb->prepared;
    timing_ = sb->timing;
    if (!ready) {
        last_ = std::move(sb);
        return ready.error();
    }
    recordSteps(sb->readyReport, &timing_);

    // The clock starts when the input is handed over.
    double start = clock::monotonicMs();
    protocol::RunOutcome out;
    out.timeoutMs = spec.timeoutMs;
    out.memoryLimitBytes = config_.cgroup.memoryBytes;
    RunIo& io = sb->io;
    Watch w{{Stream{io.outRead.get(), &out.out, limits_.outputBytes},
             Stream{io.errRead.get(), &out.err, limits_.outputBytes},
             Stream{io.resultRead.get(), &out.observations, limits_.observationBytes}},
            {Feeder{&io.inputWrite, spec.harnessInput}, Feeder{&io.stdinWrite, spec.stdinData}},
            false, false, std::nullopt, false};
    watchRun(*sb, w, start + spec.timeoutMs, spec.exitCodeFromRecords);
    out.wallMs = clock::monotonicMs() - start;
    bool clean = (sb->exited || w.harnessExit) && w.streamsClosed() && !w.timedOut && !w.overflowed;
    if (!clean) {
        killInit(*sb);  // the whole pid namespace goes with it
        drainAfterExit(*sb, w);
    }
    io.stdinWrite.reset();
    io.inputWrite.reset();
    sandbox::CgroupUsage usage = sb->cgroup->usage();
    bool failed = sb->failed;
    ChildReport failure = sb->failure;
    fillOutcome(*sb, w, usage, &out);
    last_ = std::move(sb);
    if (failed) return setupFailure(failure);
    return out;
}

// Off the request path: nothing of the run may survive this (SPEC S5).
void Runner::retire(std::unique_ptr<LiveSandbox> sb) {
    if (!sb) return;
    double t0 = clock::monotonicMs();
    setPolicy(sb->cgroup->pids(), SCHED_IDLE);  // tearing a forked interpreter down takes milliseconds: not before the next answer
    killInit(*sb);
    // The init's exit waits until every process of its namespace is reaped:
    // the warm program too, which may be ours to reap (its zygote died).
    pollfd p[2] = {{sb->launched.pidfd.get(), POLLIN, 0}, {sb->programPidfd.get(), POLLIN, 0}};
    for (double end = clock::monotonicMs() + 2000; p[0].revents == 0;) {
        double left = end - clock::monotonicMs();
        if (left <= 0) {
            log::warn("sandbox init " + std::to_string(sb->launched.initPid) + " still exiting 2 s after SIGKILL");
            break;
        }
        ::poll(p, sb->programPidfd.valid() ? 2 : 1, static_cast<int>(left) + 1);
        if (p[1].revents) sb->reapProgramIfOurs();
        if (!sb->programPidfd.valid()) p[1].revents = 0;
    }
    if (sb->launched.initPid > 0) ::waitpid(sb->launched.initPid, nullptr, 0);  // ours (a warm program is the zygote's)
    if (Status s = sb->cgroup->killAll(); !s) log::error("cgroup kill: " + s.error().message);
    sb->cgroup.reset();  // removes it
    timing_.teardownMs = clock::monotonicMs() - t0;
}

bool Runner::wantsPrepare() { return !next_ && (zygote_ == nullptr || zygote_->ready()); }

void Runner::afterRun() {
    retire(std::move(last_));
    if (!wantsPrepare()) return;
    auto sb = setUp();
    if (!sb) {
        log::error("preparing the next sandbox: " + sb.error().message);
        return;
    }
    sb.value()->prepared = true;
    next_ = std::move(sb.value());
}

}  // namespace pyexec::runner
