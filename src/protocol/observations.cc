// Reading the harness's records and deciding the run's status. See
// observations.h for the trust model.
#include "protocol/observations.h"

#include <cstring>
#include <string.h>  // sigabbrev_np (GNU)

namespace pyexec::protocol {
namespace {

enum class Need { kNothing, kVariable, kCall };

Need needOf(const TestSpec& test) {
    switch (test.type) {
        case TestType::kOutput:
        case TestType::kFunctionCallOutput:
        case TestType::kPytest: return Need::kNothing;
        case TestType::kFunctionCall: return Need::kCall;
        default: return Need::kVariable;
    }
}

bool isWellFormedVariable(const JsonValue& record) {
    const JsonValue* exists = record.find("exists");
    if (exists == nullptr || !exists->isBool()) return false;
    if (!exists->boolean) return true;
    const JsonValue* type = record.find("type");
    const JsonValue* len = record.find("len");
    return type != nullptr && type->isString() && record.find("value") != nullptr &&
           (len == nullptr || len->isNull() || isIntegerNumber(*len));
}

}  // namespace

bool isObservationFailure(const JsonValue& record) {
    const JsonValue* error = record.find("error");
    return record.find("exists") == nullptr && record.find("ok") == nullptr && error != nullptr &&
           error->isString();
}

bool isTruncated(const JsonValue& record) {
    const JsonValue* truncated = record.find("truncated");
    return truncated != nullptr && truncated->isBool() && truncated->boolean;
}

namespace {

bool isWellFormedCall(const JsonValue& record) {
    const JsonValue* ok = record.find("ok");
    if (ok == nullptr || !ok->isBool()) return false;
    if (ok->boolean) return record.find("value") != nullptr;
    const JsonValue* error = record.find("error");
    return error != nullptr && error->isString();
}

std::optional<FinishedRecord> readFinished(const JsonValue& record) {
    const JsonValue* syntax = record.find("syntaxError");
    const JsonValue* error = record.find("error");
    if (syntax == nullptr || !syntax->isBool()) return std::nullopt;
    if (error != nullptr && !error->isNull() && !error->isString()) return std::nullopt;
    FinishedRecord finished;
    finished.syntaxError = syntax->boolean;
    int64_t code = -1;
    const JsonValue* exitCode = record.find("exitCode");
    if (exitCode != nullptr && integerValue(*exitCode, &code) && code >= 0 && code <= 255) {
        finished.exitCode = static_cast<int>(code);
    }
    if (error != nullptr && error->isString()) finished.error = error->text;
    return finished;
}

// Files one parsed line into `obs`.
// The stream the harness writes is exactly: one `finished` record, then one
// record per test that needs an observation, in test order, then `end`
// (cut short only when the run was stopped). Anything else means the program
// wrote to the channel itself, and nothing of it is trusted.
class StreamReader {
public:
    StreamReader(const RunRequest& request, Observations* obs) : request_(request), obs_(obs) {}

    // `bytes`: the record's line, counted against pytest's budget when it is one of its.
    void take(Result<JsonValue> parsed, size_t bytes = 0) {
        if (obs_->tampered) return;
        lineBytes_ = bytes;
        if (!parsed || !parsed.value().isObject() || done_) return tamper();
        JsonValue record = std::move(parsed).value();
        const JsonValue* event = record.find("event");
        bool isEvent = event != nullptr && event->isString();
        if (!obs_->finished) {
            if (!isEvent || event->text != "finished") return tamper();
            // A `finished` the harness cannot have written is the program's:
            // kept unset, it would let a second `finished` in.
            obs_->finished = readFinished(record);
            if (!obs_->finished) return tamper();
            return;
        }
        if (isEvent && event->text == "end") {
            done_ = true;
            int64_t omitted = 0;
            const JsonValue* files = record.find("filesOmitted");
            if (nextExpected() != request_.tests.size() || nextPytest() != request_.tests.size() ||
                (files != nullptr && (!integerValue(*files, &omitted) || omitted < 0))) {
                return tamper();
            }
            obs_->filesOmitted = static_cast<uint64_t>(omitted);
            obs_->complete = true;
            return;
        }
        if (record.find("file") != nullptr) return takeFile(record);
        if (record.find("test") != nullptr) return takePytest(record);
        if (observationsOver_) return tamper();
        takeObservation(std::move(record));
    }

private:
    size_t nextPytest() {
        while (pytestNext_ < request_.tests.size() && request_.tests[pytestNext_].type != TestType::kPytest) {
            ++pytestNext_;
        }
        return pytestNext_;
    }

