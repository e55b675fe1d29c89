// Unit tests of src/protocol/request.cc: parsing and validating /run bodies
// (SPEC §2–3, S9) and the harness input (src/harness/PROTOCOL.md).
#include <string>
#include <vector>

#include "protocol/json_value.h"
#include "protocol/rapidjson_config.h"
#include "protocol/request.h"
#include "protocol/response.h"

// CppUTest last: its leak-detector macros redefine `new`.
#include <CppUTest/TestHarness.h>

using namespace pyexec;
using namespace pyexec::protocol;

namespace {

RequestLimits defaultLimits() { return RequestLimits{}; }

Result<RunRequest> parse(const std::string& body, const RequestLimits& limits = defaultLimits()) {
    return parseRunRequest(body, limits);
}

// The body {"code": "x = 1", "tests": [<test>]}.
std::string withTest(const std::string& test) { return R"J({"code": "x = 1", "tests": [)J" + test + "]}"; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Asserts that `body` is rejected with `kind` on `field`, and that the message
// mentions `hint`.
void expectRejected(const std::string& body, ErrorKind kind, const std::string& field,
                    const std::string& hint = "", const RequestLimits& limits = defaultLimits()) {
    Result<RunRequest> r = parse(body, limits);
    CHECK_FALSE_TEXT(r.ok(), body.substr(0, 200).c_str());
    CHECK_EQUAL(static_cast<int>(kind), static_cast<int>(r.error().kind));
    STRCMP_EQUAL(field.c_str(), r.error().field.c_str());
    CHECK_FALSE(r.error().message.empty());
    if (!hint.empty()) CHECK_TEXT(contains(r.error().message, hint), r.error().message.c_str());
}

TestSpec parseOneTest(const std::string& test) {
    Result<RunRequest> r = parse(withTest(test));
    CHECK_TEXT(r.ok(), r.ok() ? "" : r.error().message.c_str());
    CHECK_EQUAL(1u, r.value().tests.size());
    return r.value().tests[0];
}

}  // namespace

TEST_GROUP(Request) {
    void setup() override { detail::gRapidjsonAssertFailures = 0; }
    // No input may reach a RapidJSON assertion.
    void teardown() override { CHECK_EQUAL(0ul, detail::gRapidjsonAssertFailures); }
};

// ---- accepted bodies ---------------------------------------------------------

TEST(Request, MinimalBodyGetsDefaults) {
    Result<RunRequest> r = parse(R"J({"code": "print('hi')"})J");
    CHECK(r.ok());
    STRCMP_EQUAL("print('hi')", r.value().code.c_str());
    STRCMP_EQUAL("", r.value().stdinData.c_str());
    CHECK_EQUAL(2000, r.value().timeoutMs);
    CHECK_EQUAL(0u, r.value().tests.size());
}

TEST(Request, DefaultTimeoutComesFromLimits) {
    RequestLimits limits;
    limits.defaultTimeoutMs = 1234;
    Result<RunRequest> r = parse(R"J({"code": ""})J", limits);
    CHECK(r.ok());
    CHECK_EQUAL(1234, r.value().timeoutMs);
}

TEST(Request, AllTopLevelFields) {
    Result<RunRequest> r = parse(R"J({"code": "x", "stdin": "5\n", "timeoutMs": 500, "tests": []})J");
    CHECK(r.ok());
    STRCMP_EQUAL("5\n", r.value().stdinData.c_str());
    CHECK_EQUAL(500, r.value().timeoutMs);
}

TEST(Request, UnknownTopLevelFieldsAreIgnored) {
    CHECK(parse(R"J({"code": "x", "language": "python", "extra": {"deep": [1, 2]}})J").ok());
}

TEST(Request, NullOptionalFieldsMeanNotGiven) {
    Result<RunRequest> r = parse(R"J({"code": "x", "stdin": null, "timeoutMs": null, "tests": null})J");
    CHECK(r.ok());
    CHECK_EQUAL(2000, r.value().timeoutMs);
    CHECK_EQUAL(0u, r.value().tests.size());
}

TEST(Request, UnicodeAndEscapesInCode) {
    Result<RunRequest> r = parse(R"J({"code": "print(\"h\u00e9\\n\") # \ud83d\ude00"})J");
    CHECK(r.ok());
    STRCMP_EQUAL("print(\"h\xC3\xA9\\n\") # \xF0\x9F\x98\x80", r.value().code.c_str());
}

TEST(Request, NulInStdinIsFine) {
    Result<RunRequest> r = parse(R"J({"code": "x", "stdin": "a\u0000b"})J");
    CHECK(r.ok());
    CHECK_EQUAL(3u, r.value().stdinData.size());
    CHECK_EQUAL('\0', r.value().stdinData[1]);
}

TEST(Request, RepeatedKeyKeepsTheLastValue) {
    Result<RunRequest> r = parse(R"J({"code": 5, "code": "second"})J");
    CHECK(r.ok());
    STRCMP_EQUAL("second", r.value().code.c_str());
}

TEST(Request, CodeExactlyAtTheLimitIsAccepted) {
    RequestLimits limits;
    limits.codeBytes = 10;
    CHECK(parse(R"J({"code": "0123456789"})J", limits).ok());
}

TEST(Request, TimeoutBoundsAreInclusive) {
    CHECK_EQUAL(1, parse(R"J({"code": "", "timeoutMs": 1})J").value().timeoutMs);
    CHECK_EQUAL(10000, parse(R"J({"code": "", "timeoutMs": 10000})J").value().timeoutMs);
    CHECK_EQUAL(3000, parse(R"J({"code": "", "timeoutMs": 3e3})J").value().timeoutMs);
    CHECK_EQUAL(3000, parse(R"J({"code": "", "timeoutMs": 3000.0})J").value().timeoutMs);
}

TEST(Request, ExactlyMaxTestsIsAccepted) {
    std::string tests;
    for (int i = 0; i < 100; ++i) tests += std::string(i ? "," : "") + R"J({"type": "output", "expected": ""})J";
    Result<RunRequest> r = parse(R"J({"code": "", "tests": [)J" + tests + "]}");
    CHECK(r.ok());
    CHECK_EQUAL(100u, r.value().tests.size());
}

// ---- each test type ----------------------------------------------------------

TEST(Request, OutputTest) {
    TestSpec t = parseOneTest(R"J({"type": "output", "expected": "Hello", "description": "says hi"})J");
    CHECK(t.type == TestType::kOutput);
    STRCMP_EQUAL("output", t.typeName.c_str());
    STRCMP_EQUAL("\"Hello\"", t.expectedJson.c_str());
    CHECK(t.description.has_value());
    STRCMP_EQUAL("says hi", t.description->c_str());
}

TEST(Request, DescriptionNullOrAbsentIsEmpty) {
    CHECK_FALSE(parseOneTest(R"J({"type": "output", "expected": "", "description": null})J").description);
    CHECK_FALSE(parseOneTest(R"J({"type": "output", "expected": ""})J").description);
}

TEST(Request, VariableExistsNeedsNoExpected) {
    TestSpec t = parseOneTest(R"J({"type": "variable_exists", "name": "total"})J");
    CHECK(t.type == TestType::kVariableExists);
    STRCMP_EQUAL("total", t.name.c_str());
    STRCMP_EQUAL("true", t.expectedJson.c_str());
}

TEST(Request, VariableIsASynonymOfName) {
    TestSpec t = parseOneTest(R"J({"type": "variable_type", "variable": "_x1", "expected": "int"})J");
    CHECK(t.type == TestType::kVariableType);
    STRCMP_EQUAL("_x1", t.name.c_str());
    STRCMP_EQUAL("\"int\"", t.expectedJson.c_str());
    STRCMP_EQUAL("n", parseOneTest(R"J({"type": "variable_exists", "name": "n", "variable": "n"})J").name.c_str());
}

TEST(Request, VariableValueKeepsExpectedExactly) {
    TestSpec t = parseOneTest(
        R"J({"type": "variable_value", "name": "x", "expected": {"a": [1, 2.50, 123456789012345678901234567890, null, true]}, "tolerance": 0.01})J");
    CHECK(t.type == TestType::kVariableValue);
    STRCMP_EQUAL(R"J({"a":[1,2.50,123456789012345678901234567890,null,true]})J", t.expectedJson.c_str());
    CHECK(t.tolerance.has_value());
    DOUBLES_EQUAL(0.01, *t.tolerance, 1e-12);
}

TEST(Request, ExpectedNullIsAValue) {
    STRCMP_EQUAL("null", parseOneTest(R"J({"type": "variable_value", "name": "x", "expected": null})J").expectedJson.c_str());
}

TEST(Request, ListTests) {
    TestSpec c = parseOneTest(R"J({"type": "list_contains", "name": "xs", "expected": "a"})J");
    CHECK(c.type == TestType::kListContains);
    TestSpec l = parseOneTest(R"J({"type": "list_length", "name": "xs", "expected": 3})J");
    CHECK(l.type == TestType::kListLength);
    STRCMP_EQUAL("3", l.expectedJson.c_str());
    CHECK(parseOneTest(R"J({"type": "list_length", "name": "xs", "expected": 0})J").type == TestType::kListLength);
}

TEST(Request, FunctionCallWithFunction) {
    TestSpec t = parseOneTest(
        R"J({"type": "function_call", "function": "add", "args": [1, [2]], "kwargs": {"k": "v"}, "expected": 3})J");
    CHECK(t.type == TestType::kFunctionCall);
    STRCMP_EQUAL("function_call", t.typeName.c_str());
    STRCMP_EQUAL("add", t.function.c_str());
    STRCMP_EQUAL("[1,[2]]", t.argsJson.c_str());
    STRCMP_EQUAL(R"J({"k":"v"})J", t.kwargsJson.c_str());
    STRCMP_EQUAL("3", t.expectedJson.c_str());
}

TEST(Request, FunctionCallArgumentsDefaultToEmpty) {
    TestSpec t = parseOneTest(R"J({"type": "function_call", "function": "f", "expected": null, "args": null})J");
    STRCMP_EQUAL("[]", t.argsJson.c_str());
    STRCMP_EQUAL("{}", t.kwargsJson.c_str());
}

TEST(Request, FunctionCallStdoutForm) {
    TestSpec t = parseOneTest(R"J({"type": "function_call", "expected": "5"})J");
    CHECK(t.type == TestType::kFunctionCallOutput);
    STRCMP_EQUAL("\"5\"", t.expectedJson.c_str());
    CHECK(parseOneTest(R"J({"type": "function_call", "function": null, "expected": "5"})J").type ==
          TestType::kFunctionCallOutput);
}

TEST(Request, TestsKeepTheirOrder) {
    Result<RunRequest> r = parse(R"J({"code": "", "tests": [
        {"type": "output", "expected": "a"}, {"type": "variable_exists", "name": "b"},
        {"type": "list_length", "name": "c", "expected": 1}]})J");
    CHECK(r.ok());
    CHECK_EQUAL(3u, r.value().tests.size());
    CHECK(r.value().tests[0].type == TestType::kOutput);
    STRCMP_EQUAL("b", r.value().tests[1].name.c_str());
    STRCMP_EQUAL("c", r.value().tests[2].name.c_str());
}

