// Test verdicts (SPEC §3), computed in the worker from the program's stdout
// and the harness's observation records; nothing the sandbox says is taken as
// a verdict. Also the JSON equality the value tests use.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "protocol/json_value.h"
#include "protocol/observations.h"
#include "protocol/response.h"
#include "protocol/text.h"

namespace pyexec::protocol {
namespace {

// ---- equality -------------------------------------------------------------

// "-0" and "0" are the same int; JSON allows no other leading zeros.
std::string_view canonicalInteger(std::string_view text) {
    return text == "-0" ? std::string_view("0") : text;
}

// An int and a float are equal when the float is exactly that integer, as in
// Python (so 2**53 + 1 != 2.0**53).
bool integerEqualsFloat(const JsonValue& integer, const JsonValue& floating) {
    double d = 0;
    if (!numberValue(floating, &d) || !std::isfinite(d) || d != std::trunc(d)) return false;
    char digits[400];  // DBL_MAX has 309 digits; glibc prints doubles exactly
    int n = std::snprintf(digits, sizeof digits, "%.0f", d);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof digits) return false;
    return canonicalInteger(integer.text) == canonicalInteger(std::string_view(digits, static_cast<size_t>(n)));
}

bool numbersEqual(const JsonValue& a, const JsonValue& b, std::optional<double> tolerance) {
    bool aInt = isIntegerNumber(a), bInt = isIntegerNumber(b);
    if (aInt && bInt && canonicalInteger(a.text) == canonicalInteger(b.text)) return true;
    if (tolerance) {
        double x = 0, y = 0;
        if (!numberValue(a, &x) || !numberValue(b, &y)) return false;
        return x == y || std::fabs(x - y) <= *tolerance;
    }
    if (aInt && bInt) return false;
    if (aInt) return integerEqualsFloat(a, b);
    if (bInt) return integerEqualsFloat(b, a);
    double x = 0, y = 0;
    return numberValue(a, &x) && numberValue(b, &y) && x == y;
}

bool valuesEqual(const JsonValue& a, const JsonValue& b, std::optional<double> tolerance);

bool objectsEqual(const JsonValue& a, const JsonValue& b, std::optional<double> tolerance) {
    if (a.members.size() != b.members.size()) return false;
    auto sorted = [](const JsonValue& v) {
        std::vector<const JsonMember*> out;
        for (const JsonMember& m : v.members) out.push_back(&m);
        std::sort(out.begin(), out.end(), [](auto* x, auto* y) { return x->key < y->key; });
        return out;
    };
    std::vector<const JsonMember*> x = sorted(a), y = sorted(b);
    for (size_t k = 0; k < x.size(); ++k) {
        if (x[k]->key != y[k]->key || !valuesEqual(x[k]->value, y[k]->value, tolerance)) return false;
    }
    return true;
}

// Recursion is bounded by kMaxJsonDepth: both trees come from parseJson.
bool valuesEqual(const JsonValue& a, const JsonValue& b, std::optional<double> tolerance) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case JsonValue::Kind::kNull: return true;
        case JsonValue::Kind::kBool: return a.boolean == b.boolean;
        case JsonValue::Kind::kNumber: return numbersEqual(a, b, tolerance);
        case JsonValue::Kind::kString: return a.text == b.text;
        case JsonValue::Kind::kArray:
            if (a.items.size() != b.items.size()) return false;
            for (size_t k = 0; k < a.items.size(); ++k) {
                if (!valuesEqual(a.items[k], b.items[k], tolerance)) return false;
            }
            return true;
        case JsonValue::Kind::kObject: return objectsEqual(a, b, tolerance);
    }
    return false;
}

// ---- verdicts ---------------------------------------------------------------

struct Context {
    const RunOutcome& outcome;
    const Observations& obs;
    std::string_view status;
    std::string stdoutText;        // sanitised
    std::string normalisedStdout;  // of stdoutText; what output tests compare
    Echo stdoutEcho;               // its echo, made once for every test that shows it
};

// Why a test has no observation record.
std::string missingMessage(const Context& ctx) {
    if (ctx.obs.finished && ctx.obs.finished->syntaxError) {
        return "the program has a syntax error, so it did not run";
    }
    bool limited = ctx.status == "timeout" || ctx.status == "memory_limit" ||
                   ctx.status == "output_limit" || ctx.status == "killed";
    if (ctx.obs.tampered) return "observations unavailable: the program wrote to the harness's result channel";
    if (!ctx.obs.finished) return limited ? "program did not finish" : "observations unavailable";
    if (ctx.status == "timeout") return "observations unavailable: the run timed out while they were taken";
    if (limited) return "observations unavailable: the run was stopped (" + std::string(ctx.status) + ")";
    return "observations unavailable";
}

TestVerdict verdict(bool passed, Echo actual, std::string message = {}) {
    TestVerdict v;
    v.passed = passed;
    v.actualJson = std::move(actual.json);
    v.actualTruncated = actual.truncated;
    v.message = std::move(message);
    return v;
}