    // After every observation: module by module, its results then its `done`.
    void takePytest(const JsonValue& record) {
        observationsOver_ = true;
        int64_t i = pytestIndexOf(record);
        size_t want = nextPytest();
        if (nextExpected() != request_.tests.size() || want == request_.tests.size() ||
            i != static_cast<int64_t>(want) || !obs_->files.empty()) {
            return tamper();
        }
        pytestBytes_ += lineBytes_ + 1;
        if (pytestBytes_ > kPytestRecordBytes) return tamper();
        PytestModuleRecords& module = obs_->pytest[want];
        if (isPytestDone(record)) {
            PytestDone done;
            if (!readPytestDone(record, &done)) return tamper();
            module.done = std::move(done);
            ++pytestNext_;
            return;
        }
        PytestResult result;
        if (++pytestResults_ > kPytestResultsPerRun || !readPytestResult(record, &result)) return tamper();
        module.results.push_back(std::move(result));
    }

    // Last, out/'s files: sorted by path, within the count and the bytes.
    void takeFile(const JsonValue& record) {
        observationsOver_ = true;
        OutFile file;
        if (nextExpected() != request_.tests.size() || nextPytest() != request_.tests.size() ||
            obs_->files.size() >= kOutFiles || !readOutFile(record, outBudget_, &file) ||
            (!obs_->files.empty() && file.path <= obs_->files.back().path)) {
            return tamper();
        }
        if (file.base64) outBudget_ -= file.bytes;
        obs_->files.push_back(std::move(file));
    }

    size_t nextExpected() {
        while (next_ < request_.tests.size() && needOf(request_.tests[next_]) == Need::kNothing) ++next_;
        return next_;
    }

    void takeObservation(JsonValue record) {
        const JsonValue* index = record.find("i");
        int64_t i = -1;
        size_t want = nextExpected();
        if (index == nullptr || !integerValue(*index, &i) || want == request_.tests.size() ||
            i != static_cast<int64_t>(want)) {
            return tamper();
        }
        Need need = needOf(request_.tests[want]);
        bool wellFormed = (need == Need::kVariable && isWellFormedVariable(record)) ||
                          (need == Need::kCall && isWellFormedCall(record)) || isObservationFailure(record);
        if (!wellFormed) return tamper();
        obs_->records[want] = std::move(record);
        ++next_;
    }

    void tamper() {
        obs_->tampered = true;
        obs_->complete = false;
        obs_->finished.reset();
        for (auto& r : obs_->records) r.reset();
        for (auto& m : obs_->pytest) m = {};
        obs_->files.clear();
        obs_->filesOmitted = 0;
    }