// ---- malformed bodies ---------------------------------------------------------

TEST(Request, EmptyBodyIsInvalidJson) {
    expectRejected("", ErrorKind::kInvalidJson, "", "offset 0");
    expectRejected("   ", ErrorKind::kInvalidJson, "", "empty");
}

TEST(Request, InvalidJsonSaysWhereParsingStopped) {
    Result<RunRequest> r = parse(R"J({"code": "x",})J");
    CHECK_FALSE(r.ok());
    CHECK_EQUAL(static_cast<int>(ErrorKind::kInvalidJson), static_cast<int>(r.error().kind));
    CHECK_TEXT(contains(r.error().message, "byte offset 13"), r.error().message.c_str());
    CHECK_TEXT(contains(r.error().message, "not valid JSON"), r.error().message.c_str());
    CHECK_EQUAL(400, httpStatusOf(r.error().kind));
    STRCMP_EQUAL("invalid_json", errorCodeOf(r.error().kind).c_str());
}

TEST(Request, TruncatedAndTrailingGarbage) {
    expectRejected(R"J({"code": "x")J", ErrorKind::kInvalidJson, "", "offset");
    expectRejected(R"J({"code": "x"} {})J", ErrorKind::kInvalidJson, "", "offset 14");
    expectRejected(R"J({"code": 'x'})J", ErrorKind::kInvalidJson, "", "offset 9");
    expectRejected(R"J({"code": NaN})J", ErrorKind::kInvalidJson, "");
    expectRejected(R"J({"code": "x", "timeoutMs": 01})J", ErrorKind::kInvalidJson, "");
}

