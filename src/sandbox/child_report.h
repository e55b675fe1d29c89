// The report pipe from a sandbox's init to the worker: fixed-size records,
// written with one write(2) each, so nothing is allocated in the child.
#pragma once

#include <cstdint>

namespace pyexec::sandbox {

enum class Step : int32_t {
    kCgroup = 1,
    kNamespaces,
    kFilesystem,
    kIdentity,
    kCapabilities,
    kRlimits,
    kSeccomp,
    kFork,
    kExec,
};

const char* stepName(Step step);

// Who writes what: the init writes kReady once the sandbox is complete and,
// cold, kExited when its program exits; warm, kExited comes from the
// zygote (the program's parent; if the zygote died, the worker reaps the
// program itself). kSetupFailed comes from whichever process failed a step.
struct ChildReport {
    enum Kind : int32_t { kSetupFailed = 1, kExited = 2, kReady = 3 };
    int32_t kind = 0;
    int32_t step = 0;   // kSetupFailed: the Step that failed
    int32_t value = 0;  // kSetupFailed: errno; kExited: the program's wait status
    int32_t detail = 0; // kSetupFailed: which item of the step (for the log)
    // kReady and kExited: CLOCK_MONOTONIC ns at the end of each set-up step
    // in the init (index = Step; [0] = its start), for benchmarks.
    int64_t stepEndNs[10] = {};
};

}  // namespace pyexec::sandbox
