// The runner: sandboxed runs of the harness, one at a time per worker.
// Cold, a run's program is a fresh interpreter (exec of /usr/bin/python3
// running the embedded harness); warm, a fork of the worker's zygote
// (zygote.h), whose interpreter has numpy and pandas imported already. Both
// go through the same sandbox (sandbox/launcher.h).
//
// Theory of operation: the sandbox of the next run is set up before its
// request arrives (prepare(), after the previous answer has gone out): cgroup,
// namespaces, root, identity, capabilities, rlimits, seccomp, and the
// harness waiting for its input on a pipe. A request then only hands over
// the code and stdin and starts the clock. The answer goes out once the
// program has exited and its output is drained; killing leftovers and
// removing the cgroup happen after the answer (afterRun()). A request that
// finds no prepared sandbox (the first one, or after a failure) sets one up
// on the spot.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runner/reaper.h"
#include "protocol/image_choice.h"
#include "protocol/outcome.h"
#include "sandbox/cgroup.h"
#include "sandbox/launcher.h"
#include "sandbox/sandbox_config.h"

namespace pyexec::runner {

class Zygote;
struct LiveSandbox;

struct RunSpec {
    std::string harnessInput;  // JSON for fd 3 (protocol::buildHarnessInput)
    std::string stdinData;
    int timeoutMs = 2000;
    // The exit status the harness's records give once they are complete and
    // its own (protocol::harnessExitCode); lets the answer go out before the
    // kernel has torn the program down. Empty: wait for the kernel.
    std::function<std::optional<int>(std::string_view records)> exitCodeFromRecords;
    // Warm: the interpreter the program needs (protocol::imageFor). A lean
    // or pytest program may run in the full image (when its own is not
    // ready); a full one never runs in another.
    protocol::Image image = protocol::Image::kFull;
    // It has pytest tests: a pytest run takes the sandbox kept for them, and
    // a full one too while that sandbox is of the full image (pytest's
    // working set written ahead).
    bool pytest = false;
};

struct RunnerLimits {
    size_t outputBytes = 1 << 20;         // per stream; past it the run is killed
    size_t observationBytes = 16 << 20;   // harness records (the engine sets the protocol's budget)
    int cpuSeconds = 32;                  // RLIMIT_CPU, a backstop behind the wall clock
};

// Timing of the sandbox set-up of the last run, for benchmarks and the log.
struct SetupTiming {
    double cgroupMs = 0;    // run cgroup and descriptors
    double cloneMs = 0;     // clone3 with namespaces (in the zygote when warm)
    double stepMs[10] = {}; // in the init, by sandbox::Step (1 = cgroup; 2 = descriptors)
    double teardownMs = 0;  // kill, reap, empty and remove the cgroup (after the answer)
};

class Runner {
public:
    Runner(const sandbox::SandboxConfig& config, sandbox::CgroupManager& cgroups, RunnerLimits limits = {});
    ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    // Runs one program. Errors are kSandboxUnavailable (a set-up step failed:
    // the run did not happen) or kInternal.
    Result<protocol::RunOutcome> run(const RunSpec& spec);
    // After the answer: tears the last run down, then sets up the next
    // sandbox (warm: only once the zygote is ready).
    void afterRun();
    // Whether afterRun() would set up a sandbox now (the worker calls it
    // while idle, e.g. when the zygote has just become ready).
    bool wantsPrepare();
    // Worker, while idle: finishes the teardown of sandboxes whose init was
    // still exiting when they were retired (never waits).
    void idle();

    const SetupTiming& lastTiming() const { return timing_; }
    // Where the last run() that failed with kSandboxUnavailable failed: an
    // init's step (sandbox::stepName), or the worker's own "cgroup",
    // "pipes", "clone", "init" (died or took too long) or "zygote".
    const char* lastFailedStep() const { return failedStep_; }
    // Warm mode: runs of `image` fork this zygote's interpreter once it is
    // ready. Without a lean or pytest zygote their runs are full; without a
    // full one, every run is cold.
    void attachZygote(protocol::Image image, Zygote* zygote) { zygotes_[slot(image)] = zygote; }
    bool lastRunWarm() const { return lastWarm_; }
    protocol::Image lastRunImage() const { return lastImage_; }
    bool lastRunPrepared() const { return lastPrepared_; }
    bool lastRunPytestAhead() const { return lastPytestAhead_; }

private:
    // A prepared sandbox per image, next_[slot(image)], and the zygote of
    // each, zygotes_[slot(image)]. The pytest one (kPytestSlot) has pytest's
    // working set written ahead, for pytest exercises alone: every other
    // run would carry its pages, charged to its memory, and pay for writing
    // them. Until the pytest zygote is ready it is a fork of the full one.
    static int slot(protocol::Image image) {
        return image == protocol::Image::kLean ? 0 : image == protocol::Image::kPytest ? kPytestSlot : 1;
    }
    static constexpr int kPytestSlot = 2;
    // Where a request is served: lean only with a lean zygote.
    int slotFor(const RunSpec& spec) const;
    // The zygote a slot's sandbox forks: its own when ready, else the full one.
    Zygote* zygoteFor(int slot) const;
    bool wantsPrepare(int slot);
    Result<std::unique_ptr<LiveSandbox>> setUp(int slot);
    Status waitReady(LiveSandbox& sandbox);
    Status usable(LiveSandbox& sandbox, std::vector<pid_t>* pids);
    void retire(std::unique_ptr<LiveSandbox> sandbox);
    bool finishTeardown(LiveSandbox& sandbox, int waitMs);
    Error failAt(const char* step, Error error) { return (failedStep_ = step, std::move(error)); }

    const sandbox::SandboxConfig& config_;
    sandbox::CgroupManager& cgroups_;
    RunnerLimits limits_;
    unsigned long runCounter_ = 0;
    SetupTiming timing_;
    Zygote* zygotes_[3] = {nullptr, nullptr, nullptr};  // lean, full, pytest
    bool lastWarm_ = false;
    protocol::Image lastImage_ = protocol::Image::kFull;
    bool lastPrepared_ = false;
    bool lastPytestAhead_ = false;
    const char* failedStep_ = "";
    // Prepared, waiting for a request: one per image, and the pytest one.
    // They may coexist with a running run: none has run any code of a request
    // (each is its own pid, mount, IPC and cgroup namespace; the per-worker
    // network namespace holds nothing of a run once its processes are gone,
    // and every run is retired before the next one starts).
    std::unique_ptr<LiveSandbox> next_[3];
    std::unique_ptr<LiveSandbox> last_;  // answered, to be torn down
    std::vector<std::unique_ptr<LiveSandbox>> dying_;  // killed; init not reaped yet
    Reaper reaper_;                      // the worker's children, all of them
};

}  // namespace pyexec::runner
