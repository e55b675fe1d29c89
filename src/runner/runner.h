// The runner: one sandboxed run of the harness. Cold, each run is a fresh
// interpreter (fork + exec of /usr/bin/python3 running the embedded harness);
// warm, it is a fork of the worker's zygote (zygote.h), whose interpreter has
// numpy and pandas imported already. Both go through the same sandbox
// (sandbox/launcher.h). It feeds the program its input through sealed
// memfds, reads stdout, stderr and the harness's records through pipes with
// caps, enforces the wall-clock limit, and measures the run. One worker uses
// one Runner, one run at a time.
#pragma once

#include <cstddef>
#include <string>

#include "common/result.h"
#include "protocol/outcome.h"
#include "sandbox/cgroup.h"
#include "sandbox/launcher.h"
#include "sandbox/sandbox_config.h"

namespace pyexec::runner {

class Zygote;

struct RunSpec {
    std::string harnessInput;  // JSON for fd 3 (protocol::buildHarnessInput)
    std::string stdinData;
    int timeoutMs = 2000;
};

struct RunnerLimits {
    size_t outputBytes = 1 << 20;         // per stream; past it the run is killed
    size_t observationBytes = 16 << 20;   // harness records
};

// Timing of the sandbox set-up of the last run, for benchmarks and the log.
struct SetupTiming {
    double cgroupMs = 0;    // run cgroup and descriptors
    double launchMs = 0;    // clone3 with namespaces, cgroup placement, release
    double cloneMs = 0, placeMs = 0;  // the two parts of launchMs that matter
    double stepMs[10] = {}; // in the init, by sandbox::Step (namespaces = fd clean-up)
    double teardownMs = 0;  // kill, drain, empty and remove the cgroup
};

class Runner {
public:
    Runner(const sandbox::SandboxConfig& config, sandbox::CgroupManager& cgroups,
               RunnerLimits limits = {});
    // Runs one program. Errors are kSandboxUnavailable (a set-up step failed:
    // the run did not happen) or kInternal.
    Result<protocol::RunOutcome> run(const RunSpec& spec);
    const SetupTiming& lastTiming() const { return timing_; }
    // Warm mode: runs fork this zygote's interpreter once it is ready.
    void attachZygote(Zygote* zygote) { zygote_ = zygote; }
    bool lastRunWarm() const { return lastWarm_; }

private:
    const sandbox::SandboxConfig& config_;
    sandbox::CgroupManager& cgroups_;
    RunnerLimits limits_;
    unsigned long runCounter_ = 0;
    SetupTiming timing_;
    Zygote* zygote_ = nullptr;
    bool lastWarm_ = false;

    Result<sandbox::Launched> spawnSandbox(sandbox::RunCgroup& cgroup, const sandbox::ChildIo& io,
                                           const sandbox::Program& program, int cpuSeconds);
};

}  // namespace pyexec::runner
