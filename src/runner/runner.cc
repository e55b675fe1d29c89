// The life of one cold run, worker side:
//   cgroup → descriptors → launch the sandbox → watch (output caps, wall
//   clock, the init's report) → kill and empty the cgroup → measure.
#include "runner/runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "harness_source.h"
#include "runner/run_io.h"
#include "runner/sandbox_env.h"
#include "runner/zygote.h"
#include "sandbox/launcher.h"

namespace pyexec::runner {
namespace {

using sandbox::ChildReport;


// One stream read into a capped buffer.
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

// Everything the watch loop learns about the run.
struct Watch {
    std::vector<Stream> streams;
    int reportFd;
    int pidfd;
    bool initExited = false;
    bool haveReport = false;
    ChildReport report{};
    bool timedOut = false;
    bool overflowed = false;
    double endMs = 0;

    void readReport() {
        ChildReport r{};
        ssize_t n = ::read(reportFd, &r, sizeof r);
        if (n == static_cast<ssize_t>(sizeof r) && !haveReport) {
            report = r;
            haveReport = true;
        }
    }
};

// Waits for the end: the program's exit reported, or the deadline, or a
// stream over its cap. Returns when the run must stop.
void watchRun(Watch& w, double deadlineMs, size_t capTripStreams) {
    for (;;) {
        std::vector<pollfd> fds;
        for (auto& s : w.streams)
            if (s.open) fds.push_back({s.fd, POLLIN, 0});
        fds.push_back({w.reportFd, POLLIN, 0});
        fds.push_back({w.pidfd, POLLIN, 0});
        double left = deadlineMs - clock::monotonicMs();
        if (left <= 0) {
            w.timedOut = true;
            return;
        }
        int rc = ::poll(fds.data(), fds.size(), static_cast<int>(left) + 1);
        if (rc < 0 && errno != EINTR) return;
        for (size_t i = 0; i < w.streams.size(); ++i) {
            Stream& s = w.streams[i];
            if (!s.open) continue;
            s.drain();
            if (s.overflowed && i < capTripStreams) w.overflowed = true;
        }
        if (w.overflowed) return;
        if (fds[fds.size() - 2].revents) w.readReport();
        if (fds.back().revents) {
            w.initExited = true;
            return;
        }
    }
}

// After the init is gone: its namespace is torn down and the pipes reach EOF
// shortly; read what is left, without waiting on a stuck writer forever.
void drainAfterExit(Watch& w) {
    double until = clock::monotonicMs() + 250;
    for (;;) {
        w.readReport();
        std::vector<pollfd> fds;
        for (auto& s : w.streams)
            if (s.open) fds.push_back({s.fd, POLLIN, 0});
        if (fds.empty()) return;
        double left = until - clock::monotonicMs();
        if (left <= 0) return;
        ::poll(fds.data(), fds.size(), static_cast<int>(left) + 1);
        for (auto& s : w.streams)
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

}  // namespace

Runner::Runner(const sandbox::SandboxConfig& config, sandbox::CgroupManager& cgroups,
                       RunnerLimits limits)
    : config_(config), cgroups_(cgroups), limits_(limits) {}

namespace {

// What the run ended with, from the init's report, the watch and the cgroup.
void fillOutcome(const Watch& w, const sandbox::CgroupUsage& usage, const rusage& ru,
                 protocol::RunOutcome* out) {
    double rusageMs = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    out->cpuMs = usage.cpuMs > 0 ? usage.cpuMs : rusageMs;
    out->memoryPeakBytes = usage.memoryPeakBytes;
    out->memoryExceeded = usage.oomKilled;
    out->timedOut = w.timedOut;
    out->outputTruncated = w.overflowed;
    out->observationsTruncated = w.streams[2].overflowed;
    if (w.haveReport && w.report.kind == ChildReport::kExited) {
        int st = w.report.value;
        if (WIFEXITED(st)) out->exitCode = WEXITSTATUS(st);
        if (WIFSIGNALED(st)) out->signal = WTERMSIG(st);
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

}  // namespace

// Warm when the zygote is ready (a broken zygote makes the run cold, in the
// same sandbox), cold otherwise.
Result<sandbox::Launched> Runner::spawnSandbox(sandbox::RunCgroup& cgroup, const sandbox::ChildIo& io,
                                               const sandbox::Program& program, int cpuSeconds) {
    lastWarm_ = zygote_ != nullptr && zygote_->ready();
    if (lastWarm_) {
        auto launched = zygote_->spawn(cgroup.dirFd(), io, cpuSeconds);
        if (launched || zygote_->ready()) return launched;
        lastWarm_ = false;
    }
    return sandbox::spawn(config_, cgroup.dirFd(), io, program, cpuSeconds);
}

// The life of one run: cgroup → descriptors → launch → watch → kill and
// remove → measure. Every fd, the cgroup and the init have one owner here.
Result<protocol::RunOutcome> Runner::run(const RunSpec& spec) {
    double t0 = clock::monotonicMs();
    auto cg = cgroups_.createRun(std::to_string(::getpid()) + "-" + std::to_string(++runCounter_), config_.cgroup);
    if (!cg) return cg.error();
    auto ioResult = makeRunIo(spec.stdinData, spec.harnessInput);
    if (!ioResult) return ioResult.error();
    RunIo& io = ioResult.value();
    timing_.cgroupMs = clock::monotonicMs() - t0;

    // The embedded source is a string literal, so it is NUL-terminated and
    // can be an argument as it is (execve does not write to it).
    char* harness = const_cast<char*>(gen::kHarnessSource.data());
    char* argv[] = {const_cast<char*>(config_.python.c_str()), const_cast<char*>("-u"), const_cast<char*>("-B"),
                    const_cast<char*>("-s"), const_cast<char*>("-c"), harness, nullptr};
    sandbox::ChildIo childIo{io.stdinChild.get(), io.outChild.get(), io.errChild.get(), io.inputChild.get(),
                             io.resultChild.get()};
    double t1 = clock::monotonicMs();
    sandbox::Program program{argv, const_cast<char* const*>(kSandboxEnv), nullptr};
    auto launched = spawnSandbox(*cg.value(), childIo, program, spec.timeoutMs / 1000 + 2);
    if (!launched) return launched.error();
    if (Status s = sandbox::release(launched.value(), *cg.value(), cg.value()->dirFd() >= 0); !s) {
        if (!lastWarm_) ::waitpid(launched.value().initPid, nullptr, 0);
        return s.error();
    }
    io.closeChildEnds();
    double start = clock::monotonicMs();
    timing_.launchMs = start - t1;
    timing_.cloneMs = launched.value().cloneMs;
    timing_.placeMs = launched.value().placeMs;

    protocol::RunOutcome out;
    out.timeoutMs = spec.timeoutMs;
    out.memoryLimitBytes = config_.cgroup.memoryBytes;
    Watch w{{Stream{io.outRead.get(), &out.out, limits_.outputBytes},
             Stream{io.errRead.get(), &out.err, limits_.outputBytes},
             Stream{io.resultRead.get(), &out.observations, limits_.observationBytes}},
            launched.value().report.get(), launched.value().pidfd.get()};
    watchRun(w, start + spec.timeoutMs, 2);
    out.wallMs = clock::monotonicMs() - start;

    double t2 = clock::monotonicMs();
    pid_t init = launched.value().initPid;
    if (!w.initExited) ::kill(init, SIGKILL);  // the whole pid namespace goes with it
    rusage ru{};
    if (!lastWarm_) ::wait4(init, nullptr, 0, &ru);  // a warm init is the zygote's child
    drainAfterExit(w);
    if (Status s = cg.value()->killAll(); !s) log::error("cgroup kill: " + s.error().message);
    sandbox::CgroupUsage usage = cg.value()->usage();
    cg.value().reset();  // removed here, inside the measured teardown
    timing_.teardownMs = clock::monotonicMs() - t2;

    if (w.haveReport && w.report.kind == ChildReport::kSetupFailed) return setupFailure(w.report);
    if (w.haveReport && w.report.kind == ChildReport::kExited) recordSteps(w.report, &timing_);
    fillOutcome(w, usage, ru, &out);
    return out;
}

}  // namespace pyexec::runner