Echo echoValue(const JsonValue& value) {
    return value.isString() ? echoString(value.text) : echoJson(toJson(value));
}

Echo literal(const char* json) { return Echo{json, false}; }

std::string article(std::string_view word) {
    bool vowel = !word.empty() && std::string_view("aeiouAEIOU").find(word[0]) != std::string_view::npos;
    return vowel ? "an" : "a";
}

std::string tooLarge(const std::string& what) {
    return what + " is too large or too deeply nested to compare (it is reported as a cut repr)";
}

TestVerdict judgeOutput(const Context& ctx, const JsonValue& expected) {
    return verdict(ctx.normalisedStdout == normaliseOutput(expected.text), ctx.stdoutEcho);
}

// Passes when some stdout line, trimmed, equals `expected`, trimmed. `actual`
// is that line when one matches, else the normalised stdout.
TestVerdict judgeStdoutLine(const Context& ctx, const JsonValue& expected) {
    std::string_view want = trimAscii(expected.text);
    std::string_view out = ctx.stdoutText;
    size_t start = 0;
    while (start <= out.size()) {
        size_t end = std::min(out.find('\n', start), out.size());
        std::string_view line = trimAscii(out.substr(start, end - start));
        if (line == want) return verdict(true, echoString(line));
        start = end + 1;
    }
    return verdict(false, ctx.stdoutEcho);
}

TestVerdict judgeListContains(const TestSpec& test, const JsonValue& record, const JsonValue& expected) {
    const JsonValue& value = *record.find("value");
    const std::string& type = record.find("type")->text;
    if (type != "list" && type != "tuple" && type != "set" && type != "frozenset") {
        return verdict(false, echoValue(value),
                       "'" + test.name + "' is " + article(type) + " " + type + ", not a list, tuple or set");
    }
    if (!value.isArray() || isTruncated(record)) return verdict(false, echoValue(value), tooLarge("'" + test.name + "'"));
    for (const JsonValue& item : value.items) {
        if (valuesEqual(expected, item, test.tolerance)) return verdict(true, echoValue(value));
    }
    return verdict(false, echoValue(value));
}

TestVerdict judgeListLength(const TestSpec& test, const JsonValue& record, const JsonValue& expected) {
    const JsonValue* len = record.find("len");
    if (len == nullptr || len->isNull()) {
        const std::string& type = record.find("type")->text;
        return verdict(false, literal("null"), "'" + test.name + "' has no length: it is " + article(type) + " " + type);
    }
    return verdict(valuesEqual(expected, *len, std::nullopt), echoValue(*len));
}

TestVerdict judgeVariable(const TestSpec& test, const JsonValue& record, const JsonValue& expected) {
    if (!record.find("exists")->boolean) {
        Echo actual = literal(test.type == TestType::kVariableExists ? "false" : "null");
        return verdict(false, actual, "variable '" + test.name + "' is not defined");
    }
    const JsonValue& value = *record.find("value");
    const JsonValue& type = *record.find("type");
    switch (test.type) {
        case TestType::kVariableExists: return verdict(true, literal("true"));
        case TestType::kVariableType: return verdict(valuesEqual(expected, type, std::nullopt), echoValue(type));
        case TestType::kListContains: return judgeListContains(test, record, expected);
        case TestType::kListLength: return judgeListLength(test, record, expected);
        default: break;
    }
    if (isTruncated(record)) return verdict(false, echoValue(value), tooLarge("'" + test.name + "'"));
    return verdict(valuesEqual(expected, value, test.tolerance), echoValue(value));
}

TestVerdict judgeCall(const TestSpec& test, const JsonValue& record, const JsonValue& expected) {
    if (record.find("ok")->boolean) {
        const JsonValue& value = *record.find("value");
        if (isTruncated(record)) return verdict(false, echoValue(value), tooLarge("the value returned"));
        return verdict(valuesEqual(expected, value, test.tolerance), echoValue(value));
    }
    const std::string& error = record.find("error")->text;
    std::string undefined = "NameError: name '" + test.function + "' is not defined";
    std::string message = error.rfind(undefined, 0) == 0
                              ? "function '" + test.function + "' is not defined"
                              : "calling '" + test.function + "' raised an exception";
    return verdict(false, echoString(error), message);
}

// ---- pytest (judged in the sandbox: its results are only checked and shown) ----

SandboxResult sandboxEntry(std::string description, std::string outcome, std::string message) {
    SandboxResult r;
    r.description = std::move(description);
    r.passed = pytestOutcomePasses(outcome);
    r.outcome = std::move(outcome);
    r.message = std::move(message);
    return r;
}

