// The cold runner: each run is a fresh interpreter (fork + exec of
// /usr/bin/python3 running the embedded harness) inside a fresh sandbox.
// It feeds the program its input through sealed memfds, reads stdout, stderr
// and the harness's records through pipes with caps, enforces the wall-clock
// limit, and measures the run. Used by one worker at a time.
#pragma once

#include <cstddef>
#include <string>

#include "common/result.h"
#include "protocol/outcome.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox_config.h"

namespace pyexec::runner {

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

class ColdRunner {
public:
    ColdRunner(const sandbox::SandboxConfig& config, sandbox::CgroupManager& cgroups,
               RunnerLimits limits = {});
    // Runs one program. Errors are kSandboxUnavailable (a set-up step failed:
    // the run did not happen) or kInternal.
    Result<protocol::RunOutcome> run(const RunSpec& spec);
    const SetupTiming& lastTiming() const { return timing_; }

private:
    const sandbox::SandboxConfig& config_;
    sandbox::CgroupManager& cgroups_;
    RunnerLimits limits_;
    unsigned long runCounter_ = 0;
    SetupTiming timing_;
};

}  // namespace pyexec::runner
