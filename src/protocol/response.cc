// The /run answer, error bodies and the per-request log line. Runs in a
// worker. Every string that reaches a client or the log goes through
// JsonWriter, which escapes it and repairs invalid UTF-8.
#include "protocol/response.h"

#include <time.h>

#include <cstdio>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/json_value.h"
#include "protocol/observations.h"
#include "protocol/text.h"

namespace pyexec::protocol {
namespace {

void writeOptionalString(JsonWriter& w, const std::optional<std::string>& text) {
    if (text) {
        w.string(*text);
    } else {
        w.null();
    }
}

// A pytest test's entries: one per collected test, judged in the sandbox.
void writeSandboxResults(JsonWriter& w, const TestSpec& test, const TestVerdict& v) {
    for (const SandboxResult& r : v.sandbox) {
        w.beginObject().key("type").string(test.typeName).key("description").string(r.description);
        w.key("passed").boolean(r.passed).key("outcome").string(r.outcome);
        w.key("expected").null().key("actual").null();
        bool truncated = r.messageTruncated;
        if (!r.message.empty()) {
            Echo message = echoString(r.message);  // bounded like `actual`
            w.key("message").raw(message.json);
            truncated = truncated || message.truncated;
        }
        if (truncated) w.key("messageTruncated").boolean(true);
        w.key("judgedIn").string("sandbox").endObject();
    }
}

void writeTestResults(JsonWriter& w, const RunRequest& request, const std::vector<TestVerdict>& verdicts) {
    w.key("testResults").beginArray();
    for (size_t i = 0; i < verdicts.size() && i < request.tests.size(); ++i) {
        const TestSpec& test = request.tests[i];
        const TestVerdict& v = verdicts[i];
        if (test.type == TestType::kPytest) {
            writeSandboxResults(w, test, v);
            continue;
        }
        w.beginObject().key("type").string(test.typeName).key("description");
        writeOptionalString(w, test.description);
        w.key("passed").boolean(v.passed);
        w.key("expected").raw(v.expectedJson.empty() ? "null" : v.expectedJson);
        if (v.expectedTruncated) w.key("expectedTruncated").boolean(true);
        w.key("actual").raw(v.actualJson.empty() ? "null" : v.actualJson);
        if (v.actualTruncated) w.key("actualTruncated").boolean(true);
        if (!v.message.empty()) w.key("message").string(v.message);
        w.endObject();
    }
    w.endArray();
}

void writeProcessFields(JsonWriter& w, const RunOutcome& outcome) {
    w.key("exitCode");
    if (outcome.signal != 0 || outcome.exitCode < 0) {
        w.null();
    } else {
        w.integer(outcome.exitCode);
    }
    w.key("signal");
    if (outcome.signal != 0) {
        w.string(signalName(outcome.signal));
    } else {
        w.null();
    }
    w.key("timedOut").boolean(outcome.timedOut);
    w.key("outputTruncated").boolean(outcome.outputTruncated);
    w.key("memoryExceeded").boolean(outcome.memoryExceeded);
}

void writePeak(JsonWriter& w, const std::optional<uint64_t>& bytes) {
    w.key("memoryPeakBytes");
    if (bytes) {
        w.unsignedInteger(*bytes);
    } else {
        w.null();
    }
}

// Milliseconds with one decimal; null when unknown (negative).
void writeMs(JsonWriter& w, std::string_view key, double ms) {
    w.key(key);
    if (ms < 0) {
        w.null();
    } else {
        w.fixed1(ms);
    }
}

// The files the program left in out/ (SPEC §3.1), as the harness read them.
void writeFiles(JsonWriter& w, const Observations& observations) {
    w.key("files").beginArray();
    for (const OutFile& f : observations.files) {
        w.beginObject().key("path").string(f.path).key("bytes").unsignedInteger(f.bytes);
        if (f.base64) {
            w.key("base64").string(*f.base64);
        } else {
            w.key("truncated").boolean(true);
        }
        w.endObject();
    }
    w.endArray();
    if (observations.filesOmitted > 0) w.key("filesOmitted").unsignedInteger(observations.filesOmitted);
}

void writeMeasurements(JsonWriter& w, const RunOutcome& outcome) {
    w.key("executionTimeMs").fixed1(outcome.wallMs < 0 ? 0 : outcome.wallMs);
    w.key("cpuTimeMs").fixed1(outcome.cpuMs < 0 ? 0 : outcome.cpuMs);
    writePeak(w, outcome.memoryPeakBytes);
}

}  // namespace

RunAnswer buildRunAnswer(const RunRequest& request, const RunOutcome& outcome,
                         std::string_view requestId, RecordStream* records) {
    RecordStream local(request);
    if (records == nullptr) records = &local;
    const Observations& observations = records->observations(outcome.observations, outcome.observationsTruncated);
    RunSummary summary = summariseRun(outcome, observations, request.timeoutMs);
    std::vector<TestVerdict> verdicts =
        judgeWithObservations(request, outcome, observations, summary.status);
    bool success = summary.status == "ok";
    bool allPassed = success;
    for (const TestVerdict& v : verdicts) allPassed = allPassed && v.passed;

    JsonWriter w;
    w.beginObject().key("success").boolean(success).key("status").string(summary.status);
    w.key("stdout").string(outcome.out).key("stderr").string(outcome.err);
    writeProcessFields(w, outcome);
    w.key("error");
    writeOptionalString(w, summary.error);
    writeTestResults(w, request, verdicts);
    w.key("allPassed").boolean(allPassed);
    writeFiles(w, observations);
    writeMeasurements(w, outcome);
    w.key("requestId").string(requestId).endObject();
    return RunAnswer{w.str(), summary.status};
}

int httpStatusOf(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::kInvalidJson:
        case ErrorKind::kInvalidRequest: return 400;
        case ErrorKind::kTooLarge: return 413;
        case ErrorKind::kOverloaded:
        case ErrorKind::kSandboxUnavailable: return 503;
        case ErrorKind::kConfig:
        case ErrorKind::kInternal: return 500;
    }
    return 500;
}

