// Building every JSON answer: /run results (with the test verdicts computed
// here, outside the sandbox), error bodies, /health, and the per-request log
// line. Runs in a worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "protocol/outcome.h"
#include "protocol/request.h"

namespace pyexec::protocol {

// One entry of `testResults` judged inside the sandbox (a pytest test,
// SPEC §3.1): the sandbox's word, shown with "judgedIn": "sandbox".
struct SandboxResult {
    std::string description;  // the test's name, after the test's description if any
    bool passed = false;
    std::string outcome;      // passed failed error skipped xfailed xpassed
    std::string message;      // empty: none
    bool messageTruncated = false;
};

// expectedJson and actualJson are echoes (text.h): at most 8 KiB of JSON
// each, cut where the flags say.
struct TestVerdict {
    bool passed = false;
    std::string expectedJson;  // JSON text
    std::string actualJson;    // JSON text ("null" when nothing was observed)
    std::string message;       // empty unless it failed for a reason other than a different value
    bool expectedTruncated = false;
    bool actualTruncated = false;
    std::vector<SandboxResult> sandbox;  // pytest: its entries, in place of this test's own
};

struct RunAnswer {
    std::string body;       // the /run JSON
    std::string status;     // ok, error, syntax_error, timeout, memory_limit, output_limit, killed
};

// Output normalisation of SPEC §3: CRLF→LF, trailing spaces of each line
// removed, leading and trailing blank lines removed.
std::string normaliseOutput(std::string_view text);

// Decodes bytes as UTF-8, replacing every invalid sequence with U+FFFD.
std::string sanitiseUtf8(std::string_view bytes);

// JSON equality of SPEC §3 (numbers numerically, within tolerance; booleans
// only equal booleans; arrays element-wise; objects key-wise).
bool jsonEqual(std::string_view expectedJson, std::string_view actualJson,
               std::optional<double> tolerance);

// Verdicts of every test from the program's stdout and the harness records.
std::vector<TestVerdict> judgeTests(const RunRequest& request, const RunOutcome& outcome);

class RecordStream;
// `records`: the run's record stream as the runner already parsed it, if it
// did (observations.h); nullptr parses outcome.observations here.
RunAnswer buildRunAnswer(const RunRequest& request, const RunOutcome& outcome,
                         std::string_view requestId, RecordStream* records = nullptr);

// {"error": {"code", "message", "field"?}, "requestId"} for a 4xx/5xx.
int httpStatusOf(ErrorKind kind);
std::string errorCodeOf(ErrorKind kind);
std::string buildErrorBody(const Error& error, std::string_view requestId);
std::string buildErrorBody(std::string_view code, std::string_view message,
                           std::string_view requestId);

// Per-request log record (SPEC §7): no user code or output.
struct RequestLog {
    std::string requestId, method, path, runStatus;
    std::string sandbox;  // how the run was served: "warm, prepared", "cold, set up on request", ...
    int httpStatus = 0;
    double wallMs = -1, cpuMs = -1;
    std::optional<uint64_t> memoryPeakBytes;
};
std::string buildLogLine(const RequestLog& entry);

// Escapes a string for inclusion in JSON (quotes included).
std::string jsonString(std::string_view text);

}  // namespace pyexec::protocol

namespace pyexec::protocol {

// /health (SPEC §6). The probe run prints one JSON object on stdout:
// {"python": "3.11.2", "numpy": "1.24.2", "pandas": "1.5.3", "matplotlib":
// "3.6.3", "pytest": "7.2.1"}; parseHealthProbe reads it (false when stdout
// is not such an object).
struct ProbeVersions {
    std::string python, numpy, pandas, matplotlib, pytest;
};
bool parseHealthProbe(std::string_view probeStdout, ProbeVersions* out);

struct HealthInfo {
    bool healthy = false;
    ProbeVersions versions;
    std::string version;            // pyexecd's own
    std::string schemaVersion;      // "2026-02-07"
    std::string pythonExecutable;
    double healthCheckMs = 0;
    std::string sandboxMode;        // "cold" or "warm"
    std::string cgroup;             // "v2", "v1" or "none"
    std::string seccompProfile;     // file name of the profile
    unsigned uid = 60000, gid = 60000;  // the first sandbox uid and gid
    unsigned idCount = 1;               // uids (and gids) in use: one per worker slot
    std::string network;            // "shared" (one empty namespace) or "per-run"
    int timeoutMs = 2000, maxTimeoutMs = 10000;
    double cpus = 0.5;
    uint64_t memoryBytes = 256ull << 20;
    int pidsMax = 50;
    uint64_t outputBytes = 1 << 20;
    uint64_t codeBytes = 100 << 10;
    uint64_t stdinBytes = 1 << 20;
    uint64_t tmpBytes = 64ull << 20;
    bool ioLimited = false;  // false: the io* limits are shown as null
    uint64_t ioReadBps = 0, ioReadIops = 0, ioWriteBps = 0, ioWriteIops = 0;  // 0: no limit (null)
    int workersTotal = 0, workersBusy = 0;
    std::vector<std::pair<std::string, std::string>> checks;  // name → what failed (unhealthy only)
};
std::string buildHealthBody(const HealthInfo& info, std::string_view requestId);

}  // namespace pyexec::protocol