    const RunRequest& request_;
    Observations* obs_;
    size_t next_ = 0;
    size_t pytestNext_ = 0;
    size_t pytestResults_ = 0;
    size_t pytestBytes_ = 0;  // pytest's records so far, newlines counted
    size_t lineBytes_ = 0;
    uint64_t outBudget_ = kOutFileBytes;
    bool observationsOver_ = false;  // observations are over
    bool done_ = false;
};

}  // namespace

Observations parseObservations(std::string_view ndjson, const RunRequest& request, bool cutShort) {
    Observations obs;
    obs.records.resize(request.tests.size());
    obs.pytest.resize(request.tests.size());
    if (cutShort || ndjson.size() > kMaxResultStreamBytes) {
        obs.tampered = true;  // more than the harness ever writes
        return obs;
    }
    StreamReader reader(request, &obs);
    size_t valuesLeft = kMaxResultStreamValues;
    size_t start = 0;
    while (start < ndjson.size() && !obs.tampered) {
        size_t end = ndjson.find('\n', start);
        // A last line without its newline was cut short (the run was stopped):
        // it is not a record.
        if (end == std::string_view::npos) break;
        std::string_view line = ndjson.substr(start, end - start);
        start = end + 1;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        if (line.size() > kMaxRecordBytes) {
            reader.take(makeError(ErrorKind::kInvalidRequest, "record over budget"));
            break;
        }
        reader.take(parseJson(line, kMaxJsonDepth, &valuesLeft), line.size());
    }
    return obs;
}

namespace {

std::optional<int> exitCodeOf(const Observations& obs) {
    if (obs.tampered || !obs.complete || !obs.finished) return std::nullopt;
    int code = obs.finished->exitCode;
    if (code < 0 || code > 255) return std::nullopt;
    return code;
}

}  // namespace

std::optional<int> harnessExitCode(std::string_view ndjson, const RunRequest& request) {
    return exitCodeOf(parseObservations(ndjson, request));
}

const Observations& RecordStream::observations(std::string_view ndjson, bool cutShort) {
    // The stream only grows: the same size means the same stream.
    if (!parsed_ || parsedBytes_ != ndjson.size() || parsedCutShort_ != cutShort) {
        parsed_ = parseObservations(ndjson, request_, cutShort);
        parsedBytes_ = ndjson.size();
        parsedCutShort_ = cutShort;
    }
    return *parsed_;
}

std::optional<int> RecordStream::exitCode(std::string_view ndjson) {
    return exitCodeOf(observations(ndjson, false));
}

std::string signalName(int signal) {
    const char* abbrev = sigabbrev_np(signal);
    if (abbrev == nullptr) return "signal " + std::to_string(signal);
    return std::string("SIG") + abbrev;
}

namespace {

std::string sizeText(uint64_t bytes) {
    if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
    if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
    return std::to_string(bytes) + " bytes";
}

// The per-stream cap of SPEC §2. RunOutcome does not carry it, so the error
// line names the documented default.
constexpr uint64_t kOutputLimitBytes = 1u << 20;

std::optional<std::string> finishedError(const Observations& obs) {
    if (!obs.finished) return std::nullopt;
    return obs.finished->error;
}

}  // namespace

RunSummary summariseRun(const RunOutcome& outcome, const Observations& obs, int requestTimeoutMs) {
    if (outcome.memoryExceeded) {
        if (outcome.memoryLimitBytes == 0) return {"memory_limit", "Memory limit exceeded"};
        return {"memory_limit", "Memory limit of " + sizeText(outcome.memoryLimitBytes) + " exceeded"};
    }
    if (outcome.timedOut) {
        int ms = outcome.timeoutMs > 0 ? outcome.timeoutMs : requestTimeoutMs;
        return {"timeout", "Execution timed out after " + std::to_string(ms) + " ms"};
    }
    if (outcome.outputTruncated) {
        return {"output_limit", "Output limit of " + sizeText(kOutputLimitBytes) + " exceeded"};
    }
    if (obs.finished && obs.finished->syntaxError) {
        return {"syntax_error", finishedError(obs).value_or("SyntaxError")};
    }
    if (outcome.signal != 0) return {"killed", "Killed by signal " + signalName(outcome.signal)};
    // An uncaught exception is an error even if the exit status says 0.
    if (std::optional<std::string> error = finishedError(obs)) return {"error", *error};
    if (outcome.exitCode == 0) return {"ok", std::nullopt};
    if (outcome.exitCode < 0) return {"error", "The program ended without an exit status"};
    return {"error", "Exited with code " + std::to_string(outcome.exitCode)};
}

}  // namespace pyexec::protocol
