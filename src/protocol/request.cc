// Parsing and validating a /run body (SPEC §2–3), and the harness input built
// from it (src/harness/PROTOCOL.md). Runs in a worker, on untrusted bytes: the
// body is parsed iteratively with a nesting cap (json_value.h), every field's
// type is checked before it is read, and every rejection names the field and
// says what to send instead.
#include "protocol/request.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <utility>

#include "protocol/json_value.h"
#include "protocol/response.h"
#include "protocol/text.h"
#include "protocol/workspace.h"

namespace pyexec::protocol {
namespace {

using Problem = std::optional<Error>;  // empty when the field is fine

struct TypeEntry {
    std::string_view name;
    TestType type;  // kFunctionCall stands for both function_call forms
};

constexpr TypeEntry kTestTypes[] = {
    {"output", TestType::kOutput},
    {"variable_exists", TestType::kVariableExists},
    {"variable_type", TestType::kVariableType},
    {"variable_value", TestType::kVariableValue},
    {"function_call", TestType::kFunctionCall},
    {"list_contains", TestType::kListContains},
    {"list_length", TestType::kListLength},
    {"pytest", TestType::kPytest},
};

constexpr std::string_view kKnownTypes =
    "output, variable_exists, variable_type, variable_value, function_call, list_contains, "
    "list_length, pytest";

Error invalid(std::string field, std::string message) {
    return makeError(ErrorKind::kInvalidRequest, std::move(message), std::move(field));
}

std::string quote(std::string_view text) {
    // Appending (rather than "\"" + ...) also keeps g++ 12 -O3 from a false -Wrestrict.
    std::string out = "\"";
    out.append(excerpt(text)).push_back('"');
    return out;
}

// A member that is absent or null counts as not given.
const JsonValue* given(const JsonValue& object, std::string_view key) {
    const JsonValue* v = object.find(key);
    return v == nullptr || v->isNull() ? nullptr : v;
}

bool isIdentifier(std::string_view s) {
    auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
    if (s.empty() || !letter(s[0])) return false;
    for (char c : s) {
        if (!letter(c) && !(c >= '0' && c <= '9')) return false;
    }
    return true;
}

// An integral JSON number (2000, 2e3, 2000.0) within [lo, hi].
bool integerInRange(const JsonValue& v, double lo, double hi, long long* out) {
    double d = 0;
    if (!numberValue(v, &d) || !std::isfinite(d) || d != std::floor(d) || d < lo || d > hi) return false;
    *out = static_cast<long long>(d);
    return true;
}

std::string describeKind(const JsonValue& v) {
    switch (v.kind) {
        case JsonValue::Kind::kNull: return "null";
        case JsonValue::Kind::kBool: return v.boolean ? "true" : "false";
        case JsonValue::Kind::kNumber: return excerpt(v.text);
        case JsonValue::Kind::kString: return "a string";
        case JsonValue::Kind::kArray: return "an array";
        case JsonValue::Kind::kObject: return "an object";
    }
    return "?";
}

// ---- top-level fields ------------------------------------------------------

Problem readCode(const JsonValue& root, const RequestLimits& limits, std::string* out) {
    const JsonValue* code = given(root, "code");
    if (code == nullptr) {
        return invalid("code", "Missing \"code\": send the Python program as a string in \"code\".");
    }
    if (!code->isString()) {
        return invalid("code", "\"code\" must be a string holding the Python program, not " +
                                   describeKind(*code) + ".");
    }
    if (code->text.size() > limits.codeBytes) {
        return makeError(ErrorKind::kTooLarge,
                         "\"code\" is " + std::to_string(code->text.size()) + " bytes; the limit is " +
                             std::to_string(limits.codeBytes) + " bytes. Send a shorter program.",
                         "code");
    }
    if (code->text.find('\0') != std::string::npos) {
        return invalid("code", "\"code\" contains a NUL character (\\u0000), which Python source "
                               "cannot contain. Remove it.");
    }
    *out = code->text;
    return {};
}

Problem readStdin(const JsonValue& root, const RequestLimits& limits, std::string* out) {
    const JsonValue* input = given(root, "stdin");
    if (input == nullptr) return {};
    if (!input->isString()) {
        return invalid("stdin", "\"stdin\" must be a string (the program's standard input), not " +
                                    describeKind(*input) + ".");
    }
    if (input->text.size() > limits.stdinBytes) {
        return makeError(ErrorKind::kTooLarge,
                         "\"stdin\" is " + std::to_string(input->text.size()) +
                             " bytes; the limit is " + std::to_string(limits.stdinBytes) +
                             " bytes. Send less input.",
                         "stdin");
    }
    *out = input->text;
    return {};
}

Problem readTimeout(const JsonValue& root, const RequestLimits& limits, int* out) {
    const JsonValue* timeout = given(root, "timeoutMs");
    if (timeout == nullptr) return {};
    long long ms = 0;
    if (!integerInRange(*timeout, 1, limits.maxTimeoutMs, &ms)) {
        return invalid("timeoutMs", "\"timeoutMs\" must be an integer from 1 to " +
                                        std::to_string(limits.maxTimeoutMs) +
                                        " (milliseconds), not " + describeKind(*timeout) +
                                        "; leave it out for the default of " +
                                        std::to_string(limits.defaultTimeoutMs) + ".");
    }
    *out = static_cast<int>(ms);
    return {};
}

// `files`: {"path": "content"} (SPEC §3.1).
std::string fileField(std::string_view path) { return "files[" + jsonString(excerpt(path, 60)) + "]"; }

Problem readFileEntry(const JsonMember& m, std::vector<WorkspaceFile>* out) {
    std::string field = fileField(m.key);
    if (std::optional<std::string> why = workspacePathProblem(m.key)) {
        return invalid(field, "Bad path " + quote(m.key) + " in \"files\": " + *why + ".");
    }
    if (m.key == "main.py") {
        return invalid(field, "\"files\" cannot hold main.py: that is the program itself (\"code\").");
    }
    if (!m.value.isString()) {
        return invalid(field, field + " must be a string (the file's UTF-8 text), not " + describeKind(m.value) + ".");
    }
    out->push_back({m.key, m.value.text});
    return {};
}

// A file cannot also be a folder of another file ("a" and "a/b").
Problem checkFolders(const std::vector<WorkspaceFile>& files) {
    std::set<std::string_view> paths;
    for (const WorkspaceFile& f : files) paths.insert(f.path);
    for (const WorkspaceFile& f : files) {
        for (size_t slash = f.path.find('/'); slash != std::string::npos; slash = f.path.find('/', slash + 1)) {
            std::string_view folder = std::string_view(f.path).substr(0, slash);
            if (paths.count(folder) != 0) {
                return invalid(fileField(f.path), quote(folder) + " is a file in \"files\", so it cannot also be "
                                                  "the folder of " + quote(f.path) + ".");
            }
        }
    }
    return {};
}

Problem readFiles(const JsonValue& root, const RequestLimits& limits, std::vector<WorkspaceFile>* out) {
    const JsonValue* files = given(root, "files");
    if (files == nullptr) return {};
    if (!files->isObject()) {
        return invalid("files", "\"files\" must be an object mapping paths to contents, e.g. "
                                "{\"data.csv\": \"a,b\\n1,2\\n\"}, not " + describeKind(*files) + ".");
    }
    if (files->members.size() > limits.maxFiles) {
        return makeError(ErrorKind::kTooLarge, "\"files\" has " + std::to_string(files->members.size()) +
                         " files; at most " + std::to_string(limits.maxFiles) + " are allowed.", "files");
    }
    size_t bytes = 0;
    for (const JsonMember& m : files->members) {
        if (Problem p = readFileEntry(m, out)) return p;
        bytes += m.value.text.size();
    }
    if (bytes > limits.filesBytes) {
        return makeError(ErrorKind::kTooLarge, "\"files\" holds " + std::to_string(bytes) + " bytes; the limit is " +
                         std::to_string(limits.filesBytes) + " bytes in all.", "files");
    }
    std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    return checkFolders(*out);
}

// ---- one test ----------------------------------------------------------------

Problem readType(const JsonValue& test, const std::string& path, TestSpec* spec) {
    const JsonValue* type = given(test, "type");
    if (type == nullptr || !type->isString()) {
        return invalid(path + ".type", path + (type == nullptr ? " has no \"type\"" : ".type must be a string") +
                                           "; known types: " + std::string(kKnownTypes) + ".");
    }
    for (const TypeEntry& entry : kTestTypes) {
        if (type->text == entry.name) {
            spec->type = entry.type;
            spec->typeName = type->text;
            return {};
        }
    }
    return invalid(path + ".type", "Unknown test type " + quote(type->text) +
                                       "; known types: " + std::string(kKnownTypes) + ".");
}

Problem readDescription(const JsonValue& test, const std::string& path, TestSpec* spec) {
    const JsonValue* description = given(test, "description");
    if (description == nullptr) return {};
    if (!description->isString()) {
        return invalid(path + ".description", path + ".description must be a string or null.");
    }
    spec->description = description->text;
    return {};
}

Problem readTolerance(const JsonValue& test, const std::string& path, TestSpec* spec) {
    const JsonValue* tolerance = given(test, "tolerance");
    if (tolerance == nullptr) return {};
    double d = 0;
    if (!numberValue(*tolerance, &d) || !std::isfinite(d) || d < 0) {
        return invalid(path + ".tolerance",
                       path + ".tolerance must be a non-negative number, e.g. 0.001.");
    }
    spec->tolerance = d;
    return {};
}

// `name`, or its synonym `variable`.
Problem readName(const JsonValue& test, const std::string& path, TestSpec* spec) {
    const JsonValue* name = given(test, "name");
    const JsonValue* variable = given(test, "variable");
    std::string field = path + (name != nullptr || variable == nullptr ? ".name" : ".variable");
    if (name != nullptr && variable != nullptr && toJson(*name) != toJson(*variable)) {
        return invalid(field, path + " gives different \"name\" and \"variable\"; give only \"name\".");
    }
    const JsonValue* v = name != nullptr ? name : variable;
    if (v == nullptr) {
        return invalid(field, path + " needs \"name\": the global variable to check, e.g. \"total\".");
    }
    if (!v->isString() || !isIdentifier(v->text)) {
        return invalid(field, field + " must be a Python identifier (ASCII letters, digits and _, "
                                      "not starting with a digit)" +
                                  (v->isString() ? "; got " + quote(v->text) : std::string()) + ".");
    }
    spec->name = v->text;
    return {};
}

// `expected` of any JSON type (null included), or of a kind `check` accepts.
Problem readExpected(const JsonValue& test, const std::string& path, TestSpec* spec,
                     bool (*check)(const JsonValue&), std::string_view what) {
    const JsonValue* expected = test.find("expected");
    if (expected == nullptr) {
        return invalid(path + ".expected", path + " needs \"expected\": " + std::string(what) + ".");
    }
    if (check != nullptr && !check(*expected)) {
        return invalid(path + ".expected", path + ".expected must be " + std::string(what) +
                                               ", not " + describeKind(*expected) + ".");
    }
    spec->expectedJson = toJson(*expected);
    return {};
}

bool isString(const JsonValue& v) { return v.isString(); }
bool isCount(const JsonValue& v) {
    long long n = 0;
    return integerInRange(v, 0, 9e15, &n);
}

Problem readCallArguments(const JsonValue& test, const std::string& path, TestSpec* spec) {
    if (const JsonValue* args = given(test, "args")) {
        if (!args->isArray()) {
            return invalid(path + ".args", path + ".args must be an array of positional arguments.");
        }
        spec->argsJson = toJson(*args);
    }
    if (const JsonValue* kwargs = given(test, "kwargs")) {
        if (!kwargs->isObject()) {
            return invalid(path + ".kwargs",
                           path + ".kwargs must be an object mapping argument names to values.");
        }
        for (const JsonMember& m : kwargs->members) {
            if (!isIdentifier(m.key)) {
                return invalid(path + ".kwargs", "Keyword argument " + quote(m.key) + " in " + path +
                                                     ".kwargs is not a Python identifier.");
            }
        }
        spec->kwargsJson = toJson(*kwargs);
    }
    return {};
}

Problem readFunctionCall(const JsonValue& test, const std::string& path, TestSpec* spec) {
    const JsonValue* function = given(test, "function");
    if (function == nullptr) {
        if (given(test, "args") != nullptr || given(test, "kwargs") != nullptr) {
            return invalid(path + ".function",
                           path + " has \"args\"/\"kwargs\" but no \"function\": name the function "
                                  "to call, or drop them to look for a line of stdout.");
        }
        spec->type = TestType::kFunctionCallOutput;
        return readExpected(test, path, spec, isString,
                            "a string (the line to find in stdout; give \"function\" to check a return value instead)");
    }
    if (!function->isString() || !isIdentifier(function->text)) {
        return invalid(path + ".function",
                       path + ".function must be the name of a global function (a Python identifier)" +
                           (function->isString() ? "; got " + quote(function->text) : std::string()) + ".");
    }
    spec->type = TestType::kFunctionCall;
    spec->function = function->text;
    if (Problem p = readCallArguments(test, path, spec)) return p;
    return readExpected(test, path, spec, nullptr, "the value the call should return (any JSON)");
}

// pytest: `code`, the test module (run in the sandbox after the program).
Problem readPytestModule(const JsonValue& test, const std::string& path, const RequestLimits& limits,
                         TestSpec* spec) {
    const JsonValue* code = given(test, "code");
    std::string field = path + ".code";
    if (code == nullptr || !code->isString()) {
        return invalid(field, path + " needs \"code\": the pytest test module as a string, e.g. "
                              "\"from main import add\\ndef test_add():\\n    assert add(2, 3) == 5\\n\".");
    }
    if (code->text.size() > limits.pytestModuleBytes) {
        return makeError(ErrorKind::kTooLarge, field + " is " + std::to_string(code->text.size()) +
                         " bytes; a test module can have at most " + std::to_string(limits.pytestModuleBytes) +
                         " bytes.", field);
    }
    if (code->text.find('\0') != std::string::npos) {
        return invalid(field, field + " contains a NUL character (\\u0000), which Python source cannot contain.");
    }
    spec->module = code->text;
    spec->expectedJson = "null";
    return {};
}

// The fields specific to each test type.
Problem readTypeFields(const JsonValue& test, const std::string& path, const RequestLimits& limits,
                       TestSpec* spec) {
    switch (spec->type) {
        case TestType::kPytest:
            return readPytestModule(test, path, limits, spec);
        case TestType::kOutput:
            return readExpected(test, path, spec, isString, "a string (the expected output)");
        case TestType::kVariableExists:
            spec->expectedJson = "true";
            return readName(test, path, spec);
        case TestType::kFunctionCallOutput:
        case TestType::kFunctionCall:
            return readFunctionCall(test, path, spec);
        default:
            break;
    }
    if (Problem p = readName(test, path, spec)) return p;
    switch (spec->type) {
        case TestType::kVariableType:
            return readExpected(test, path, spec, isString, "a string naming a type, e.g. \"int\"");
        case TestType::kListLength:
            return readExpected(test, path, spec, isCount, "a non-negative integer (the expected length)");
        default:
            return readExpected(test, path, spec, nullptr, "the expected value (any JSON)");
    }
}

Result<TestSpec> readTest(const JsonValue& test, const std::string& path, const RequestLimits& limits) {
    if (!test.isObject()) {
        return invalid(path, path + " must be an object with a \"type\", e.g. "
                                    "{\"type\": \"output\", \"expected\": \"Hello\"}.");
    }
    TestSpec spec;
    if (Problem p = readType(test, path, &spec)) return *p;
    if (Problem p = readDescription(test, path, &spec)) return *p;
    if (Problem p = readTolerance(test, path, &spec)) return *p;
    if (Problem p = readTypeFields(test, path, limits, &spec)) return *p;
    return spec;
}

Problem readTests(const JsonValue& root, const RequestLimits& limits, std::vector<TestSpec>* out) {
    const JsonValue* tests = given(root, "tests");
    if (tests == nullptr) return {};
    if (!tests->isArray()) {
        return invalid("tests", "\"tests\" must be an array of test objects, not " +
                                    describeKind(*tests) + ".");
    }
    if (tests->items.size() > limits.maxTests) {
        return invalid("tests", "Too many tests: " + std::to_string(tests->items.size()) + "; at most " +
                                    std::to_string(limits.maxTests) +
                                    " are allowed per request. Split them over several requests.");
    }
    out->reserve(tests->items.size());
    for (size_t i = 0; i < tests->items.size(); ++i) {
        Result<TestSpec> test = readTest(tests->items[i], "tests[" + std::to_string(i) + "]", limits);
        if (!test) return test.error();
        out->push_back(std::move(test).value());
    }
    return {};
}

// Every field of a body already parsed into an object, in the order SPEC lists them.
Result<RunRequest> readRequest(const JsonValue& root, const RequestLimits& limits) {
    RunRequest request;
    request.timeoutMs = limits.defaultTimeoutMs;
    if (Problem p = readCode(root, limits, &request.code)) return *p;
    if (Problem p = readStdin(root, limits, &request.stdinData)) return *p;
    if (Problem p = readTimeout(root, limits, &request.timeoutMs)) return *p;
    if (Problem p = readTests(root, limits, &request.tests)) return *p;
    if (Problem p = readFiles(root, limits, &request.files)) return *p;
    return request;
}

JsonValue stringMember(JsonValue object, std::string key, std::string_view text) {
    object.kind = JsonValue::Kind::kObject;
    JsonValue value;
    value.kind = JsonValue::Kind::kString;
    value.text = std::string(text);
    object.members.push_back({std::move(key), std::move(value)});
    return object;
}

// A tests file holds what a /run body's "tests" holds, either bare or as the
// only member of an object: users copy one or the other from the README.
Result<JsonValue> parseTestsFile(std::string_view text) {
    Result<JsonValue> parsed = parseJson(text);
    if (!parsed) {
        Error e = parsed.error();
        e.message = "The tests file is not valid JSON: " + e.message + ".";
        return e;
    }
    JsonValue& root = parsed.value();
    if (root.isArray()) return std::move(root);
    if (root.isObject() && root.members.size() == 1 && root.members[0].key == "tests") {
        return std::move(root.members[0].value);
    }
    return invalid("tests", "The tests file must hold a JSON array of tests, or an object whose only member is "
                            "\"tests\" (that array); give the program as FILE and its input with --stdin.");
}

}  // namespace

Result<RunRequest> parseRunRequest(std::string_view body, const RequestLimits& limits) {
    Result<JsonValue> parsed = parseJson(body);
    if (!parsed) {
        Error e = parsed.error();
        if (e.kind == ErrorKind::kInvalidJson) e.message = "The body is not valid JSON: " + e.message + ".";
        else if (e.message.rfind("holds", 0) == 0)
            e.message = "The body " + e.message + ": at most " + std::to_string(kDefaultJsonNodes) + " values.";
        else e.message = "The body " + e.message + "; send flatter data.";
        return e;
    }
    const JsonValue& root = parsed.value();
    if (!root.isObject()) {
        return invalid("", "The body must be a JSON object, e.g. {\"code\": \"print('hi')\"}.");
    }
    return readRequest(root, limits);
}

Result<RunRequest> parseCliRequest(std::string_view code, std::string_view stdinData,
                                   std::optional<std::string_view> testsFile, const RequestLimits& limits) {
    JsonValue root = stringMember({}, "code", code);
    root = stringMember(std::move(root), "stdin", stdinData);
    if (testsFile) {
        Result<JsonValue> tests = parseTestsFile(*testsFile);
        if (!tests) return tests.error();
        root.members.push_back({"tests", std::move(tests).value()});
    }
    return readRequest(root, limits);
}

std::string buildHarnessInput(const RunRequest& request) {
    JsonWriter w;
    w.beginObject().key("code").string(request.code).key("observe").beginArray();
    for (const TestSpec& test : request.tests) {
        switch (test.type) {
            case TestType::kOutput:
            case TestType::kFunctionCallOutput:
            case TestType::kPytest:
                w.null();
                break;
            case TestType::kFunctionCall:
                w.beginObject().key("call").string(test.function);
                w.key("args").raw(test.argsJson).key("kwargs").raw(test.kwargsJson).endObject();
                break;
            default:
                w.beginObject().key("var").string(test.name).endObject();
                break;
        }
    }
    w.endArray();
    if (!request.files.empty()) {
        w.key("files").beginObject();
        for (const WorkspaceFile& f : request.files) w.key(f.path).string(f.content);
        w.endObject();
    }
    bool pytest = false;
    for (size_t i = 0; i < request.tests.size(); ++i) {
        if (request.tests[i].type != TestType::kPytest) continue;
        if (!pytest) w.key("pytest").beginArray();
        pytest = true;
        w.beginObject().key("i").integer(static_cast<int64_t>(i)).key("code").string(request.tests[i].module);
        w.endObject();
    }
    if (pytest) w.endArray();
    w.endObject();
    return w.str();
}

}  // namespace pyexec::protocol