TEST(Request, InvalidUtf8IsInvalidJson) {
    expectRejected("{\"code\": \"\xC0\xAF\"}", ErrorKind::kInvalidJson, "", "encoding");
    expectRejected("{\"code\": \"\xED\xA0\x80\"}", ErrorKind::kInvalidJson, "", "encoding");
    expectRejected("{\"code\": \"\xE2\x82\"}", ErrorKind::kInvalidJson, "", "encoding");
    expectRejected("{\"code\": \"\xFF\"}", ErrorKind::kInvalidJson, "", "encoding");
}

TEST(Request, LoneSurrogateEscapeIsInvalidJson) {
    expectRejected(R"J({"code": "\ud800"})J", ErrorKind::kInvalidJson, "", "surrogate");
}

// Found by tests/fuzz/fuzz_request: RapidJSON 1.1.0 pairs a high surrogate
// escape with its partner but let a lone low one (\uDC00-\uDFFF) through as
// the three bytes of a surrogate, which are not UTF-8.
TEST(Request, LoneLowSurrogateEscapeIsInvalidJson) {
    expectRejected(R"J({"code": "x = '\ude00'"})J", ErrorKind::kInvalidJson, "", "surrogate");
    expectRejected(R"J({"code": "x", "stdin": "\udfff"})J", ErrorKind::kInvalidJson, "", "before byte offset 31");
    expectRejected(R"J({"code": "x", "\udc00": 1})J", ErrorKind::kInvalidJson, "", "surrogate");
    CHECK(parse(R"J({"code": "x = '\ud83d\ude00'"})J").ok());  // a pair is fine
}

