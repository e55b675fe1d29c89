// The harness's records for graded exercises (src/harness/PROTOCOL.md,
// src/harness/exercise.py): pytest results, the end of each pytest module,
// and the files the program left in out/. Read in the worker from the same
// untrusted channel as the observations (observations.h), so every field is
// checked against the harness's own caps before it can enter an answer.
// Private to src/protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "protocol/json_value.h"
#include "protocol/workspace.h"

namespace pyexec::protocol {

// The harness's caps (exercise.py holds the same numbers).
inline constexpr size_t kPytestNameBytes = 1024;     // UTF-8 bytes of a test's name
inline constexpr size_t kPytestMessageBytes = 8192;  // of one message or module error
inline constexpr size_t kPytestResultsPerRun = 500;  // listed results, all modules
inline constexpr size_t kPytestRecordBytes = 2 << 20;  // all pytest records of a run
inline constexpr size_t kOutFiles = 10;              // files of out/ reported
inline constexpr uint64_t kOutFileBytes = 2 << 20;   // their content in all

// The largest record of each kind the harness can write, for the result
// channel's per-record budget. Records are ASCII JSON: a byte of text
// becomes at most 6 (a control character as \u00XX; other characters take
// \uXXXX or a surrogate pair for 2 to 4 UTF-8 bytes, 3 per byte at most).
inline constexpr size_t kJsonEscapeFactor = 6;
inline constexpr size_t kMaxPytestResultRecordBytes =
    kJsonEscapeFactor * (kPytestNameBytes + kPytestMessageBytes) + 256;
inline constexpr size_t kMaxPytestDoneRecordBytes = kJsonEscapeFactor * kPytestMessageBytes + 256;
inline constexpr size_t kMaxFileRecordBytes = 4 * ((kOutFileBytes + 2) / 3) + kMaxPathBytes + 128;
// The largest of the above: an out/ file record with 2 MiB of content.
inline constexpr size_t kMaxExerciseRecordBytes = kMaxFileRecordBytes;
static_assert(kMaxExerciseRecordBytes >= kMaxPytestResultRecordBytes &&
              kMaxExerciseRecordBytes >= kMaxPytestDoneRecordBytes);

// All the exercise records of a run together, on top of the observations':
// pytest's budget (results and modules' ends), then out/'s files (base64 of
// 2 MiB in all, and each record's path and fields).
inline constexpr size_t kMaxExerciseStreamBytes =
    kPytestRecordBytes + 4 * ((kOutFileBytes + 2) / 3) + kOutFiles * (kMaxPathBytes + 128);
// Their JSON values: 6 per result, 7 per module's end (at most 100 tests),
// 4 per file, 1 for end's filesOmitted.
inline constexpr size_t kMaxExerciseStreamValues = kPytestResultsPerRun * 6 + 100 * 7 + kOutFiles * 4 + 1;
// A description's prefix repeated on each of a module's entries (excerpt).
inline constexpr size_t kPytestPrefixBytes = 256;

// {"test": i, "name": "test_add[2-3]", "outcome": "failed", "message": "…", "messageTruncated": true}
struct PytestResult {
    std::string name;
    std::string outcome;  // passed failed error skipped xfailed xpassed
    std::optional<std::string> message;
    bool messageTruncated = false;
};

// {"test": i, "done": true, "collected": N, "error": null | "…", "unlisted": u, "unlistedFailed": f}
struct PytestDone {
    int64_t collected = 0;
    std::optional<std::string> error;  // why the module gave no (or not all) results
    int64_t unlisted = 0;              // results past kPytestResultsPerRun: counted only
    int64_t unlistedFailed = 0;
};

// {"file": "out/plot.png", "bytes": N, "base64": "…"} or {…, "truncated": true}
struct OutFile {
    std::string path;
    uint64_t bytes = 0;
    std::optional<std::string> base64;  // empty when truncated (over the budget)
};

// The record's pytest module index ("test"), or -1 when it has none.
int64_t pytestIndexOf(const JsonValue& record);
bool isPytestDone(const JsonValue& record);

// Each reads one record; false when it is not exactly what the harness writes.
bool readPytestResult(const JsonValue& record, PytestResult* out);
bool readPytestDone(const JsonValue& record, PytestDone* out);
// `budgetLeft` is the out/ content not yet used by earlier records.
bool readOutFile(const JsonValue& record, uint64_t budgetLeft, OutFile* out);

// "passed", "skipped", "xfailed" and "xpassed" count as passed (SPEC §3.1).
bool pytestOutcomePasses(std::string_view outcome);

}  // namespace pyexec::protocol