// Why a module has no `done` record.
std::string pytestUnfinished(const Context& ctx) {
    if (ctx.obs.tampered) return "the program wrote to the harness's result channel, so pytest's results were discarded";
    if (!ctx.obs.finished) return "the program did not finish, so its tests did not run";
    if (ctx.status == "timeout") return "pytest did not finish: the run timed out";
    if (ctx.status == "ok" || ctx.status == "error") return "pytest did not finish: the process exited during the tests";
    return "pytest did not finish: the run was stopped (" + std::string(ctx.status) + ")";
}

TestVerdict judgePytest(const Context& ctx, const TestSpec& test, const PytestModuleRecords& module) {
    // Repeated on each entry: cut short (exercise_records.h).
    std::string description = test.description ? excerpt(*test.description, kPytestPrefixBytes) : std::string();
    std::string prefix = test.description ? description + ": " : std::string();
    std::string whole = test.description ? description : "test module";
    TestVerdict v = verdict(true, literal("null"));
    for (const PytestResult& r : module.results) {
        v.sandbox.push_back(sandboxEntry(prefix + r.name, r.outcome, r.message.value_or("")));
        v.sandbox.back().messageTruncated = r.messageTruncated;
    }
    if (!module.done) {
        v.sandbox.push_back(sandboxEntry(whole, "error", pytestUnfinished(ctx)));
    } else if (module.done->unlisted > 0) {
        int64_t n = module.done->unlisted, failed = module.done->unlistedFailed;
        v.sandbox.push_back(sandboxEntry(prefix + "(" + std::to_string(n) + " more tests)", failed ? "failed" : "passed",
                                         std::to_string(n) + " more tests ran but are not listed (a run lists at most " +
                                             std::to_string(kPytestResultsPerRun) + " pytest results); " +
                                             std::to_string(failed) + " of them did not pass"));
    }
    if (module.done && module.done->error) {
        v.sandbox.push_back(sandboxEntry(whole, "error", *module.done->error));
    } else if (module.done && v.sandbox.empty()) {
        v.sandbox.push_back(sandboxEntry(whole, "error", "no test was collected from this module"));
    }
    for (const SandboxResult& r : v.sandbox) v.passed = v.passed && r.passed;
    return v;
}

TestVerdict judgeOne(const Context& ctx, const TestSpec& test, const std::optional<JsonValue>& record) {
    Result<JsonValue> expected = parseJson(test.expectedJson);
    if (!expected) return verdict(false, literal("null"), "the expected value could not be read");
    switch (test.type) {
        case TestType::kOutput: return judgeOutput(ctx, expected.value());
        case TestType::kFunctionCallOutput: return judgeStdoutLine(ctx, expected.value());
        default: break;
    }
    if (!record || (ctx.obs.finished && ctx.obs.finished->syntaxError)) {
        return verdict(false, literal("null"), missingMessage(ctx));
    }
    if (isObservationFailure(*record)) return verdict(false, literal("null"), record->find("error")->text);
    if (test.type == TestType::kFunctionCall) return judgeCall(test, *record, expected.value());
    return judgeVariable(test, *record, expected.value());
}

}  // namespace

bool jsonEqual(std::string_view expectedJson, std::string_view actualJson, std::optional<double> tolerance) {
    Result<JsonValue> expected = parseJson(expectedJson);
    Result<JsonValue> actual = parseJson(actualJson);
    return expected && actual && valuesEqual(expected.value(), actual.value(), tolerance);
}

std::vector<TestVerdict> judgeWithObservations(const RunRequest& request, const RunOutcome& outcome,
                                               const Observations& observations,
                                               std::string_view status) {
    Context ctx{outcome, observations, status, sanitiseUtf8(outcome.out), {}, {}};
    ctx.normalisedStdout = normaliseOutput(ctx.stdoutText);
    ctx.stdoutEcho = echoString(ctx.normalisedStdout);
    std::vector<TestVerdict> verdicts;
    verdicts.reserve(request.tests.size());
    for (size_t i = 0; i < request.tests.size(); ++i) {
        std::optional<JsonValue> none;
        const std::optional<JsonValue>& record = i < observations.records.size() ? observations.records[i] : none;
        TestVerdict v = request.tests[i].type == TestType::kPytest && i < observations.pytest.size()
                            ? judgePytest(ctx, request.tests[i], observations.pytest[i])
                            : judgeOne(ctx, request.tests[i], record);
        Echo expected = echoJson(request.tests[i].expectedJson);
        v.expectedJson = std::move(expected.json);
        v.expectedTruncated = expected.truncated;
        verdicts.push_back(std::move(v));
    }
    return verdicts;
}

std::vector<TestVerdict> judgeTests(const RunRequest& request, const RunOutcome& outcome) {
    Observations observations = parseObservations(outcome.observations, request, outcome.observationsTruncated);
    RunSummary summary = summariseRun(outcome, observations, request.timeoutMs);
    return judgeWithObservations(request, outcome, observations, summary.status);
}

}  // namespace pyexec::protocol
