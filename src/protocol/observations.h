// The harness's result records (src/harness/PROTOCOL.md), read in the worker
// after a run, and the run's status derived from them and the runner's
// measurements. Private to src/protocol, but for the budgets and RecordStream
// (the engine and the worker, which hand the runner its exit-code check).
//
// The records come through a pipe the program can also write to, so they are
// untrusted. The harness writes exactly one `finished` record, one record per
// observation in test order, the records of each pytest module in test
// order (its results, then its `done`), one record per out/ file, and `end`; a stream that deviates in any way (a
// line that does not parse, a second `finished`, a record out of order or
// after `end`) is marked tampered and none of it counts: the tests that need
// observations fail. What remains possible (a program that writes a complete,
// well-formed stream and exits before the harness can) gains nothing: expected
// values never enter the sandbox, so a forgery can only claim what the program
// could have computed honestly, and the status comes from the runner.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/exercise_records.h"
#include "protocol/json_value.h"
#include "protocol/outcome.h"
#include "protocol/request.h"
#include "protocol/response.h"

namespace pyexec::protocol {

struct FinishedRecord {
    bool syntaxError = false;
    int exitCode = -1;                 // the status the harness exits with; -1 if not given
    std::optional<std::string> error;  // one-line summary, e.g. "ZeroDivisionError: ... (line 3)"
};

// What the harness reported of one pytest test module.
struct PytestModuleRecords {
    std::vector<PytestResult> results;
    std::optional<PytestDone> done;  // empty: the module did not finish
};

struct Observations {
    bool tampered = false;  // the stream was not the harness's alone; nothing else is set
    bool complete = false;  // it ended with `end`, every record in its place
    std::optional<FinishedRecord> finished;
    // One slot per test; empty when the test needs no observation or none was
    // reported. A variable record has a bool "exists" (and, when true, a
    // string "type" and a "value"); a call record a bool "ok" (and a "value"
    // when true, a string "error" when false); a failed observation has only
    // a string "error" (isObservationFailure).
    std::vector<std::optional<JsonValue>> records;
    // One slot per test (used by pytest tests): their results, after the
    // observations, in test order.
    std::vector<PytestModuleRecords> pytest;
    // The files the program left in out/ (after the pytest records), sorted
    // by path, and how many more there were (end's "filesOmitted").
    std::vector<OutFile> files;
    uint64_t filesOmitted = 0;
};

// What the harness can write at most (src/harness/PROTOCOL.md), checked
// before anything is parsed: a stream past them is not the harness's alone
// (tampered), never a big allocation in the worker.
// The exercise records (pytest results, out/ files) come on top of the
// observations' (exercise_records.h): the largest record is an out/ file's.
inline constexpr size_t kMaxValueRecordBytes = 1 << 20;     // an observation record, without its newline
inline constexpr size_t kMaxRecordBytes = std::max(kMaxValueRecordBytes, kMaxExerciseRecordBytes);
inline constexpr size_t kMaxResultStreamBytes =             // 8 MiB of values, then cut reprs, end;
    (10 << 20) + kMaxExerciseStreamBytes;                   // then pytest's 2 MiB and out/'s base64
inline constexpr size_t kMaxResultStreamValues =            // JSON values of all records together:
    250000 + kMaxExerciseStreamValues;                      // 200,000 elements, plus each record's fields

// `cutShort`: the runner stopped reading at its cap (RunOutcome::observationsTruncated).
Observations parseObservations(std::string_view ndjson, const RunRequest& request, bool cutShort = false);

// One run's record stream, parsed once: the runner asks for the harness's
// exit code when the stream is complete (harnessExitCode below), the answer
// for the observations. Worker; lives for one request.
class RecordStream {
public:
    explicit RecordStream(const RunRequest& request) : request_(request) {}
    std::optional<int> exitCode(std::string_view ndjson);
    const Observations& observations(std::string_view ndjson, bool cutShort);

private:
    const RunRequest& request_;
    std::optional<Observations> parsed_;
    size_t parsedBytes_ = 0;
    bool parsedCutShort_ = false;
};

// For the runner: when the stream is complete and exactly the harness's (as
// parseObservations checks it), the status the harness said it exits with
// (`finished`.exitCode, 0–255). The harness writes `end` after its stdout and
// stderr are closed and just before os._exit, so this lets the answer go out
// without waiting for the kernel to tear the program's address space down. A
// program that forges a whole stream this way gains nothing it could not get
// by exiting with that status itself.
std::optional<int> harnessExitCode(std::string_view ndjson, const RunRequest& request);

// {"i": 2, "error": "observation failed: …"}: the harness could not take it.
bool isObservationFailure(const JsonValue& record);
// The record's "value" went over the harness's caps and is a cut repr string.
bool isTruncated(const JsonValue& record);

struct RunSummary {
    std::string status;                // ok, error, syntax_error, timeout, memory_limit, output_limit, killed
    std::optional<std::string> error;  // the one-line `error` of the answer
};

// Status precedence: memory_limit > timeout > output_limit (the three kills by
// a limit, which also show as SIGKILL) > syntax_error > killed > error > ok.
RunSummary summariseRun(const RunOutcome& outcome, const Observations& observations,
                        int requestTimeoutMs);

// "SIGKILL" for 9, "signal 77" for a number without a name.
std::string signalName(int signal);

// Verdicts of every test; `status` is summariseRun's.
std::vector<TestVerdict> judgeWithObservations(const RunRequest& request, const RunOutcome& outcome,
                                               const Observations& observations,
                                               std::string_view status);

}  // namespace pyexec::protocol
