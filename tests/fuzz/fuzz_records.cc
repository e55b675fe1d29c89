// libFuzzer harness for the result channel (src/protocol/observations.h and
// src/harness/PROTOCOL.md): the harness's NDJSON records as the worker reads
// them, and the answer built from them.
//
// Input: one line holding a /run request body (it says which tests need which
// observation; a line that is not a valid request stands for a request with no
// tests), then the bytes read from fd 4. Every call checks:
//  - a tampered stream keeps nothing; a complete one has exactly one record
//    per test that needs an observation, each carrying its own "i", and
//    exactly one `finished` line;
//  - harnessExitCode gives a status exactly when the stream is complete, and
//    the one `finished` carries;
//  - a complete stream parses the same when parsed again, and when written
//    out again record by record; anything after its `end` tampers it;
//  - parsing allocates at most kMaxBytesPerInputByte per input byte (plus a
//    little), so a big stream is never a far bigger allocation;
//  - the /run answer built from it is JSON with one result per test (a
//    pytest test's entries in its place), and a tampered stream passes no
//    test that needs an observation, no pytest entry, and keeps no out/ file;
//  - no RapidJSON assertion fires.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "protocol/json_value.h"
#include "protocol/observations.h"
#include "protocol/request.h"
#include "protocol/response.h"

using namespace pyexec;
using namespace pyexec::protocol;