TEST(Request, RawNulByteIsInvalidJson) {
    std::string body = R"J({"code": "x"})J";
    body.push_back('\0');
    body += "garbage";
    expectRejected(body, ErrorKind::kInvalidJson, "", "NUL byte at byte offset 13");
    std::string inside = "{\"code\": \"a";
    inside.push_back('\0');
    inside += "b\"}";
    expectRejected(inside, ErrorKind::kInvalidJson, "", "NUL");
}

TEST(Request, HundredThousandOpenBracketsIsA400) {
    Result<RunRequest> r = parse(std::string(100000, '['));
    CHECK_FALSE(r.ok());
    CHECK_EQUAL(400, httpStatusOf(r.error().kind));
    CHECK_TEXT(contains(r.error().message, "nested deeper than 100"), r.error().message.c_str());
}

TEST(Request, DeepButBalancedExpectedIsA400) {
    std::string deep = std::string(100000, '[') + std::string(100000, ']');
    Result<RunRequest> r = parse(withTest(R"J({"type": "variable_value", "name": "x", "expected": )J" + deep + "}"));
    CHECK_FALSE(r.ok());
    CHECK_EQUAL(static_cast<int>(ErrorKind::kInvalidRequest), static_cast<int>(r.error().kind));
    CHECK_TEXT(contains(r.error().message, "nested deeper"), r.error().message.c_str());
    CHECK_EQUAL(400, httpStatusOf(r.error().kind));
}

TEST(Request, DeepObjectsAreCappedToo) {
    std::string deep;
    for (int i = 0; i < 5000; ++i) deep += R"J({"a":)J";
    expectRejected(deep + "1" + std::string(5000, '}'), ErrorKind::kInvalidRequest, "", "nested deeper");
}

TEST(Request, NestingWithinTheCapIsAccepted) {
    std::string expected = std::string(90, '[') + "1" + std::string(90, ']');
    TestSpec t = parseOneTest(R"J({"type": "variable_value", "name": "x", "expected": )J" + expected + "}");
    STRCMP_EQUAL(expected.c_str(), t.expectedJson.c_str());
}

