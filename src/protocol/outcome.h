// What a sandboxed run produced, as the runner measured it. Plain data: the
// protocol module turns it (with the harness's observation records) into the
// /run answer. Filled by the runner in the worker process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pyexec::protocol {

struct RunOutcome {
    std::string out;                  // program's stdout bytes (at most the cap)
    std::string err;                  // program's stderr bytes (at most the cap)
    std::string observations;         // harness records (NDJSON) read from its result pipe
    bool outputTruncated = false;     // a stream passed the cap; the run was killed
    bool observationsTruncated = false;
    bool timedOut = false;            // killed at the wall-clock limit
    bool memoryExceeded = false;      // the cgroup's OOM killer fired
    int exitCode = -1;                // exit status when the harness exited, else -1
    int signal = 0;                   // terminating signal, 0 when it exited
    int timeoutMs = 0;                // the limit that applied
    double wallMs = 0;                // program's wall time
    double cpuMs = 0;                 // user + system time of all its processes
    std::optional<uint64_t> memoryPeakBytes;  // cgroup peak; empty where the kernel does not tell
    uint64_t memoryLimitBytes = 0;    // the limit that applied (for the error line)
};

}  // namespace pyexec::protocol