std::string errorCodeOf(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::kInvalidJson: return "invalid_json";
        case ErrorKind::kInvalidRequest: return "invalid_request";
        case ErrorKind::kTooLarge: return "code_too_large";
        case ErrorKind::kOverloaded: return "overloaded";
        case ErrorKind::kSandboxUnavailable: return "sandbox_unavailable";
        case ErrorKind::kConfig:
        case ErrorKind::kInternal: return "internal_error";
    }
    return "internal_error";
}

// A 500 tells the client nothing of the server's state: the details go to the
// log, under the request id the client sees.
std::string buildErrorBody(const Error& error, std::string_view requestId) {
    std::string code = errorCodeOf(error.kind);
    if (httpStatusOf(error.kind) == 500) {
        log::error("request " + std::string(requestId) + ": internal error: " + error.message +
                   (error.err != 0 ? " (errno " + std::to_string(error.err) + ")" : ""));
        return buildErrorBody(code, "Internal error; it has been logged under this request id.", requestId);
    }
    JsonWriter w;
    w.beginObject().key("error").beginObject();
    w.key("code").string(code).key("message").string(error.message);
    if (!error.field.empty()) w.key("field").string(error.field);
    w.endObject().key("requestId").string(requestId).endObject();
    return w.str();
}

std::string buildErrorBody(std::string_view code, std::string_view message, std::string_view requestId) {
    JsonWriter w;
    w.beginObject().key("error").beginObject();
    w.key("code").string(code).key("message").string(message).endObject();
    w.key("requestId").string(requestId).endObject();
    return w.str();
}

std::string buildLogLine(const RequestLog& entry) {
    JsonWriter w;
    w.beginObject().key("time").string(clock::isoNow());
    w.key("requestId").string(entry.requestId).key("method").string(entry.method);
    w.key("path").string(entry.path).key("status").integer(entry.httpStatus);
    w.key("runStatus");
    if (entry.runStatus.empty()) {
        w.null();
    } else {
        w.string(entry.runStatus);
    }
    if (!entry.sandbox.empty()) w.key("sandbox").string(entry.sandbox);
    writeMs(w, "wallMs", entry.wallMs);
    writeMs(w, "cpuMs", entry.cpuMs);
    writePeak(w, entry.memoryPeakBytes);
    w.endObject();
    return w.str();
}

std::string jsonString(std::string_view text) {
    JsonWriter w;
    w.string(text);
    return w.str();
}

}  // namespace pyexec::protocol