TEST(Request, BodyMustBeAnObject) {
    expectRejected(R"J(["code"])J", ErrorKind::kInvalidRequest, "", "JSON object");
    expectRejected(R"J("print(1)")J", ErrorKind::kInvalidRequest, "", "JSON object");
    expectRejected("42", ErrorKind::kInvalidRequest, "", "JSON object");
    expectRejected("null", ErrorKind::kInvalidRequest, "", "JSON object");
}

// ---- top-level fields ---------------------------------------------------------

TEST(Request, CodeIsRequired) {
    expectRejected("{}", ErrorKind::kInvalidRequest, "code", "Missing \"code\"");
    expectRejected(R"J({"code": null})J", ErrorKind::kInvalidRequest, "code", "Missing");
}

TEST(Request, CodeMustBeAString) {
    expectRejected(R"J({"code": 5})J", ErrorKind::kInvalidRequest, "code", "must be a string");
    expectRejected(R"J({"code": ["print(1)"]})J", ErrorKind::kInvalidRequest, "code", "not an array");
    expectRejected(R"J({"code": {"text": "x"}})J", ErrorKind::kInvalidRequest, "code", "string");
}

TEST(Request, CodeOverTheLimitIsTooLarge) {
    std::string code(100 * 1024 + 1, 'x');
    expectRejected(R"J({"code": ")J" + code + "\"}", ErrorKind::kTooLarge, "code", "102400 bytes");
    CHECK_EQUAL(413, httpStatusOf(ErrorKind::kTooLarge));
    STRCMP_EQUAL("code_too_large", errorCodeOf(ErrorKind::kTooLarge).c_str());
}

TEST(Request, CodeLimitCountsBytesNotCharacters) {
    RequestLimits limits;
    limits.codeBytes = 4;
    expectRejected("{\"code\": \"\xC3\xA9\xC3\xA9\xC3\xA9\"}", ErrorKind::kTooLarge, "code", "6 bytes", limits);
}

TEST(Request, NulInCodeIsRejected) {
    expectRejected(R"J({"code": "print(1)\u0000"})J", ErrorKind::kInvalidRequest, "code", "NUL");
}

TEST(Request, StdinMustBeAString) {
    expectRejected(R"J({"code": "", "stdin": 5})J", ErrorKind::kInvalidRequest, "stdin", "string");
    expectRejected(R"J({"code": "", "stdin": ["a"]})J", ErrorKind::kInvalidRequest, "stdin", "string");
}

TEST(Request, StdinOverTheLimitIsTooLarge) {
    RequestLimits limits;
    limits.stdinBytes = 3;
    expectRejected(R"J({"code": "", "stdin": "abcd"})J", ErrorKind::kTooLarge, "stdin", "limit is 3 bytes", limits);
    CHECK(parse(R"J({"code": "", "stdin": "abc"})J", limits).ok());
}

TEST(Request, BadTimeouts) {
    const char* bad[] = {"0", "-1", "10001", "1.5", "\"100\"", "true", "[]", "1e100", "-0.5"};
    for (const char* value : bad) {
        expectRejected(std::string(R"J({"code": "", "timeoutMs": )J") + value + "}", ErrorKind::kInvalidRequest,
                       "timeoutMs", "from 1 to 10000");
    }
}

TEST(Request, TimeoutRangeFollowsTheLimits) {
    RequestLimits limits;
    limits.maxTimeoutMs = 500;
    expectRejected(R"J({"code": "", "timeoutMs": 501})J", ErrorKind::kInvalidRequest, "timeoutMs", "from 1 to 500",
                   limits);
}

TEST(Request, TestsMustBeAnArray) {
    expectRejected(R"J({"code": "", "tests": {}})J", ErrorKind::kInvalidRequest, "tests", "array");
    expectRejected(R"J({"code": "", "tests": "output"})J", ErrorKind::kInvalidRequest, "tests", "array");
}

TEST(Request, TooManyTests) {
    std::string tests;
    for (int i = 0; i < 101; ++i) tests += std::string(i ? "," : "") + "{}";
    expectRejected(R"J({"code": "", "tests": [)J" + tests + "]}", ErrorKind::kInvalidRequest, "tests",
                   "Too many tests: 101; at most 100");
}

