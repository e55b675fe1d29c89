// libFuzzer harness for the /run request parser (src/protocol/request.h).
// The input is a request body. Beyond "does not crash", every call checks:
//  - an accepted request keeps every limit it was parsed with (code, stdin,
//    number of tests, timeoutMs, files and their bytes, pytest modules),
//    under the default limits and under tiny ones (so that a few-KiB input
//    can go over them), and its fields are what SPEC §2 and §3.1 promise
//    (identifiers, JSON texts that parse, valid UTF-8, workspace paths);
//  - re-serialising an accepted request and parsing it again gives the same
//    request, and its harness input is a JSON document with one observation
//    slot per test;
//  - the JSON equality of the value tests (jsonEqual) holds between every
//    `expected` and itself, and is symmetric between two tests' values;
//  - a rejection is a 4xx with a non-empty message, and its error body is JSON;
//  - no RapidJSON assertion fires.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "protocol/json_value.h"
#include "protocol/request.h"
#include "protocol/response.h"
#include "protocol/text.h"
#include "protocol/workspace.h"

using namespace pyexec;
using namespace pyexec::protocol;

namespace {

RequestLimits tinyLimits() {
    RequestLimits l;
    l.codeBytes = 16;
    l.stdinBytes = 8;
    l.maxTests = 2;
    l.defaultTimeoutMs = 20;
    l.maxTimeoutMs = 50;
    l.maxFiles = 2;
    l.filesBytes = 8;
    l.pytestModuleBytes = 16;
    return l;
}

// The oracle's own copy of request.cc's rule, on purpose: checking the
// parser's output with the parser's function could not find a bug in it.
bool isIdentifier(std::string_view s) {
    auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
    if (s.empty() || !letter(s[0])) return false;
    for (char c : s) {
        if (!letter(c) && !(c >= '0' && c <= '9')) return false;
    }
    return true;
}

// A JSON text the parser produced (expectedJson, argsJson, kwargsJson).
JsonValue reparsed(const std::string& json, const char* what) {
    Result<JsonValue> v = parseJson(json);
    FUZZ_CHECK(v.ok(), what);
    return v.ok() ? std::move(v).value() : JsonValue{};
}

void checkError(const Error& e) {
    FUZZ_CHECK(!e.message.empty(), "a rejection has an empty message");
    int status = httpStatusOf(e.kind);
    FUZZ_CHECK(status >= 400 && status < 500, "a rejection is not a 4xx");
    Result<JsonValue> body = parseJson(buildErrorBody(e, "fuzz"));
    FUZZ_CHECK(body.ok() && body.value().isObject(), "an error body is not a JSON object");
}

void checkTest(const TestSpec& t) {
    FUZZ_CHECK(!t.typeName.empty(), "a test without its type name");
    JsonValue expected = reparsed(t.expectedJson, "expectedJson does not parse");
    switch (t.type) {
        case TestType::kOutput:
        case TestType::kFunctionCallOutput:
        case TestType::kVariableType:
            FUZZ_CHECK(expected.isString(), "a string `expected` that is not a string");
            break;
        case TestType::kListLength:
            FUZZ_CHECK(isIntegerNumber(expected) && expected.text[0] != '-',
                       "list_length accepted a non-count");
            break;
        default:
            break;
    }
    if (t.type == TestType::kPytest) {
        FUZZ_CHECK(t.module.find('\0') == std::string::npos && isValidUtf8(t.module), "a pytest module with a NUL");
    } else if (t.type == TestType::kFunctionCall) {
        FUZZ_CHECK(isIdentifier(t.function), "function_call accepted a non-identifier function");
        FUZZ_CHECK(reparsed(t.argsJson, "argsJson does not parse").isArray(), "args is not an array");
        JsonValue kwargs = reparsed(t.kwargsJson, "kwargsJson does not parse");
        FUZZ_CHECK(kwargs.isObject(), "kwargs is not an object");
        for (const JsonMember& m : kwargs.members) {
            FUZZ_CHECK(isIdentifier(m.key), "a keyword argument that is not an identifier");
        }
    } else if (t.type != TestType::kOutput && t.type != TestType::kFunctionCallOutput && t.type != TestType::kPytest) {
        FUZZ_CHECK(isIdentifier(t.name), "a variable test accepted a non-identifier name");
    }
    if (t.tolerance) FUZZ_CHECK(*t.tolerance >= 0, "a negative tolerance");
}

void checkLimits(const RunRequest& r, const RequestLimits& limits) {
    FUZZ_CHECK(r.code.size() <= limits.codeBytes, "accepted code over the limit");
    FUZZ_CHECK(r.stdinData.size() <= limits.stdinBytes, "accepted stdin over the limit");
    FUZZ_CHECK(r.tests.size() <= limits.maxTests, "accepted more tests than the limit");
    FUZZ_CHECK(r.timeoutMs >= 1 && r.timeoutMs <= limits.maxTimeoutMs, "timeoutMs out of range");
    FUZZ_CHECK(r.code.find('\0') == std::string::npos, "accepted code with a NUL");
    FUZZ_CHECK(isValidUtf8(r.code) && isValidUtf8(r.stdinData), "accepted invalid UTF-8");
    FUZZ_CHECK(r.files.size() <= limits.maxFiles, "accepted more files than the limit");
    size_t bytes = 0;
    for (size_t i = 0; i < r.files.size(); ++i) {
        const WorkspaceFile& f = r.files[i];
        bytes += f.content.size();
        FUZZ_CHECK(!workspacePathProblem(f.path) && f.path != "main.py", "accepted a file path that is not safe");
        FUZZ_CHECK(i == 0 || r.files[i - 1].path < f.path, "files not sorted by path, or a path twice");
        for (const WorkspaceFile& g : r.files) {
            FUZZ_CHECK(g.path.rfind(f.path + "/", 0) != 0, "a file that is also another's folder");
        }
    }
    FUZZ_CHECK(bytes <= limits.filesBytes, "accepted more file bytes than the limit");
    for (const TestSpec& t : r.tests) {
        FUZZ_CHECK(t.module.size() <= limits.pytestModuleBytes, "accepted a pytest module over the limit");
    }
}

// The request as a canonical body, written the way a client would.
std::string canonicalBody(const RunRequest& r) {
    JsonWriter w;
    w.beginObject().key("code").string(r.code).key("stdin").string(r.stdinData);
    w.key("timeoutMs").integer(r.timeoutMs).key("tests").beginArray();
    for (const TestSpec& t : r.tests) {
        w.beginObject().key("type").string(t.typeName);
        if (t.description) w.key("description").string(*t.description);
        if (t.tolerance) w.key("tolerance").number(*t.tolerance);
        if (!t.name.empty()) w.key("name").string(t.name);
        if (t.type == TestType::kPytest) {
        FUZZ_CHECK(t.module.find('\0') == std::string::npos && isValidUtf8(t.module), "a pytest module with a NUL");
    } else if (t.type == TestType::kFunctionCall) {
            w.key("function").string(t.function).key("args").raw(t.argsJson);
            w.key("kwargs").raw(t.kwargsJson);
        }
        if (t.type == TestType::kPytest) {
            w.key("code").string(t.module);
        } else if (t.type != TestType::kVariableExists) {
            w.key("expected").raw(t.expectedJson);
        }
        w.endObject();
    }
    w.endArray();
    if (!r.files.empty()) {
        w.key("files").beginObject();
        for (const WorkspaceFile& f : r.files) w.key(f.path).string(f.content);
        w.endObject();
    }
    w.endObject();
    return w.str();
}

bool sameTest(const TestSpec& a, const TestSpec& b) {
    return a.type == b.type && a.typeName == b.typeName && a.description == b.description &&
           a.name == b.name && a.function == b.function && a.expectedJson == b.expectedJson &&
           a.argsJson == b.argsJson && a.kwargsJson == b.kwargsJson && a.tolerance == b.tolerance &&
           a.module == b.module;
}

void checkRoundTrip(const RunRequest& r, const RequestLimits& limits) {
    Result<RunRequest> again = parseRunRequest(canonicalBody(r), limits);
    FUZZ_CHECK(again.ok(), "a re-serialised accepted request is rejected");
    if (!again.ok()) return;
    const RunRequest& b = again.value();
    FUZZ_CHECK(b.code == r.code && b.stdinData == r.stdinData && b.timeoutMs == r.timeoutMs,
               "a re-serialised request parses to other top-level fields");
    FUZZ_CHECK(b.tests.size() == r.tests.size(), "a re-serialised request has other tests");
    FUZZ_CHECK(b.files.size() == r.files.size(), "a re-serialised request has other files");
    for (size_t i = 0; i < r.files.size() && i < b.files.size(); ++i) {
        FUZZ_CHECK(b.files[i].path == r.files[i].path && b.files[i].content == r.files[i].content,
                   "a re-serialised file parses differently");
    }
    for (size_t i = 0; i < r.tests.size() && i < b.tests.size(); ++i) {
        FUZZ_CHECK(sameTest(r.tests[i], b.tests[i]), "a re-serialised test parses differently");
    }
}

void checkHarnessInput(const RunRequest& r) {
    Result<JsonValue> input = parseJson(buildHarnessInput(r), 2 * kMaxJsonDepth);
    FUZZ_CHECK(input.ok() && input.value().isObject(), "the harness input is not a JSON object");
    if (!input.ok()) return;
    const JsonValue* code = input.value().find("code");
    const JsonValue* observe = input.value().find("observe");
    FUZZ_CHECK(code != nullptr && code->isString() && code->text == r.code,
               "the harness input does not carry the code as it was");
    FUZZ_CHECK(observe != nullptr && observe->isArray() && observe->items.size() == r.tests.size(),
               "the harness input has not one observe slot per test");
}

void checkEquality(const std::vector<TestSpec>& tests) {
    for (size_t i = 0; i < tests.size(); ++i) {
        const TestSpec& t = tests[i];
        FUZZ_CHECK(jsonEqual(t.expectedJson, t.expectedJson, t.tolerance),
                   "an expected value is not equal to itself");
        if (i == 0) continue;
        const std::string& prev = tests[i - 1].expectedJson;
        FUZZ_CHECK(jsonEqual(prev, t.expectedJson, t.tolerance) == jsonEqual(t.expectedJson, prev, t.tolerance),
                   "jsonEqual is not symmetric");
    }
}

void checkWith(std::string_view body, const RequestLimits& limits) {
    Result<RunRequest> r = parseRunRequest(body, limits);
    if (!r.ok()) return checkError(r.error());
    checkLimits(r.value(), limits);
    for (const TestSpec& t : r.value().tests) checkTest(t);
    checkEquality(r.value().tests);
    checkHarnessInput(r.value());
    checkRoundTrip(r.value(), limits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view body = fuzz::asText(data, size);
    checkWith(body, RequestLimits{});
    checkWith(body, tinyLimits());
    fuzz::checkNoRapidjsonAssert();
    return 0;
}