namespace {

// The parse's peak heap growth, per byte of the stream, and a fixed allowance
// (vectors sized per test, the allocator's rounding). A JSON value is an
// 88-byte node and `[0,0,…]` spends 2 bytes on each, so a tree costs up to
// about 130 bytes per input byte while its vectors grow; past this bound the
// cost is no longer linear in the stream.
constexpr size_t kMaxBytesPerInputByte = 256;
constexpr size_t kFixedAllowance = 64 * 1024;

// The worst ratio seen, printed at exit when FUZZ_REPORT_PEAK is set.
double gWorstRatio = 0;
size_t gWorstPeak = 0, gWorstSize = 0;

void notePeak(size_t peak, size_t size) {
    if (size < 256) return;  // the fixed allowance dominates small inputs
    double ratio = static_cast<double>(peak) / static_cast<double>(size);
    if (ratio <= gWorstRatio) return;
    gWorstRatio = ratio;
    gWorstPeak = peak;
    gWorstSize = size;
}

void reportPeak() {
    std::fprintf(stderr, "fuzz_records: worst parse peak %zu bytes for a %zu-byte stream (%.1f per byte)\n",
                 gWorstPeak, gWorstSize, gWorstRatio);
}

bool needsObservation(const TestSpec& t) {
    return t.type != TestType::kOutput && t.type != TestType::kFunctionCallOutput && t.type != TestType::kPytest;
}

size_t countFinishedLines(std::string_view stream) {
    size_t n = 0, start = 0;
    while (start < stream.size()) {
        size_t end = stream.find('\n', start);
        if (end == std::string_view::npos) break;
        Result<JsonValue> v = parseJson(stream.substr(start, end - start));
        start = end + 1;
        if (!v.ok()) continue;
        const JsonValue* event = v.value().find("event");
        if (event != nullptr && event->isString() && event->text == "finished") ++n;
    }
    return n;
}

std::string recordText(const std::optional<JsonValue>& r) { return r ? toJson(*r) : std::string("-"); }

bool sameObservations(const Observations& a, const Observations& b) {
    if (a.tampered != b.tampered || a.complete != b.complete || a.records.size() != b.records.size() ||
        a.finished.has_value() != b.finished.has_value()) {
        return false;
    }
    if (a.finished && (a.finished->exitCode != b.finished->exitCode ||
                       a.finished->syntaxError != b.finished->syntaxError || a.finished->error != b.finished->error)) {
        return false;
    }
    for (size_t i = 0; i < a.records.size(); ++i) {
        if (recordText(a.records[i]) != recordText(b.records[i])) return false;
    }
    if (a.pytest.size() != b.pytest.size() || a.files.size() != b.files.size() || a.filesOmitted != b.filesOmitted) {
        return false;
    }
    for (size_t i = 0; i < a.pytest.size(); ++i) {
        const PytestModuleRecords &x = a.pytest[i], &y = b.pytest[i];
        if (x.results.size() != y.results.size() || x.done.has_value() != y.done.has_value()) return false;
        for (size_t k = 0; k < x.results.size(); ++k) {
            if (x.results[k].name != y.results[k].name || x.results[k].outcome != y.results[k].outcome ||
                x.results[k].message != y.results[k].message) {
                return false;
            }
        }
        if (x.done && (x.done->collected != y.done->collected || x.done->error != y.done->error ||
                       x.done->unlisted != y.done->unlisted)) {
            return false;
        }
    }
    for (size_t i = 0; i < a.files.size(); ++i) {
        if (a.files[i].path != b.files[i].path || a.files[i].bytes != b.files[i].bytes ||
            a.files[i].base64 != b.files[i].base64) {
            return false;
        }
    }
    return true;
}

// A complete stream's exercise records (pytest's, out/'s), written out again.
std::string rewrittenExercise(const Observations& obs) {
    std::string out;
    for (size_t i = 0; i < obs.pytest.size(); ++i) {
        const PytestModuleRecords& m = obs.pytest[i];
        for (const PytestResult& r : m.results) {
            JsonWriter w;
            w.beginObject().key("test").unsignedInteger(i).key("name").string(r.name).key("outcome").string(r.outcome);
            if (r.message) w.key("message").string(*r.message);
            if (r.messageTruncated) w.key("messageTruncated").boolean(true);
            out += w.endObject().str() + "\n";
        }
        if (!m.done) continue;
        JsonWriter w;
        w.beginObject().key("test").unsignedInteger(i).key("done").boolean(true).key("collected").integer(m.done->collected);
        w.key("error");
        if (m.done->error) {
            w.string(*m.done->error);
        } else {
            w.null();
        }
        if (m.done->unlisted) w.key("unlisted").integer(m.done->unlisted).key("unlistedFailed").integer(m.done->unlistedFailed);
        out += w.endObject().str() + "\n";
    }
    for (const OutFile& f : obs.files) {
        JsonWriter w;
        w.beginObject().key("file").string(f.path).key("bytes").unsignedInteger(f.bytes);
        if (f.base64) {
            w.key("base64").string(*f.base64);
        } else {
            w.key("truncated").boolean(true);
        }
        out += w.endObject().str() + "\n";
    }
    return out;
}

// A complete stream written out again, the way the harness would.
std::string rewritten(const Observations& obs) {
    JsonWriter w;
    w.beginObject().key("event").string("finished").key("syntaxError").boolean(obs.finished->syntaxError);
    if (obs.finished->exitCode >= 0) w.key("exitCode").integer(obs.finished->exitCode);
    w.key("error");
    if (obs.finished->error) {
        w.string(*obs.finished->error);
    } else {
        w.null();
    }
    std::string out = "\n" + w.endObject().str() + "\n";
    for (const auto& r : obs.records) {
        if (r) out += toJson(*r) + "\n";
    }
    out += rewrittenExercise(obs);
    if (obs.filesOmitted > 0) return out + "{\"event\": \"end\", \"filesOmitted\": " + std::to_string(obs.filesOmitted) + "}\n";
    return out + "{\"event\": \"end\"}\n";
}

void checkShape(const Observations& obs, const RunRequest& request, std::string_view stream) {
    FUZZ_CHECK(obs.records.size() == request.tests.size(), "not one record slot per test");
    if (obs.tampered) {
        FUZZ_CHECK(!obs.complete && !obs.finished, "a tampered stream kept its finished record");
        for (const auto& r : obs.records) FUZZ_CHECK(!r, "a tampered stream kept a record");
    }
    if (!obs.complete) return;
    FUZZ_CHECK(!obs.tampered && obs.finished, "a complete stream without its finished record");
    for (size_t i = 0; i < obs.records.size(); ++i) {
        const auto& r = obs.records[i];
        FUZZ_CHECK(r.has_value() == needsObservation(request.tests[i]),
                   "a complete stream has a record a test does not need, or lacks one");
        int64_t index = -1;
        FUZZ_CHECK(!r || (r->find("i") != nullptr && integerValue(*r->find("i"), &index) &&
                          index == static_cast<int64_t>(i)),
                   "a record is filed under another test's index");
    }
    FUZZ_CHECK(countFinishedLines(stream) == 1, "a complete stream has more than one finished line");
}

void checkExitCode(const Observations& obs, const RunRequest& request, std::string_view stream) {
    std::optional<int> code = harnessExitCode(stream, request);
    bool expected = obs.complete && obs.finished->exitCode >= 0 && obs.finished->exitCode <= 255;
    FUZZ_CHECK(code.has_value() == expected, "harnessExitCode disagrees with parseObservations");
    FUZZ_CHECK(!code || *code == obs.finished->exitCode, "harnessExitCode is not finished.exitCode");
}

void checkReparse(const Observations& obs, const RunRequest& request, std::string_view stream) {
    FUZZ_CHECK(sameObservations(obs, parseObservations(stream, request)), "a second parse differs");
    if (!obs.complete) return;
    FUZZ_CHECK(sameObservations(obs, parseObservations(rewritten(obs), request)),
               "a complete stream written out again parses differently");
    std::string extended = std::string(stream) + "{}\n";
    FUZZ_CHECK(parseObservations(extended, request).tampered, "a line after `end` was accepted");
}

void checkAnswer(const Observations& obs, const RunRequest& request, std::string_view stream) {
    RunOutcome outcome;
    outcome.observations = std::string(stream);
    outcome.out = "5\n";
    outcome.exitCode = obs.finished ? obs.finished->exitCode : 0;
    RunAnswer answer = buildRunAnswer(request, outcome, "fuzz");
    Result<JsonValue> body = parseJson(answer.body, 2 * kMaxJsonDepth);
    FUZZ_CHECK(body.ok() && body.value().isObject(), "the /run answer is not a JSON object");
    if (!body.ok()) return;
    // One result per test, but a pytest test's entries (at least one) in its place.
    std::vector<TestVerdict> verdicts = judgeTests(request, outcome);
    std::vector<size_t> owner;  // the test of each entry
    for (size_t i = 0; i < request.tests.size() && i < verdicts.size(); ++i) {
        size_t n = request.tests[i].type == TestType::kPytest ? verdicts[i].sandbox.size() : 1;
        FUZZ_CHECK(n >= 1, "a pytest test has no entry");
        owner.insert(owner.end(), n, i);
    }
    const JsonValue* results = body.value().find("testResults");
    FUZZ_CHECK(results != nullptr && results->isArray() && results->items.size() == owner.size(),
               "the answer has not one result per test (and per pytest entry)");
    if (!obs.tampered || results == nullptr) return;
    for (size_t k = 0; k < results->items.size() && k < owner.size(); ++k) {
        const JsonValue* passed = results->items[k].find("passed");
        bool judgedInside = request.tests[owner[k]].type == TestType::kPytest;
        FUZZ_CHECK(!(needsObservation(request.tests[owner[k]]) || judgedInside) || (passed != nullptr && !passed->boolean),
                   "a tampered stream passed a test that needs an observation, or a pytest entry");
    }
    FUZZ_CHECK(body.value().find("files") != nullptr && body.value().find("files")->items.empty(),
               "a tampered stream's out/ files were kept");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::HeapMeter::install();
    if (std::getenv("FUZZ_REPORT_PEAK") != nullptr) std::atexit(reportPeak);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input = fuzz::asText(data, size);
    size_t newline = input.find('\n');
    std::string_view header = input.substr(0, newline);
    std::string_view stream = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
    Result<RunRequest> parsed = parseRunRequest(header, RequestLimits{});
    RunRequest request = parsed.ok() ? std::move(parsed).value() : RunRequest{};

    fuzz::HeapMeter::start();
    Observations obs = parseObservations(stream, request);
    size_t peak = fuzz::HeapMeter::stop();
    notePeak(peak, stream.size());
    FUZZ_CHECK(peak <= kMaxBytesPerInputByte * stream.size() + kFixedAllowance,
               "parsing the stream allocated far more than its size");

    checkShape(obs, request, stream);
    checkExitCode(obs, request, stream);
    checkReparse(obs, request, stream);
    checkAnswer(obs, request, stream);
    fuzz::checkNoRapidjsonAssert();
    return 0;
}