TEST(Request, ThousandsOfTestsAreRejectedBeforeLookingAtThem) {
    std::string tests;
    for (int i = 0; i < 5000; ++i) tests += std::string(i ? "," : "") + "1";
    expectRejected(R"J({"code": "", "tests": [)J" + tests + "]}", ErrorKind::kInvalidRequest, "tests", "5000");
}

// ---- test objects ---------------------------------------------------------------

TEST(Request, TestMustBeAnObject) {
    expectRejected(withTest("\"output\""), ErrorKind::kInvalidRequest, "tests[0]", "object");
    expectRejected(withTest("null"), ErrorKind::kInvalidRequest, "tests[0]", "object");
}

TEST(Request, FieldPathNamesTheTest) {
    expectRejected(R"J({"code": "", "tests": [{"type": "output", "expected": ""}, {"type": "output", "expected": ""},
                   {"type": "nope"}]})J",
                   ErrorKind::kInvalidRequest, "tests[2].type");
}

TEST(Request, TypeIsRequired) {
    expectRejected(withTest(R"J({"expected": "x"})J"), ErrorKind::kInvalidRequest, "tests[0].type",
                   "known types: output, variable_exists, variable_type, variable_value, function_call, "
                   "list_contains, list_length");
    expectRejected(withTest(R"J({"type": 3})J"), ErrorKind::kInvalidRequest, "tests[0].type", "must be a string");
}

TEST(Request, UnknownTypeListsTheKnownOnes) {
    expectRejected(withTest(R"J({"type": "Output", "expected": "x"})J"), ErrorKind::kInvalidRequest,
                   "tests[0].type", "Unknown test type \"Output\"; known types: output,");
    expectRejected(withTest(R"J({"type": "stdout"})J"), ErrorKind::kInvalidRequest, "tests[0].type", "list_length");
}

TEST(Request, LongUnknownTypeIsShortenedInTheMessage) {
    Result<RunRequest> r = parse(withTest(R"J({"type": ")J" + std::string(5000, 'z') + "\"}"));
    CHECK_FALSE(r.ok());
    CHECK(r.error().message.size() < 400);
}

TEST(Request, DescriptionMustBeAString) {
    expectRejected(withTest(R"J({"type": "output", "expected": "", "description": 5})J"),
                   ErrorKind::kInvalidRequest, "tests[0].description", "string");
}

