// The life of one sandbox, worker side, as the phases of LiveSandbox:
//   kPreparing  setUp: cgroup, pipes, clone (before the request when prepared)
//   kReady      waitReady: the init (and, warm, the program) report complete
//   kRunning    the input handed over; watched (outputs, caps, the clock, reports)
//   kFinished   the program is gone or stopped; the answer goes out
//   kDying      retire: killed; its init has not finished exiting yet
//   kRetired    the init reaped, the cgroup emptied and removed
// Every wait is bounded and beats the heartbeat; the Reaper is the only
// place children are reaped. A sandbox whose init cannot finish exiting in
// time (a zombie of a stopped zygote in its namespace, say) is kept dying
// and looked at again later, never waited for.
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
#include "common/heartbeat.h"
#include "runner/io_watch.h"
#include "runner/run_io.h"
#include "runner/sandbox_env.h"
#include "runner/zygote.h"

namespace pyexec::runner {

using sandbox::ChildReport;

// One sandbox from its set-up to its removal; every descriptor, the cgroup
// and the init have their owner here.
struct LiveSandbox {
    enum class Phase { kPreparing, kReady, kRunning, kFinished, kDying, kRetired };
    Phase phase = Phase::kPreparing;
    std::unique_ptr<sandbox::RunCgroup> cgroup;
    RunIo io;
    sandbox::Launched launched;
    bool warm = false;
    protocol::Image image = protocol::Image::kFull;  // warm: whose zygote forked the program
    bool prepared = false;  // set up before its request
    bool pytestAhead = false;  // warm, full: its program wrote pytest's working set ahead
    pid_t programPid = -1;  // warm: the zygote's child, which moves itself into the cgroup
    UniqueFd programPidfd;  // warm: readable once it has exited; open until its status is known
    double dyingSinceMs = 0;
    double cpuBeforeMs = 0;  // its cgroup's CPU time when the request started: the set-up's
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
    // Warm: the program's status if it became the worker's (its zygote
    // died; the worker is a child subreaper) and the reaper has it. While
    // the zygote lives, the zygote reaps it and reports instead.
    void takeProgramStatus(Reaper& reaper) {
        if (programPid <= 0) return;
        reaper.reapExited();
        std::optional<int> status = reaper.take(programPid);
        if (!status) return;
        programPidfd.reset();
        if (exited) return;
        exited = true;
        exit = ChildReport{ChildReport::kExited, static_cast<int32_t>(sandbox::Step::kExec), *status, 0, {}};
    }
    bool checkInitGone() {
        pollfd p{launched.pidfd.get(), POLLIN, 0};
        if (!initGone && ::poll(&p, 1, 0) == 1) initGone = true;
        return initGone;
    }
};

namespace {

// What the watch of one run saw.
struct Watch {
    IoWatch io;                      // outputs: stdout, stderr, harness records
    bool timedOut = false;
    bool overflowed = false;         // stdout or stderr past its cap
    std::optional<int> harnessExit;  // the harness's own word, once its stream is complete
    bool leftoversKilled = false;
};

void killInit(const LiveSandbox& sb) {
    // Through the pidfd: the pid cannot have been reused by then.
    ::syscall(SYS_pidfd_send_signal, sb.launched.pidfd.get(), SIGKILL, nullptr, 0);
}

// Until the program has exited and its output is drained (or the init is
// gone, or the deadline passed, or stdout/stderr went over their cap).
// Wakes at least every kMaxWaitMs to beat.
void watchRun(LiveSandbox& sb, Watch& w, Reaper& reaper, double deadlineMs,
              const std::function<std::optional<int>(std::string_view)>& exitCodeFromRecords) {
    for (;;) {
        std::vector<pollfd> fds;
        w.io.addPollFds(&fds);
        if (!sb.reportEof) fds.push_back({sb.launched.report.get(), POLLIN, 0});
        // A warm program that has exited but whose status has not come (its
        // zygote is reaping it, or died and left it to us): look again soon;
        // until it exits, its pidfd wakes us.
        pollfd program{sb.programPidfd.get(), POLLIN, 0};
        bool programEnded = sb.programPidfd.valid() && !sb.exited && ::poll(&program, 1, 0) == 1;
        bool watchingProgram = sb.programPidfd.valid() && !sb.exited && !programEnded;
        if (watchingProgram) fds.push_back(program);
        fds.push_back({sb.launched.pidfd.get(), POLLIN, 0});  // last: see below
        double left = deadlineMs - clock::monotonicMs();
        if (left <= 0) {
            w.timedOut = true;
            return;
        }
        int wait = std::min(static_cast<int>(left) + 1, programEnded ? 20 : heartbeat::kMaxWaitMs);
        int rc = ::poll(fds.data(), fds.size(), wait);
        heartbeat::beat();
        if (rc < 0 && errno != EINTR) return;
        w.io.service();
        if (w.io.output(0).overflowed || w.io.output(1).overflowed) {
            w.overflowed = true;
            return;
        }
        sb.readReports();
        if (programEnded || (watchingProgram && fds[fds.size() - 2].revents)) sb.takeProgramStatus(reaper);
        if (sb.failed) return;
        // Done when every output is at EOF (no leftover holds a pipe) and the
        // kernel or, before it, the harness's complete stream gave the status.
        if (w.io.outputsClosed()) {
            if (sb.exited) return;
            if (exitCodeFromRecords) w.harnessExit = exitCodeFromRecords(*w.io.output(2).sink);
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
    out->cpuMs = std::max(0.0, usage.cpuMs - sb.cpuBeforeMs);  // the program's alone (SPEC 2)
    out->memoryPeakBytes = usage.memoryPeakBytes;
    out->memoryExceeded = usage.oomKilled;
    out->timedOut = w.timedOut;
    out->outputTruncated = w.overflowed;
    out->observationsTruncated = w.io.output(2).overflowed;
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

const char* stepOf(const ChildReport& r) { return sandbox::stepName(static_cast<sandbox::Step>(r.step)); }

// What is wrong with a prepared sandbox ("" when it is whole): its init and
// its program (the only processes in its cgroup, `pids`, until the request)
// alive, running (not stopped or traced) and not exiting.
// A pidfd reports an exit only once it is complete; /proc says at once.
std::string whyBroken(const LiveSandbox& sb, const std::vector<pid_t>& pids) {
    if (std::find(pids.begin(), pids.end(), sb.launched.initPid) == pids.end()) return "its init has left its cgroup";
    if (pids.size() < 2) return "its program is not in its cgroup";
    for (pid_t pid : pids) {
        char path[64], buf[512];
        std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
        UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
        ssize_t n = fd.valid() ? ::read(fd.get(), buf, sizeof buf - 1) : -1;
        std::string who = pid == sb.launched.initPid ? "its init" : "process " + std::to_string(pid);
        if (n <= 0) return who + " has gone";
        buf[n] = 0;
        // "pid (comm) state ppid ... flags (9th) ... signal (31st: pending)";
        // comm may hold anything, so fields count from its closing ')'.
        const char* p = std::strrchr(buf, ')');
        if (p == nullptr || p[1] != ' ') return who + ": unreadable /proc stat";
        char state = p[2];
        unsigned long field[32] = {};
        char* at = const_cast<char*>(p) + 3;
        for (int i = 4; i <= 31; ++i) field[i] = std::strtoul(at, &at, 10);
        constexpr unsigned long kPfExiting = 0x4;
        constexpr unsigned long kKillPending = 1ul << (SIGKILL - 1);
        // Stopped ('T') or traced ('t'): it would not answer its request.
        if (state == 'T' || state == 't' || state == 'Z' || state == 'X') return who + " is in state " + state;
        if ((field[9] & kPfExiting) != 0) return who + " is exiting";
        if ((field[31] & kKillPending) != 0) return who + " has a SIGKILL pending";
    }
    return "";
}

bool alive(const UniqueFd& pidfd) {
    pollfd p{pidfd.get(), POLLIN, 0};
    return pidfd.valid() && ::poll(&p, 1, 0) == 0;
}

// Scheduling class of the sandbox's processes (`pids`, from its cgroup):
// SCHED_OTHER while it serves a request, SCHED_IDLE while it is set up or
// torn down (launcher.cc).
void setPolicy(const std::vector<pid_t>& pids, int policy) {
    sched_param p{};
    for (pid_t pid : pids) ::sched_setscheduler(pid, policy, &p);
}


constexpr int kSetupTimeoutMs = 10000;
// How long a request waits for a prepared warm program, alive and raised to
// normal priority, to move into its cgroup (it takes a millisecond).
constexpr int kJoinWaitMs = 2000;
// How long retire() waits for a killed sandbox's init to finish exiting
// before leaving it dying (it usually takes milliseconds).
constexpr int kRetireWaitMs = 2000;

}  // namespace

Runner::Runner(const sandbox::SandboxConfig& config, sandbox::CgroupManager& cgroups, RunnerLimits limits)
    : config_(config), cgroups_(cgroups), limits_(limits) {
    ::signal(SIGPIPE, SIG_IGN);  // a program that stops reading its stdin is EPIPE, not our death
}

Runner::~Runner() {
    retire(std::move(last_));
    for (auto& next : next_) retire(std::move(next));
    idle();
    for (auto& sb : dying_) {
        log::warn("sandbox init " + std::to_string(sb->launched.initPid) + " still exiting as its worker stops");
    }
}

int Runner::slotFor(const RunSpec& spec) const {
    switch (spec.image) {
    case protocol::Image::kLean: return zygotes_[0] != nullptr ? 0 : 1;
    case protocol::Image::kPytest: return zygotes_[2] != nullptr || zygotes_[1] != nullptr ? kPytestSlot : 1;
    case protocol::Image::kFull: break;
    }
    // A full pytest exercise takes the pytest slot only while what it holds
    // (or would set up now) is a fork of the full image.
    if (!spec.pytest || zygotes_[1] == nullptr) return 1;
    if (next_[kPytestSlot]) return next_[kPytestSlot]->image == protocol::Image::kFull ? kPytestSlot : 1;
    return zygoteFor(kPytestSlot) == zygotes_[1] ? kPytestSlot : 1;
}

Zygote* Runner::zygoteFor(int slot) const {
    Zygote* own = zygotes_[slot];
    return own != nullptr && own->ready() ? own : zygotes_[1];
}

// Cgroup, pipes and the clone; the init then sets itself up while we go on.
// Warm when the slot's zygote is ready (the lean slot falls back on the
// full zygote; a broken zygote makes it cold, in the same sandbox), cold
// otherwise.
Result<std::unique_ptr<LiveSandbox>> Runner::setUp(int slot) {
    auto sb = std::make_unique<LiveSandbox>();
    double t0 = clock::monotonicMs();
    auto cg = cgroups_.createRun(std::to_string(::getpid()) + "-" + std::to_string(++runCounter_), config_.cgroup);
    if (!cg) return failAt("cgroup", cg.error());
    sb->cgroup = std::move(cg.value());
    auto io = makeRunIo();
    if (!io) return failAt("pipes", io.error());
    sb->io = std::move(io.value());
    sb->timing.cgroupMs = clock::monotonicMs() - t0;

    sandbox::Placement placement = sandbox::placementOf(*sb->cgroup);
    RunIo& r = sb->io;
    sandbox::ChildIo childIo{r.stdinChild.get(), r.outChild.get(), r.errChild.get(), r.inputChild.get(),
                             r.resultChild.get()};
    Zygote* zygote = zygoteFor(slot);
    sb->warm = zygote != nullptr && zygote->ready();
    sb->image = !sb->warm || zygote == zygotes_[1] ? protocol::Image::kFull
                : zygote == zygotes_[0]            ? protocol::Image::kLean
                                                   : protocol::Image::kPytest;
    if (sb->warm) {
        // A small idle init builds the sandbox; once it is complete, the
        // zygote forks the program into it.
        sandbox::Program idle;
        idle.idle = true;
        auto init = sandbox::spawn(config_, placement, sandbox::ChildIo{}, idle, limits_.cpuSeconds);
        if (!init) return failAt("clone", init.error());
        sb->launched = std::move(init.value());
        reaper_.expect(sb->launched.initPid);
        if (Status s = waitReady(*sb); !s) {
            retire(std::move(sb));
            return s.error();
        }
        double t1 = clock::monotonicMs();
        sb->pytestAhead = slot == kPytestSlot && zygote != zygotes_[0];  // the full or pytest image
        auto program = zygote->spawnProgram(sb->launched.pidfd.get(), sb->cgroup->joinFds(), childIo,
                                             sb->launched.reportWrite.get(), limits_.cpuSeconds, sb->pytestAhead);
        sb->launched.reportWrite.reset();
        sb->timing.cloneMs = clock::monotonicMs() - t1;
        if (program) {
            sb->programPid = program.value().pid;
            sb->programPidfd = std::move(program.value().pidfd);
            reaper_.expect(sb->programPid);  // the worker's, should its zygote die
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
            if (!zygote->ready()) return setUp(slot);  // the zygote is gone: the other image, or cold
            return failAt("zygote", program.error());
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
    if (!launched) return failAt("clone", launched.error());
    sb->launched = std::move(launched.value());
    reaper_.expect(sb->launched.initPid);
    sb->timing.cloneMs = sb->launched.cloneMs;
    r.closeChildEnds();
    return sb;
}

// Until the init says the sandbox is complete (or that a step failed).
Status Runner::waitReady(LiveSandbox& sb) {
    double deadline = clock::monotonicMs() + kSetupTimeoutMs;
    for (;;) {
        sb.readReports();
        if (sb.failed) return failAt(stepOf(sb.failure), setupFailure(sb.failure));
        if (sb.ready) return (sb.phase = LiveSandbox::Phase::kReady, okStatus());
        if (sb.checkInitGone()) {
            sb.readReports();
            if (sb.failed) return failAt(stepOf(sb.failure), setupFailure(sb.failure));
            if (sb.ready) return (sb.phase = LiveSandbox::Phase::kReady, okStatus());
            return failAt("init", makeError(ErrorKind::kSandboxUnavailable, "the sandbox init died during its set-up"));
        }
        double left = deadline - clock::monotonicMs();
        if (left <= 0) return failAt("init", makeError(ErrorKind::kSandboxUnavailable, "the sandbox set-up took over 10 s"));
        // The init's pidfd first: once the report pipe is at EOF only it can wake us.
        pollfd fds[2] = {{sb.launched.pidfd.get(), POLLIN, 0}, {sb.launched.report.get(), POLLIN, 0}};
        ::poll(fds, sb.reportEof ? 1 : 2, std::min(static_cast<int>(left) + 1, heartbeat::kMaxWaitMs));
        heartbeat::beat();
    }
}

// Whether a prepared sandbox can take its request; `pids` gets its
// processes. A warm program sets itself to idle priority before it moves
// into the cgroup (launcher.cc), and on a busy machine an idle process can
// wait longer for the CPU than setUp() waited for it: one still alive is
// raised and waited for, not thrown away.
Status Runner::usable(LiveSandbox& sb, std::vector<pid_t>* pids) {
    *pids = sb.cgroup->pids();
    double deadline = clock::monotonicMs() + kJoinWaitMs;
    auto joined = [&] { return std::find(pids->begin(), pids->end(), sb.programPid) != pids->end(); };
    while (sb.warm && sb.programPid > 0 && !joined() && alive(sb.programPidfd) && clock::monotonicMs() < deadline) {
        setPolicy({sb.programPid}, SCHED_OTHER);  // its pidfd is open: the pid is still its own
        ::usleep(500);
        heartbeat::beat();
        *pids = sb.cgroup->pids();
    }
    sb.readReports();
    std::string why;
    if (sb.checkInitGone()) why = "its init has exited";
    else if (sb.exited) why = "its program has exited";
    else why = whyBroken(sb, *pids);
    if (!why.empty()) return makeError(ErrorKind::kSandboxUnavailable, why);
    return okStatus();
}

Result<protocol::RunOutcome> Runner::run(const RunSpec& spec) {
    retire(std::move(last_));  // when the caller did not call afterRun()
    failedStep_ = "";
    int slot = slotFor(spec);
    std::unique_ptr<LiveSandbox> sb = std::move(next_[slot]);
    // A lean program, or a pytest exercise, runs in a prepared full sandbox
    // rather than wait for its own to be set up (which happens after the
    // answer). Not the other way round: a full run never takes a lean or
    // pytest one, nor a full one with pytest's pages unless it has pytest
    // tests (it would carry those pages).
    if (!sb && slot != 1) sb = std::move(next_[1]);
    Status ready = okStatus();
    std::vector<pid_t> pids;  // read once: the request path
    if (sb) {
        // One still being set up (a request right after the last answer) is
        // waited for, not thrown away: it is nearly ready.
        sb->readReports();
        ready = sb->ready ? okStatus() : waitReady(*sb);
        if (ready) ready = usable(*sb, &pids);
        if (!ready) {  // its zygote died, say: set one up now instead
            log::warn("prepared sandbox unusable (" + ready.error().message + "); setting one up");
            retire(std::move(sb));
            failedStep_ = "";
        }
    }
    if (!sb) {
        auto fresh = setUp(slot);
        if (!fresh) return fresh.error();
        sb = std::move(fresh.value());
        ready = waitReady(*sb);
        pids = sb->cgroup->pids();  // kReady: a cold init has forked its program; a warm one has moved in (setUp)
    }
    setPolicy(pids, SCHED_OTHER);
    lastWarm_ = sb->warm;
    lastImage_ = sb->image;
    lastPrepared_ = sb->prepared;
    lastPytestAhead_ = sb->pytestAhead;
    timing_ = sb->timing;
    if (!ready) {
        last_ = std::move(sb);
        return ready.error();
    }
    recordSteps(sb->readyReport, &timing_);
    // What the set-up used in the run's cgroup (a warm program's fork and
    // pages written ahead, milliseconds of CPU) is neither the program's
    // CPU time nor out of its half CPU: it would throttle a program that
    // uses its whole budget in its first period.
    if (Status s = sb->cgroup->refillCpuBudget(); !s) log::warn("refilling a run's CPU budget: " + s.error().message);
    sb->cpuBeforeMs = sb->cgroup->cpuMs();

    // The clock starts when the input is handed over.
    double start = clock::monotonicMs();
    protocol::RunOutcome out;
    out.timeoutMs = spec.timeoutMs;
    out.memoryLimitBytes = config_.cgroup.memoryBytes;
    RunIo& io = sb->io;
    Watch w{IoWatch({{io.outRead.get(), &out.out, limits_.outputBytes},
                     {io.errRead.get(), &out.err, limits_.outputBytes},
                     {io.resultRead.get(), &out.observations, limits_.observationBytes}},
                    {{&io.inputWrite, spec.harnessInput}, {&io.stdinWrite, spec.stdinData}}),
            false, false, std::nullopt, false};
    sb->phase = LiveSandbox::Phase::kRunning;
    watchRun(*sb, w, reaper_, start + spec.timeoutMs, spec.exitCodeFromRecords);
    out.wallMs = clock::monotonicMs() - start;
    sb->phase = LiveSandbox::Phase::kFinished;
    bool clean = (sb->exited || w.harnessExit) && w.io.outputsClosed() && !w.timedOut && !w.overflowed;
    if (!clean) {
        killInit(*sb);  // the whole pid namespace goes with it
        // Its namespace is torn down and the pipes reach EOF shortly; read
        // what is left, without waiting on a stuck writer forever.
        sb->readReports();
        w.io.drainFor(250);
        sb->readReports();
    }
    io.stdinWrite.reset();
    io.inputWrite.reset();
    sandbox::CgroupUsage usage = sb->cgroup->usage();
    bool failed = sb->failed;
    ChildReport failure = sb->failure;
    fillOutcome(*sb, w, usage, &out);
    last_ = std::move(sb);
    if (failed) return failAt(stepOf(failure), setupFailure(failure));
    return out;
}

// Off the request path: nothing of the run may survive this (SPEC S5).
// Kills the sandbox and waits (bounded) for its init to finish exiting; a
// sandbox that has not by then is kept dying, for idle() to finish.
void Runner::retire(std::unique_ptr<LiveSandbox> sb) {
    if (!sb) return;
    double t0 = clock::monotonicMs();
    setPolicy(sb->cgroup->pids(), SCHED_IDLE);  // tearing a forked interpreter down takes milliseconds: not before the next answer
    killInit(*sb);
    sb->phase = LiveSandbox::Phase::kDying;
    sb->dyingSinceMs = t0;
    if (!finishTeardown(*sb, kRetireWaitMs)) {
        log::warn("sandbox init " + std::to_string(sb->launched.initPid) + " still exiting " +
                  std::to_string(kRetireWaitMs / 1000) + " s after SIGKILL; its teardown goes on in the background");
        dying_.push_back(std::move(sb));
    }
    timing_.teardownMs = clock::monotonicMs() - t0;
}

// The init's exit waits until every process of its namespace is reaped: the
// warm program too, which may be ours to reap (its zygote died). Once the
// init is reaped, the cgroup is emptied and removed. False when the init
// had not finished within waitMs (0: just look).
bool Runner::finishTeardown(LiveSandbox& sb, int waitMs) {
    double end = clock::monotonicMs() + waitMs;
    for (;;) {
        reaper_.reapExited();
        sb.takeProgramStatus(reaper_);
        if (reaper_.take(sb.launched.initPid)) break;
        double left = end - clock::monotonicMs();
        if (left <= 0) return false;
        pollfd p{sb.launched.pidfd.get(), POLLIN, 0};
        ::poll(&p, 1, std::min(static_cast<int>(left) + 1, 100));
        heartbeat::beat();
    }
    reaper_.forget(sb.programPid);
    if (Status s = sb.cgroup->killAll(); !s) log::error("cgroup kill: " + s.error().message);
    sb.cgroup.reset();  // removes it
    sb.phase = LiveSandbox::Phase::kRetired;
    return true;
}

void Runner::idle() {
    for (auto it = dying_.begin(); it != dying_.end();) {
        if (finishTeardown(**it, 0)) {
            log::info("sandbox init " + std::to_string((*it)->launched.initPid) + " finished exiting after " +
                      std::to_string(static_cast<int>(clock::monotonicMs() - (*it)->dyingSinceMs)) + " ms");
            it = dying_.erase(it);
        } else {
            ++it;
        }
    }
}

// Cold (no zygote): one slot, the full one. Warm: a slot whose zygote is
// ready (a broken zygote prepares nothing: runs set up cold on request).
bool Runner::wantsPrepare(int slot) {
    if (next_[slot]) return false;
    if (zygotes_[0] == nullptr && zygotes_[1] == nullptr && zygotes_[2] == nullptr) return slot == 1;
    Zygote* zygote = slot == kPytestSlot ? zygoteFor(slot) : zygotes_[slot];
    return zygote != nullptr && zygote->ready();
}

bool Runner::wantsPrepare() { return wantsPrepare(0) || wantsPrepare(1) || wantsPrepare(kPytestSlot); }

void Runner::afterRun() {
    retire(std::move(last_));
    idle();
    // The full slot first: its set-up is the longer one to overlap; the
    // pytest one last, as fewer runs need it.
    for (int slot : {1, 0, kPytestSlot}) {
        if (!wantsPrepare(slot)) continue;
        auto sb = setUp(slot);
        if (!sb) {
            log::error("preparing the next sandbox: " + sb.error().message);
            continue;
        }
        sb.value()->prepared = true;
        next_[slot] = std::move(sb.value());
    }
}

}  // namespace pyexec::runner