TEST(Request, NameIsRequired) {
    const char* types[] = {"variable_exists", "variable_type", "variable_value", "list_contains", "list_length"};
    for (const char* type : types) {
        expectRejected(withTest(std::string(R"J({"type": ")J") + type + R"J(", "expected": 1})J"),
                       ErrorKind::kInvalidRequest, "tests[0].name", "needs \"name\"");
    }
}

TEST(Request, NameMustBeAnIdentifier) {
    const char* bad[] = {"\"1x\"", "\"x-y\"", "\"\"", "\"a b\"", "\"x.y\"", "\"os.system('x')\"", "5", "[\"x\"]",
                         "\"\xC3\xA9t\xC3\xA9\""};
    for (const char* name : bad) {
        expectRejected(withTest(std::string(R"J({"type": "variable_exists", "name": )J") + name + "}"),
                       ErrorKind::kInvalidRequest, "tests[0].name", "Python identifier");
    }
}

TEST(Request, BadVariableSynonymNamesItsField) {
    expectRejected(withTest(R"J({"type": "variable_exists", "variable": "1x"})J"), ErrorKind::kInvalidRequest,
                   "tests[0].variable", "identifier");
}

TEST(Request, NameAndVariableMustAgree) {
    expectRejected(withTest(R"J({"type": "variable_exists", "name": "a", "variable": "b"})J"),
                   ErrorKind::kInvalidRequest, "tests[0].name", "only \"name\"");
}

TEST(Request, ExpectedIsRequired) {
    const char* tests[] = {
        R"J({"type": "output"})J",
        R"J({"type": "variable_type", "name": "x"})J",
        R"J({"type": "variable_value", "name": "x"})J",
        R"J({"type": "list_contains", "name": "x"})J",
        R"J({"type": "list_length", "name": "x"})J",
        R"J({"type": "function_call", "function": "f"})J",
        R"J({"type": "function_call"})J",
    };
    for (const char* test : tests) {
        expectRejected(withTest(test), ErrorKind::kInvalidRequest, "tests[0].expected", "needs \"expected\"");
    }
}

TEST(Request, ExpectedStringTypes) {
    expectRejected(withTest(R"J({"type": "output", "expected": 5})J"), ErrorKind::kInvalidRequest,
                   "tests[0].expected", "must be a string");
    expectRejected(withTest(R"J({"type": "output", "expected": null})J"), ErrorKind::kInvalidRequest,
                   "tests[0].expected", "not null");
    expectRejected(withTest(R"J({"type": "variable_type", "name": "x", "expected": ["int"]})J"),
                   ErrorKind::kInvalidRequest, "tests[0].expected", "naming a type");
    expectRejected(withTest(R"J({"type": "function_call", "expected": 5})J"), ErrorKind::kInvalidRequest,
                   "tests[0].expected", "give \"function\"");
}

TEST(Request, ListLengthNeedsACount) {
    const char* bad[] = {"-1", "1.5", "\"3\"", "null", "true", "[3]"};
    for (const char* value : bad) {
        expectRejected(withTest(std::string(R"J({"type": "list_length", "name": "x", "expected": )J") + value + "}"),
                       ErrorKind::kInvalidRequest, "tests[0].expected", "non-negative integer");
    }
}

TEST(Request, ToleranceMustBeANonNegativeNumber) {
    const char* bad[] = {"-0.1", "\"0.1\"", "true", "[]"};
    for (const char* value : bad) {
        expectRejected(withTest(std::string(R"J({"type": "variable_value", "name": "x", "expected": 1, "tolerance": )J") +
                                value + "}"),
                       ErrorKind::kInvalidRequest, "tests[0].tolerance", "non-negative number");
    }
    CHECK_FALSE(parseOneTest(R"J({"type": "variable_value", "name": "x", "expected": 1, "tolerance": null})J").tolerance);
    CHECK_EQUAL(0.0, *parseOneTest(R"J({"type": "variable_value", "name": "x", "expected": 1, "tolerance": 0})J").tolerance);
}

TEST(Request, FunctionMustBeAnIdentifier) {
    expectRejected(withTest(R"J({"type": "function_call", "function": "__import__('os').system", "expected": 1})J"),
                   ErrorKind::kInvalidRequest, "tests[0].function", "Python identifier");
    expectRejected(withTest(R"J({"type": "function_call", "function": 5, "expected": 1})J"),
                   ErrorKind::kInvalidRequest, "tests[0].function", "global function");
}

TEST(Request, ArgsAndKwargsTypes) {
    expectRejected(withTest(R"J({"type": "function_call", "function": "f", "args": {"a": 1}, "expected": 1})J"),
                   ErrorKind::kInvalidRequest, "tests[0].args", "array");
    expectRejected(withTest(R"J({"type": "function_call", "function": "f", "args": 1, "expected": 1})J"),
                   ErrorKind::kInvalidRequest, "tests[0].args", "array");
    expectRejected(withTest(R"J({"type": "function_call", "function": "f", "kwargs": [1], "expected": 1})J"),
                   ErrorKind::kInvalidRequest, "tests[0].kwargs", "object");
    expectRejected(withTest(R"J({"type": "function_call", "function": "f", "kwargs": {"not valid": 1}, "expected": 1})J"),
                   ErrorKind::kInvalidRequest, "tests[0].kwargs", "\"not valid\"");
}

TEST(Request, ArgsWithoutFunction) {
    expectRejected(withTest(R"J({"type": "function_call", "args": [1], "expected": "1"})J"),
                   ErrorKind::kInvalidRequest, "tests[0].function", "no \"function\"");
    expectRejected(withTest(R"J({"type": "function_call", "kwargs": {}, "expected": "1"})J"),
                   ErrorKind::kInvalidRequest, "tests[0].function", "no \"function\"");
}

TEST(Request, MessagesAreValidUtf8EvenForHostileInput) {
    Result<RunRequest> r = parse(withTest("{\"type\": \"" + std::string(39, 'a') + "\xC3\xA9\xC3\xA9\"}"));
    CHECK_FALSE(r.ok());
    std::string body = buildErrorBody(r.error(), "id");
    CHECK(parseJson(body).ok());
}

// ---- harness input ---------------------------------------------------------------

TEST(Request, HarnessInputListsObservations) {
    Result<RunRequest> r = parse(R"J({"code": "print(1)", "tests": [
        {"type": "output", "expected": "SECRET-OUT"},
        {"type": "variable_value", "name": "x", "expected": "SECRET-VALUE"},
        {"type": "function_call", "function": "f", "args": [1, 2.0], "kwargs": {"k": [3]}, "expected": "SECRET-RET"},
        {"type": "function_call", "expected": "SECRET-LINE"},
        {"type": "variable_exists", "variable": "y"},
        {"type": "list_length", "name": "z", "expected": 424242}]})J");
    CHECK(r.ok());
    std::string input = buildHarnessInput(r.value());
    STRCMP_EQUAL(
        R"J({"code":"print(1)","observe":[null,{"var":"x"},{"call":"f","args":[1,2.0],"kwargs":{"k":[3]}},null,{"var":"y"},{"var":"z"}]})J",
        input.c_str());
    CHECK_FALSE(contains(input, "SECRET"));
    CHECK_FALSE(contains(input, "424242"));
}

TEST(Request, HarnessInputEscapesCode) {
    RunRequest request;
    request.code = "print(\"a\\tb\")\n\x01\xF0\x9F\x98\x80";
    std::string input = buildHarnessInput(request);
    Result<JsonValue> parsed = parseJson(input);
    CHECK(parsed.ok());
    const JsonValue* code = parsed.value().find("code");
    CHECK(code != nullptr && code->isString());
    STRCMP_EQUAL(request.code.c_str(), code->text.c_str());
    const JsonValue* observe = parsed.value().find("observe");
    CHECK(observe != nullptr && observe->isArray() && observe->items.empty());
}

// `pyexecd run`: the tests file holds a bare array or {"tests": [...]}; the
// program and stdin go through the same checks as a body's.
TEST(Request, CliTestsFileAsArrayOrObject) {
    const char* tests = R"J([{"type": "output", "expected": "1"}])J";
    for (std::string file : {std::string(tests), R"J({"tests": )J" + std::string(tests) + "}"}) {
        Result<RunRequest> r = parseCliRequest("print(1)", "in", file, defaultLimits());
        CHECK(r.ok());
        LONGS_EQUAL(1, r.value().tests.size());
        STRCMP_EQUAL("print(1)", r.value().code.c_str());
        STRCMP_EQUAL("in", r.value().stdinData.c_str());
    }
    Result<RunRequest> none = parseCliRequest("pass", "", std::nullopt, defaultLimits());
    CHECK(none.ok() && none.value().tests.empty());
}

TEST(Request, CliTestsFileOfAnotherShapeIsRefused) {
    for (const char* file : {R"J({"tests": [], "code": "x"})J", R"J({"type": "output"})J", "3", "\"x\""}) {
        Result<RunRequest> r = parseCliRequest("pass", "", std::string(file), defaultLimits());
        CHECK(!r.ok());
        LONGS_EQUAL(static_cast<int>(ErrorKind::kInvalidRequest), static_cast<int>(r.error().kind));
        STRCMP_EQUAL("tests", r.error().field.c_str());
    }
    Result<RunRequest> bad = parseCliRequest("pass", "", std::string("[1,"), defaultLimits());
    CHECK(!bad.ok() && bad.error().kind == ErrorKind::kInvalidJson);
    CHECK(contains(bad.error().message, "tests file is not valid JSON"));
}

TEST(Request, CliValidatesLikeABody) {
    Result<RunRequest> test = parseCliRequest("pass", "", std::string(R"J([{"type": "magic"}])J"), defaultLimits());
    CHECK(!test.ok());
    STRCMP_EQUAL("tests[0].type", test.error().field.c_str());
    Result<RunRequest> nul = parseCliRequest(std::string("a\0b", 3), "", std::nullopt, defaultLimits());
    CHECK(!nul.ok());
    STRCMP_EQUAL("code", nul.error().field.c_str());
    RequestLimits small;
    small.codeBytes = 4;
    Result<RunRequest> big = parseCliRequest("print(1)", "", std::nullopt, small);
    CHECK(!big.ok() && big.error().kind == ErrorKind::kTooLarge);
}
