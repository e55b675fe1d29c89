// Unit tests of the test verdicts (src/protocol/judge.cc), the observation
// records they read (observations.cc), output normalisation and UTF-8 repair
// (text.cc), and JSON equality (SPEC §3, S7).
#include <string>
#include <vector>

#include "protocol/json_value.h"
#include "protocol/rapidjson_config.h"
#include "protocol/request.h"
#include "protocol/observations.h"
#include "protocol/response.h"
#include "protocol/text.h"

// CppUTest last: its leak-detector macros redefine `new`.
#include <CppUTest/TestHarness.h>

using namespace pyexec;
using namespace pyexec::protocol;

namespace {

const std::string kFinished = R"J({"event": "finished", "exitCode": 0, "syntaxError": false, "error": null})J" "\n";
const std::string kEnd = R"J({"event": "end"})J" "\n";
const std::string kTampered = "observations unavailable: the program wrote to the harness's result channel";
const std::string kFffd = "\xEF\xBF\xBD";

RunRequest requestWith(const std::string& tests) {
    Result<RunRequest> r = parseRunRequest(R"J({"code": "pass", "tests": [)J" + tests + "]}", RequestLimits{});
    CHECK_TEXT(r.ok(), r.ok() ? "" : r.error().message.c_str());
    return r.value();
}

RunOutcome finishedRun(const std::string& out, const std::string& records) {
    RunOutcome o;
    o.out = out;
    o.exitCode = 0;
    o.observations = records;
    return o;
}

// Judges one test against a run that printed `out` and reported `records`.
TestVerdict judgeOne(const std::string& test, const std::string& out, const std::string& records) {
    std::vector<TestVerdict> v = judgeTests(requestWith(test), finishedRun(out, records));
    CHECK_EQUAL(1u, v.size());
    return v[0];
}

TestVerdict judgeRecord(const std::string& test, const std::string& record) {
    return judgeOne(test, "", kFinished + record + "\n" + kEnd);
}

void checkVerdict(const TestVerdict& v, bool passed, const std::string& actualJson, const std::string& message = "") {
    CHECK_EQUAL(passed, v.passed);
    STRCMP_EQUAL(actualJson.c_str(), v.actualJson.c_str());
    STRCMP_EQUAL(message.c_str(), v.message.c_str());
}

}  // namespace

TEST_GROUP(Normalise){};

TEST(Normalise, TrailingNewlineGoes) { STRCMP_EQUAL("Hello, World!", normaliseOutput("Hello, World!\n").c_str()); }

TEST(Normalise, CrlfBecomesLf) { STRCMP_EQUAL("a\nb", normaliseOutput("a\r\nb\r\n").c_str()); }

TEST(Normalise, TrailingSpacesOfEveryLineGo) {
    STRCMP_EQUAL("a\n  b\nc", normaliseOutput("a   \n  b\t\nc \r\n").c_str());
}

TEST(Normalise, LeadingAndTrailingBlankLinesGo) {
    STRCMP_EQUAL("  x\n\ny", normaliseOutput("\n   \n\t\n  x\n\ny\n\n  \n").c_str());
}

TEST(Normalise, InnerBlankLinesAndLeadingSpacesStay) {
    STRCMP_EQUAL("a\n\n\nb", normaliseOutput("a\n\n\nb").c_str());
    STRCMP_EQUAL("   indented", normaliseOutput("   indented").c_str());
}

TEST(Normalise, EmptyAndBlank) {
    STRCMP_EQUAL("", normaliseOutput("").c_str());
    STRCMP_EQUAL("", normaliseOutput("\n\n \r\n\t").c_str());
}

TEST(Normalise, LoneCrInsideALineStays) { STRCMP_EQUAL("a\rb", normaliseOutput("a\rb\n").c_str()); }

TEST_GROUP(Utf8){};

TEST(Utf8, ValidTextIsUnchanged) {
    const char* valid[] = {"", "plain ascii", "caf\xC3\xA9", "\xE2\x82\xAC 5", "\xF0\x9F\x98\x80 emoji",
                           "\xF4\x8F\xBF\xBF", "\xEF\xBF\xBD"};
    for (const char* text : valid) STRCMP_EQUAL(text, sanitiseUtf8(text).c_str());
}

TEST(Utf8, NulBytesAreKept) {
    std::string text("a\0b", 3);
    CHECK(sanitiseUtf8(text) == text);
}

TEST(Utf8, OverlongFormsAreReplacedBytewise) {
    STRCMP_EQUAL((kFffd + kFffd).c_str(), sanitiseUtf8("\xC0\xAF").c_str());
    STRCMP_EQUAL((kFffd + kFffd + kFffd).c_str(), sanitiseUtf8("\xE0\x80\xAF").c_str());
    STRCMP_EQUAL((kFffd + kFffd + kFffd + kFffd).c_str(), sanitiseUtf8("\xF0\x80\x80\xAF").c_str());
}

TEST(Utf8, SurrogatesAreReplaced) {
    STRCMP_EQUAL(("a" + kFffd + kFffd + kFffd + "b").c_str(), sanitiseUtf8("a\xED\xA0\x80" "b").c_str());
    STRCMP_EQUAL((kFffd + kFffd + kFffd).c_str(), sanitiseUtf8("\xED\xBF\xBF").c_str());
    STRCMP_EQUAL("\xED\x9F\xBF", sanitiseUtf8("\xED\x9F\xBF").c_str());  // U+D7FF is fine
}

TEST(Utf8, TruncatedSequenceIsOneReplacement) {
    STRCMP_EQUAL(("x" + kFffd).c_str(), sanitiseUtf8("x\xE2\x82").c_str());
    STRCMP_EQUAL((kFffd + "A").c_str(), sanitiseUtf8("\xE2\x82" "A").c_str());
    STRCMP_EQUAL((kFffd + "!").c_str(), sanitiseUtf8("\xF0\x9F\x98!").c_str());
}

TEST(Utf8, BytesThatNeverStartACharacter) {
    STRCMP_EQUAL((kFffd + kFffd + kFffd + kFffd).c_str(), sanitiseUtf8("\x80\xBF\xFE\xFF").c_str());
    STRCMP_EQUAL((kFffd + "x").c_str(), sanitiseUtf8("\xF5x").c_str());
    // Past U+10FFFF.
    STRCMP_EQUAL((kFffd + kFffd + kFffd + kFffd).c_str(), sanitiseUtf8("\xF4\x90\x80\x80").c_str());
}

TEST(Utf8, JsonStringEscapesAndRepairs) {
    STRCMP_EQUAL(R"J("a\"b\\c\n\t\u0001")J", jsonString("a\"b\\c\n\t\x01").c_str());
    STRCMP_EQUAL(("\"" + kFffd + "\"").c_str(), jsonString("\xFF").c_str());
    STRCMP_EQUAL("\"\\u0000\"", jsonString(std::string(1, '\0')).c_str());
}

TEST_GROUP(JsonEqual) {
    void setup() override { detail::gRapidjsonAssertFailures = 0; }
    void teardown() override { CHECK_EQUAL(0ul, detail::gRapidjsonAssertFailures); }
};

TEST(JsonEqual, NumbersCompareNumerically) {
    CHECK(jsonEqual("3", "3.0", std::nullopt));
    CHECK(jsonEqual("3.0", "3", std::nullopt));
    CHECK(jsonEqual("100", "1e2", std::nullopt));
    CHECK(jsonEqual("-0", "0", std::nullopt));
    CHECK(jsonEqual("0.0", "-0.0", std::nullopt));
    CHECK(jsonEqual("0.5", "5e-1", std::nullopt));
    CHECK_FALSE(jsonEqual("3", "3.5", std::nullopt));
    CHECK_FALSE(jsonEqual("0.3", "0.30000000000000004", std::nullopt));
    CHECK_FALSE(jsonEqual("1", "-1", std::nullopt));
}

TEST(JsonEqual, BigIntegersCompareExactly) {
    CHECK(jsonEqual("123456789012345678901234567890", "123456789012345678901234567890", std::nullopt));
    CHECK_FALSE(jsonEqual("123456789012345678901234567890", "123456789012345678901234567891", std::nullopt));
    CHECK(jsonEqual("9223372036854775807", "9223372036854775807", std::nullopt));
    CHECK_FALSE(jsonEqual("18446744073709551616", "18446744073709551617", std::nullopt));
}

TEST(JsonEqual, IntAgainstFloatIsExactAsInPython) {
    CHECK(jsonEqual("9007199254740992", "9007199254740992.0", std::nullopt));
    CHECK_FALSE(jsonEqual("9007199254740993", "9007199254740992.0", std::nullopt));
    CHECK(jsonEqual("1e30", "1000000000000000019884624838656", std::nullopt));
    CHECK_FALSE(jsonEqual("1e30", "1000000000000000000000000000000", std::nullopt));
}

TEST(JsonEqual, ToleranceAppliesToNumbers) {
    CHECK(jsonEqual("0.3", "0.30000000000000004", 1e-9));
    CHECK(jsonEqual("3.14", "3.14159", 0.01));
    CHECK_FALSE(jsonEqual("3.14", "3.15159", 0.01));
    CHECK(jsonEqual("10", "10.5", 0.5));
    CHECK(jsonEqual("1", "1", 0.0));
    CHECK_FALSE(jsonEqual("1", "1.0000001", 0.0));
}

TEST(JsonEqual, ToleranceAppliesAtAnyDepth) {
    CHECK(jsonEqual(R"J([1.0, {"a": [2.0]}])J", R"J([1.0004, {"a": [1.9996]}])J", 1e-3));
    CHECK_FALSE(jsonEqual(R"J([1.0, {"a": [2.0]}])J", R"J([1.0004, {"a": [1.99]}])J", 1e-3));
}

TEST(JsonEqual, ToleranceDoesNotMixTypes) {
    CHECK_FALSE(jsonEqual("\"1\"", "1", 10.0));
    CHECK_FALSE(jsonEqual("true", "1", 10.0));
    CHECK_FALSE(jsonEqual("null", "0", 10.0));
}

TEST(JsonEqual, BooleansOnlyEqualBooleans) {
    CHECK(jsonEqual("true", "true", std::nullopt));
    CHECK(jsonEqual("false", "false", std::nullopt));
    CHECK_FALSE(jsonEqual("true", "false", std::nullopt));
    CHECK_FALSE(jsonEqual("true", "1", std::nullopt));
    CHECK_FALSE(jsonEqual("0", "false", std::nullopt));
    CHECK_FALSE(jsonEqual("false", "null", std::nullopt));
}

TEST(JsonEqual, NullAndStrings) {
    CHECK(jsonEqual("null", "null", std::nullopt));
    CHECK_FALSE(jsonEqual("null", "\"\"", std::nullopt));
    CHECK(jsonEqual("\"abc\"", "\"abc\"", std::nullopt));
    CHECK_FALSE(jsonEqual("\"abc\"", "\"ABC\"", std::nullopt));
    CHECK_FALSE(jsonEqual("\"abc\"", "\"abc \"", std::nullopt));
    CHECK(jsonEqual("\"\\u00e9\"", "\"\xC3\xA9\"", std::nullopt));
    CHECK_FALSE(jsonEqual("\"3\"", "3", std::nullopt));
}

TEST(JsonEqual, NanAndInfinityStringsAreJustStrings) {
    CHECK(jsonEqual("\"NaN\"", "\"NaN\"", std::nullopt));
    CHECK(jsonEqual("\"Infinity\"", "\"Infinity\"", std::nullopt));
    CHECK_FALSE(jsonEqual("\"Infinity\"", "\"-Infinity\"", std::nullopt));
    CHECK_FALSE(jsonEqual("\"NaN\"", "0", 1e9));
}

TEST(JsonEqual, ArraysElementWise) {
    CHECK(jsonEqual("[1, 2, [3]]", "[1.0, 2, [3]]", std::nullopt));
    CHECK_FALSE(jsonEqual("[1, 2]", "[2, 1]", std::nullopt));
    CHECK_FALSE(jsonEqual("[1, 2]", "[1, 2, 3]", std::nullopt));
    CHECK_FALSE(jsonEqual("[]", "{}", std::nullopt));
    CHECK(jsonEqual("[]", "[]", std::nullopt));
}

TEST(JsonEqual, ObjectsKeyWise) {
    CHECK(jsonEqual(R"J({"a": 1, "b": [true]})J", R"J({"b": [true], "a": 1.0})J", std::nullopt));
    CHECK_FALSE(jsonEqual(R"J({"a": 1})J", R"J({"a": 1, "b": 2})J", std::nullopt));
    CHECK_FALSE(jsonEqual(R"J({"a": 1, "b": 2})J", R"J({"a": 1})J", std::nullopt));
    CHECK_FALSE(jsonEqual(R"J({"a": 1})J", R"J({"A": 1})J", std::nullopt));
    CHECK(jsonEqual("{}", "{}", std::nullopt));
}

TEST(JsonEqual, RepeatedKeysKeepTheLast) {
    CHECK(jsonEqual(R"J({"a": 1, "a": 2})J", R"J({"a": 2})J", std::nullopt));
}

TEST(JsonEqual, UnparsableSidesAreNeverEqual) {
    CHECK_FALSE(jsonEqual("", "", std::nullopt));
    CHECK_FALSE(jsonEqual("[1", "[1", std::nullopt));
    CHECK_FALSE(jsonEqual("NaN", "NaN", std::nullopt));
    std::string deep = std::string(500, '[') + std::string(500, ']');
    CHECK_FALSE(jsonEqual(deep, deep, std::nullopt));
}

// ---- verdicts -------------------------------------------------------------------

TEST_GROUP(Judge) {
    void setup() override { detail::gRapidjsonAssertFailures = 0; }
    void teardown() override { CHECK_EQUAL(0ul, detail::gRapidjsonAssertFailures); }
};

TEST(Judge, OutputPassesOnNormalisedStdout) {
    TestVerdict v = judgeOne(R"J({"type": "output", "expected": "Hello, World!"})J", "Hello, World!  \r\n\n", kFinished);
    checkVerdict(v, true, "\"Hello, World!\"");
    STRCMP_EQUAL("\"Hello, World!\"", v.expectedJson.c_str());
}

TEST(Judge, OutputNormalisesExpectedToo) {
    checkVerdict(judgeOne(R"J({"type": "output", "expected": "\na\r\nb  \n"})J", "a\nb", kFinished), true, "\"a\\nb\"");
}

TEST(Judge, OutputFailsOnADifference) {
    checkVerdict(judgeOne(R"J({"type": "output", "expected": "hello"})J", "Hello\n", kFinished), false, "\"Hello\"");
    checkVerdict(judgeOne(R"J({"type": "output", "expected": "a b"})J", "a  b\n", kFinished), false, "\"a  b\"");
    checkVerdict(judgeOne(R"J({"type": "output", "expected": "  x"})J", "x", kFinished), false, "\"x\"");
}

TEST(Judge, OutputComparesSanitisedStdout) {
    TestVerdict v = judgeOne(R"J({"type": "output", "expected": "a\ufffdb"})J", "a\xFF" "b\n", kFinished);
    checkVerdict(v, true, "\"a" + kFffd + "b\"");
}

TEST(Judge, OutputNeedsNoObservationRecords) {
    checkVerdict(judgeOne(R"J({"type": "output", "expected": "1"})J", "1\n", ""), true, "\"1\"");
}

TEST(Judge, StdoutLineFormMatchesATrimmedLine) {
    const char* test = R"J({"type": "function_call", "expected": " 42 "})J";
    checkVerdict(judgeOne(test, "start\n  42\t\r\nend\n", kFinished), true, "\"42\"");
    checkVerdict(judgeOne(test, "start\n420\nend\n", kFinished), false, "\"start\\n420\\nend\"");
    checkVerdict(judgeOne(test, "", kFinished), false, "\"\"");
}

TEST(Judge, VariableExists) {
    const char* test = R"J({"type": "variable_exists", "name": "x"})J";
    TestVerdict yes = judgeRecord(test, R"J({"i": 0, "exists": true, "type": "int", "value": 5, "len": null})J");
    checkVerdict(yes, true, "true");
    STRCMP_EQUAL("true", yes.expectedJson.c_str());
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": false})J"), false, "false", "variable 'x' is not defined");
}

TEST(Judge, VariableType) {
    const char* test = R"J({"type": "variable_type", "name": "x", "expected": "float"})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "float", "value": 1.5})J"), true, "\"float\"");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "int", "value": 1})J"), false, "\"int\"");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": false})J"), false, "null", "variable 'x' is not defined");
}

TEST(Judge, VariableValue) {
    const char* test = R"J({"type": "variable_value", "name": "total", "expected": [1, 2.0, "a", null]})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "list", "value": [1.0, 2, "a", null], "len": 4})J"),
                 true, R"J([1.0,2,"a",null])J");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "list", "value": [1, 2, "b", null], "len": 4})J"),
                 false, R"J([1,2,"b",null])J");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": false})J"), false, "null", "variable 'total' is not defined");
}

TEST(Judge, VariableValueWithTolerance) {
    const char* test = R"J({"type": "variable_value", "name": "pi", "expected": 3.14, "tolerance": 0.01})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "float", "value": 3.14159})J"), true, "3.14159");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "float", "value": 3.16})J"), false, "3.16");
}

TEST(Judge, VariableValueBigIntEchoesExactly) {
    const char* test = R"J({"type": "variable_value", "name": "f", "expected": 15511210043330985984000000})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "int", "value": 15511210043330985984000000})J"),
                 true, "15511210043330985984000000");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "int", "value": 15511210043330985984000001})J"),
                 false, "15511210043330985984000001");
}

TEST(Judge, VariableValueBoolIsNotAnInt) {
    const char* test = R"J({"type": "variable_value", "name": "x", "expected": 1})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "bool", "value": true})J"), false, "true");
}

TEST(Judge, ReprValuesEqualOnlyTheirReprString) {
    const char* test = R"J({"type": "variable_value", "name": "p", "expected": "Point(1, 2)"})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "Point", "value": "Point(1, 2)"})J"), true,
                 "\"Point(1, 2)\"");
}

TEST(Judge, ListContains) {
    const char* test = R"J({"type": "list_contains", "name": "xs", "expected": [1, "a"]})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "list", "value": [0, [1.0, "a"]], "len": 2})J"),
                 true, R"J([0,[1.0,"a"]])J");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "tuple", "value": [[1, "b"]], "len": 1})J"),
                 false, R"J([[1,"b"]])J");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "list", "value": [], "len": 0})J"), false, "[]");
}

TEST(Judge, ListContainsAcceptsSetsAndFrozensets) {
    const char* test = R"J({"type": "list_contains", "name": "s", "expected": 3})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "set", "value": [1, 2, 3], "len": 3})J"), true,
                 "[1,2,3]");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "frozenset", "value": [3.0], "len": 1})J"),
                 true, "[3.0]");
}

TEST(Judge, ListContainsRejectsOtherTypes) {
    const char* test = R"J({"type": "list_contains", "name": "x", "expected": "a"})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "int", "value": 5})J"), false, "5",
                 "'x' is an int, not a list, tuple or set");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "str", "value": "abc", "len": 3})J"), false,
                 "\"abc\"", "'x' is a str, not a list, tuple or set");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "dict", "value": {"a": 1}, "len": 1})J"), false,
                 R"J({"a":1})J", "'x' is a dict, not a list, tuple or set");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": false})J"), false, "null", "variable 'x' is not defined");
}

TEST(Judge, ListContainsOnATruncatedList) {
    const char* test = R"J({"type": "list_contains", "name": "big", "expected": 1})J";
    TestVerdict v = judgeRecord(
        test, R"J({"i": 0, "exists": true, "type": "list", "value": "[1, 2, ...", "len": 200000, "truncated": true})J");
    checkVerdict(v, false, "\"[1, 2, ...\"",
                 "'big' is too large or too deeply nested to compare (it is reported as a cut repr)");
}

TEST(Judge, TruncatedValueNeverPasses) {
    // Even an expected string equal to the cut repr does not pass.
    const char* test = R"J({"type": "variable_value", "name": "s", "expected": "'aaa..."})J";
    TestVerdict v = judgeRecord(test, R"J({"i": 0, "exists": true, "type": "str", "value": "'aaa...", "len": 5000000, "truncated": true})J");
    checkVerdict(v, false, "\"'aaa...\"",
                 "'s' is too large or too deeply nested to compare (it is reported as a cut repr)");
    const char* call = R"J({"type": "function_call", "function": "f", "expected": "x..."})J";
    TestVerdict c = judgeRecord(call, R"J({"i": 0, "ok": true, "type": "list", "value": "x...", "truncated": true})J");
    CHECK_FALSE(c.passed);
    STRCMP_EQUAL("the value returned is too large or too deeply nested to compare (it is reported as a cut repr)",
                 c.message.c_str());
}

TEST(Judge, TruncationDoesNotMatterForTypeAndLength) {
    std::string record = R"J({"i": 0, "exists": true, "type": "list", "value": "[0, ...", "len": 200000, "truncated": true})J";
    checkVerdict(judgeRecord(R"J({"type": "list_length", "name": "xs", "expected": 200000})J", record), true, "200000");
    checkVerdict(judgeRecord(R"J({"type": "variable_type", "name": "xs", "expected": "list"})J", record), true, "\"list\"");
}

TEST(Judge, FailedObservationGivesItsMessage) {
    std::string record = R"J({"i": 0, "error": "observation failed: MemoryError"})J";
    checkVerdict(judgeRecord(R"J({"type": "variable_value", "name": "x", "expected": 1})J", record), false, "null",
                 "observation failed: MemoryError");
    checkVerdict(judgeRecord(R"J({"type": "function_call", "function": "f", "expected": 1})J", record), false, "null",
                 "observation failed: MemoryError");
}

TEST(Judge, HugeIntReportedAsDecimalString) {
    // Past a double's range the harness sends an int's decimal digits as a string.
    std::string digits(400, '9');
    checkVerdict(judgeRecord(R"J({"type": "variable_value", "name": "n", "expected": ")J" + digits + "\"}",
                             R"J({"i": 0, "exists": true, "type": "int", "value": ")J" + digits + "\"}"),
                 true, "\"" + digits + "\"");
}

TEST(Judge, HarnessLeadingNewlineAndEscapes) {
    std::string records = "\n" + kFinished + R"J({"i": 0, "exists": true, "type": "str", "value": "caf\u00e9 \ud83d\ude00"})J" "\n";
    checkVerdict(judgeOne(R"J({"type": "variable_value", "name": "s", "expected": "caf\u00e9 \ud83d\ude00"})J", "", records),
                 true, "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
}

TEST(Judge, PartialLineBeforeTheFirstRecordMeansTampered) {
    // The program wrote "{\"i\": 0" without a newline; the harness's output
    // starts with one, so the fragment becomes a line of its own: a sign of
    // writing to the channel, so nothing counts.
    std::string records = "{\"i\": 0\n" + kFinished + R"J({"i": 0, "exists": true, "type": "int", "value": 1})J" "\n" + kEnd;
    checkVerdict(judgeOne(R"J({"type": "variable_value", "name": "x", "expected": 1})J", "", records), false, "null",
                 kTampered);
}

TEST(Judge, ListLength) {
    const char* test = R"J({"type": "list_length", "name": "xs", "expected": 3})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "list", "value": [1, 2, 3], "len": 3})J"), true, "3");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "str", "value": "ab", "len": 2})J"), false, "2");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": true, "type": "int", "value": 7, "len": null})J"), false,
                 "null", "'xs' has no length: it is an int");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "exists": false})J"), false, "null", "variable 'xs' is not defined");
}

TEST(Judge, FunctionCallReturnValue) {
    const char* test = R"J({"type": "function_call", "function": "add", "args": [1, 2], "expected": 3})J";
    checkVerdict(judgeRecord(test, R"J({"i": 0, "ok": true, "type": "int", "value": 3})J"), true, "3");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "ok": true, "type": "float", "value": 3.0})J"), true, "3.0");
    checkVerdict(judgeRecord(test, R"J({"i": 0, "ok": true, "type": "str", "value": "3"})J"), false, "\"3\"");
}

TEST(Judge, FunctionCallWithToleranceAndNone) {
    checkVerdict(judgeRecord(R"J({"type": "function_call", "function": "f", "expected": 0.5, "tolerance": 0.1})J",
                             R"J({"i": 0, "ok": true, "type": "float", "value": 0.45})J"),
                 true, "0.45");
    checkVerdict(judgeRecord(R"J({"type": "function_call", "function": "f", "expected": null})J",
                             R"J({"i": 0, "ok": true, "type": "NoneType", "value": null})J"),
                 true, "null");
}

TEST(Judge, FunctionCallException) {
    const char* test = R"J({"type": "function_call", "function": "add", "args": [1], "expected": 3})J";
    TestVerdict v = judgeRecord(
        test, R"J({"i": 0, "ok": false, "error": "TypeError: add() missing 1 required positional argument: 'b'"})J");
    checkVerdict(v, false, R"J("TypeError: add() missing 1 required positional argument: 'b'")J",
                 "calling 'add' raised an exception");
}

TEST(Judge, FunctionCallOnAMissingFunction) {
    const char* test = R"J({"type": "function_call", "function": "add", "expected": 3})J";
    TestVerdict v = judgeRecord(test, R"J({"i": 0, "ok": false, "error": "NameError: name 'add' is not defined"})J");
    checkVerdict(v, false, "\"NameError: name 'add' is not defined\"", "function 'add' is not defined");
}

TEST(Judge, ExceptionStringCannotPassAStringExpectation) {
    // A program cannot make a failing call pass by raising with the right text.
    const char* test = R"J({"type": "function_call", "function": "f", "expected": "ValueError: x"})J";
    CHECK_FALSE(judgeRecord(test, R"J({"i": 0, "ok": false, "error": "ValueError: x"})J").passed);
}

TEST(Judge, ExpectedIsEchoedForEveryTest) {
    RunRequest request = requestWith(R"J({"type": "output", "expected": "x"},
        {"type": "variable_value", "name": "v", "expected": {"k": [1.50]}},
        {"type": "list_length", "name": "v", "expected": 2})J");
    std::vector<TestVerdict> v = judgeTests(request, finishedRun("", ""));
    CHECK_EQUAL(3u, v.size());
    STRCMP_EQUAL("\"x\"", v[0].expectedJson.c_str());
    STRCMP_EQUAL(R"J({"k":[1.50]})J", v[1].expectedJson.c_str());
    STRCMP_EQUAL("2", v[2].expectedJson.c_str());
}

// ---- missing, garbled and forged records ---------------------------------------------

TEST(Judge, TimeoutBeforeTheProgramEnded) {
    RunOutcome o = finishedRun("partial", "");
    o.timedOut = true;
    o.signal = 9;
    o.exitCode = -1;
    std::vector<TestVerdict> v = judgeTests(requestWith(R"J({"type": "variable_exists", "name": "x"},
        {"type": "function_call", "function": "f", "expected": 1})J"), o);
    checkVerdict(v[0], false, "null", "program did not finish");
    checkVerdict(v[1], false, "null", "program did not finish");
}

TEST(Judge, KilledOrOutOfMemoryBeforeTheProgramEnded) {
    RunOutcome killed = finishedRun("", "");
    killed.signal = 11;
    killed.exitCode = -1;
    checkVerdict(judgeTests(requestWith(R"J({"type": "variable_exists", "name": "x"})J"), killed)[0], false, "null",
                 "program did not finish");
    RunOutcome oom = finishedRun("", "");
    oom.memoryExceeded = true;
    checkVerdict(judgeTests(requestWith(R"J({"type": "variable_exists", "name": "x"})J"), oom)[0], false, "null",
                 "program did not finish");
}

TEST(Judge, TimeoutWhileObserving) {
    // The program ended, then a called function looped until the time limit.
    RunOutcome o = finishedRun("", kFinished + R"J({"i": 0, "exists": true, "type": "int", "value": 1})J" "\n");
    o.timedOut = true;
    o.signal = 9;
    std::vector<TestVerdict> v = judgeTests(requestWith(R"J({"type": "variable_value", "name": "x", "expected": 1},
        {"type": "function_call", "function": "spin", "expected": 1})J"), o);
    checkVerdict(v[0], true, "1");
    CHECK_FALSE(v[1].passed);
    CHECK(v[1].message.find("timed out") != std::string::npos);
}

TEST(Judge, NoRecordsAfterANormalExit) {
    TestVerdict v = judgeOne(R"J({"type": "variable_exists", "name": "x"})J", "", "");
    checkVerdict(v, false, "null", "observations unavailable");
}

// The runner's cap is one byte past what the harness can write: a stream it
// had to cut is not the harness's alone.
TEST(Judge, ACutStreamIsTampered) {
    RunOutcome o = finishedRun("", kFinished + R"J({"i": 0, "exists": true, "type": "list", "value": [1, 2,)J");
    o.observationsTruncated = true;
    TestVerdict v = judgeTests(requestWith(R"J({"type": "list_length", "name": "x", "expected": 2})J"), o)[0];
    CHECK_FALSE(v.passed);
    STRCMP_EQUAL(kTampered.c_str(), v.message.c_str());
}

TEST(Judge, ARecordOverItsBudgetIsTamperedWithoutBeingParsed) {
    RunRequest request = requestWith(R"J({"type": "variable_value", "name": "x", "expected": 0})J");
    std::string big = R"J({"i": 0, "exists": true, "type": "list", "value": [)J";
    while (big.size() <= kMaxRecordBytes) big += "0,";
    big += "0]}\n";
    Observations obs = parseObservations(kFinished + big + kEnd, request);
    CHECK_TRUE(obs.tampered);
    CHECK_FALSE(obs.records[0].has_value());
}

// The forged stream of the issue: a `finished` record, then 16 MiB of
// [0,0,0,...] on fd 4. Over the stream budget: tampered, nothing parsed.
TEST(Judge, AStreamOverItsBudgetIsTampered) {
    RunRequest request = requestWith(R"J({"type": "variable_exists", "name": "x"})J");
    std::string flood = kFinished + "[";
    flood.reserve(16 << 20);
    while (flood.size() < (16u << 20)) flood += "0,";
    flood += "0]\n";
    Observations obs = parseObservations(flood, request);
    CHECK_TRUE(obs.tampered);
    CHECK_FALSE(obs.finished.has_value());
}

// Records within the byte budgets but holding more values than the harness
// can report in all (its element budget) are tampered as well.
TEST(Judge, TooManyValuesInAllRecordsIsTampered) {
    std::string tests, records = kFinished;
    for (int i = 0; i < 4; ++i) {
        tests += std::string(i ? "," : "") + R"J({"type": "variable_exists", "name": "x"})J";
        std::string rec = R"J({"i": )J" + std::to_string(i) + R"J(, "exists": true, "type": "list", "value": [)J";
        for (size_t k = 0; k < kMaxResultStreamValues / 4; ++k) rec += k ? ",0" : "0";
        records += rec + "]}\n";
    }
    Observations obs = parseObservations(records + kEnd, requestWith(tests));
    CHECK_TRUE(obs.tampered);
}

TEST(Judge, SyntaxErrorFailsEveryObservationTest) {
    std::string records = R"J({"event": "finished", "exitCode": 1, "syntaxError": true, "error": "SyntaxError: invalid syntax (line 1)"})J"
                          "\n" R"J({"i": 0, "exists": false})J" "\n";
    TestVerdict v = judgeOne(R"J({"type": "variable_exists", "name": "x"})J", "", records);
    checkVerdict(v, false, "null", "the program has a syntax error, so it did not run");
}

const std::string kX5 = R"J({"type": "variable_value", "name": "x", "expected": 5})J";
const std::string kRecord5 = R"J({"i": 0, "exists": true, "type": "int", "value": 5})J" "\n";

TEST(Judge, BlankLinesAreFine) {
    checkVerdict(judgeOne(kX5, "", "\n\n  \n" + kFinished + "\n" + kRecord5 + "\n" + kEnd), true, "5");
}

TEST(Judge, GarbageMeansTampered) {
    // A partial line the program left on fd 4 is ended by the harness's "\n".
    checkVerdict(judgeOne(kX5, "", "garbage\n" + kFinished + kRecord5 + kEnd), false, "null", kTampered);
    checkVerdict(judgeOne(kX5, "", kFinished + "\xFF\xFE\n" + kRecord5 + kEnd), false, "null", kTampered);
    checkVerdict(judgeOne(kX5, "", kFinished + "[1,2]\n" + kRecord5 + kEnd), false, "null", kTampered);
}

TEST(Judge, ForgedRecordsBeforeTheHarnessMeanTampered) {
    // The program forges a whole sequence, then the harness writes the real one.
    std::string forged = kFinished + kRecord5 + kEnd;
    std::string real = kFinished + R"J({"i": 0, "exists": true, "type": "int", "value": 1})J" "\n" + kEnd;
    checkVerdict(judgeOne(kX5, "", forged + real), false, "null", kTampered);
    checkVerdict(judgeOne(kX5, "", kRecord5 + real), false, "null", kTampered);
}

TEST(Judge, ForgeryAfterTheHarnessMeansTampered) {
    std::string real = kFinished + R"J({"i": 0, "exists": true, "type": "int", "value": 1})J" "\n" + kEnd;
    checkVerdict(judgeOne(kX5, "", real + kFinished + kRecord5 + kEnd), false, "null", kTampered);
    checkVerdict(judgeOne(kX5, "", real + kRecord5), false, "null", kTampered);
}

TEST(Judge, DuplicateRecordMeansTampered) {
    std::string records = kFinished + R"J({"i": 0, "exists": true, "type": "int", "value": 4})J" "\n" + kRecord5 + kEnd;
    checkVerdict(judgeOne(kX5, "", records), false, "null", kTampered);
}

TEST(Judge, ForgedSyntaxErrorIsNotBelieved) {
    std::string records = kFinished +
                          R"J({"event": "finished", "exitCode": 1, "syntaxError": true, "error": "SyntaxError: x"})J" "\n" +
                          kRecord5 + kEnd;
    RunRequest request = requestWith(kX5);
    RunAnswer answer = buildRunAnswer(request, finishedRun("", records), "r");
    STRCMP_EQUAL("ok", answer.status.c_str());
    checkVerdict(judgeTests(request, finishedRun("", records))[0], false, "null", kTampered);
}

// Found by tests/fuzz/fuzz_records: a `finished` line the harness cannot have
// written (no syntaxError) was skipped rather than taken as tampering, so the
// harness's own `finished` after it was accepted as the first.
TEST(Judge, MalformedFinishedBeforeTheHarnessMeansTampered) {
    for (const char* forged : {R"J({"event": "finished"})J", R"J({"event": "finished", "syntaxError": 1})J",
                               R"J({"event": "finished", "syntaxError": false, "error": 5})J"}) {
        std::string records = std::string(forged) + "\n" + kFinished + kRecord5 + kEnd;
        checkVerdict(judgeOne(kX5, "", records), false, "null", kTampered);
        CHECK_FALSE(harnessExitCode(records, requestWith(kX5)));
    }
}

TEST(Judge, MalformedRecordMeansTampered) {
    for (const char* bad : {R"J({"i": 0})J", R"J({"i": 0, "exists": "yes"})J", R"J({"i": 0, "exists": true, "value": 5})J",
                            R"J({"i": 0, "exists": true, "type": 5, "value": 5})J", R"J({"i": 0, "ok": true, "value": 5})J"}) {
        checkVerdict(judgeOne(kX5, "", kFinished + bad + "\n" + kEnd), false, "null", kTampered);
    }
}

TEST(Judge, CallRecordsMustFitACallTest) {
    const std::string call = R"J({"type": "function_call", "function": "f", "expected": 3})J";
    checkVerdict(judgeOne(call, "", kFinished + R"J({"i": 0, "exists": true, "type": "int", "value": 3})J" "\n" + kEnd),
                 false, "null", kTampered);
    checkVerdict(judgeOne(call, "", kFinished + R"J({"i": 0, "ok": false})J" "\n" + kEnd), false, "null", kTampered);
    checkVerdict(judgeOne(call, "", kFinished + R"J({"i": 0, "ok": true, "type": "int", "value": 3})J" "\n" + kEnd),
                 true, "3");
}

TEST(Judge, IndexesMustFollowTestOrder) {
    for (const char* i : {"1", "-1", "99999999999999999999", "\"0\"", "0.0", "null"}) {
        std::string record = std::string(R"J({"i": )J") + i + R"J(, "exists": true, "type": "int", "value": 5})J" "\n";
        checkVerdict(judgeOne(kX5, "", kFinished + record + kEnd), false, "null", kTampered);
    }
}

TEST(Judge, EndBeforeEveryObservationMeansTampered) {
    checkVerdict(judgeOne(kX5, "", kFinished + kEnd), false, "null", kTampered);
}

TEST(Judge, RecordsForOutputTestsAreNotExpected) {
    std::string records = kFinished + R"J({"i": 0, "exists": true, "type": "str", "value": "Hello"})J" "\n" + kEnd;
    checkVerdict(judgeOne(R"J({"type": "output", "expected": "Hello"})J", "Bye\n", records), false, "\"Bye\"");
}

TEST(Judge, AStreamCutShortByAStopIsUsedAsFarAsItGoes) {
    std::string tests = kX5 + "," + R"J({"type": "variable_exists", "name": "y"})J";
    RunOutcome o = finishedRun("", kFinished + kRecord5);
    o.timedOut = true;
    o.signal = 9;
    o.exitCode = -1;
    std::vector<TestVerdict> v = judgeTests(requestWith(tests), o);
    checkVerdict(v[0], true, "5");
    CHECK_FALSE(v[1].passed);
}

TEST(Judge, DeeplyNestedRecordIsRefusedNotACrash) {
    std::string deep = std::string(200000, '[') + std::string(200000, ']');
    std::string records = kFinished + R"J({"i": 0, "exists": true, "type": "list", "value": )J" + deep + "}\n";
    checkVerdict(judgeOne(R"J({"type": "variable_exists", "name": "x"})J", "", records), false, "null", kTampered);
}

TEST(Judge, EveryTestGetsAVerdict) {
    std::string tests;
    for (int i = 0; i < 100; ++i) tests += std::string(i ? "," : "") + R"J({"type": "variable_exists", "name": "v"})J";
    RunRequest request = requestWith(tests);
    std::string records = kFinished;
    for (int i = 0; i < 100; ++i) {
        records += R"J({"i": )J" + std::to_string(i) +
                   (i % 2 == 0 ? R"J(, "exists": true, "type": "int", "value": 1})J" : R"J(, "exists": false})J") + "\n";
    }
    std::vector<TestVerdict> v = judgeTests(request, finishedRun("", records + kEnd));
    CHECK_EQUAL(100u, v.size());
    for (size_t i = 0; i < v.size(); ++i) CHECK_EQUAL(i % 2 == 0, v[i].passed);
}

TEST_GROUP(HarnessExitCode){};

// The early answer (runner.cc) takes the exit status from the records only
// when the stream is complete and exactly the harness's.
TEST(HarnessExitCode, ACompleteStreamGivesTheStatusTheHarnessExitsWith) {
    RunRequest request = requestWith(R"J({"type": "variable_value", "name": "x", "expected": 1})J");
    std::string record = R"J({"i": 0, "exists": true, "type": "int", "value": 1, "len": null})J" "\n";
    std::string three = R"J({"event": "finished", "exitCode": 3, "syntaxError": false, "error": null})J" "\n";
    CHECK(harnessExitCode("\n" + kFinished + record + kEnd, request) == 0);
    CHECK(harnessExitCode("\n" + three + record + kEnd, request) == 3);
}

TEST(HarnessExitCode, AnIncompleteOrForgedStreamGivesNothing) {
    RunRequest request = requestWith(R"J({"type": "variable_value", "name": "x", "expected": 1})J");
    std::string record = R"J({"i": 0, "exists": true, "type": "int", "value": 1, "len": null})J" "\n";
    std::string forged = R"J({"event": "finished", "exitCode": 1, "syntaxError": true, "error": "x"})J" "\n";
    CHECK_FALSE(harnessExitCode("", request));
    CHECK_FALSE(harnessExitCode(kFinished + record, request));                    // no end yet
    CHECK_FALSE(harnessExitCode(kFinished + kEnd, request));                      // an observation missing
    CHECK_FALSE(harnessExitCode(forged + kFinished + record + kEnd, request));   // two finished records
    CHECK_FALSE(harnessExitCode(kFinished + record + kEnd + kEnd, request));      // a record after end
    CHECK_FALSE(harnessExitCode(R"J({"event": "finished", "exitCode": 256, "syntaxError": false})J" "\n" +
                                    record + kEnd, request));                     // not a status
}

// ---- echoes: what a test result shows of a value (SPEC §2) -----------------

TEST_GROUP(Echo){};

TEST(Echo, ShortValuesAreAsTheyAre) {
    Echo e = echoString("h\xC3\xA9llo\n");
    STRCMP_EQUAL("\"h\xC3\xA9llo\\n\"", e.json.c_str());
    CHECK_FALSE(e.truncated);
    Echo j = echoJson("[1,2,3]");
    STRCMP_EQUAL("[1,2,3]", j.json.c_str());
    CHECK_FALSE(j.truncated);
}

TEST(Echo, ALongStringIsCutToTheBudgetWithItsEscapes) {
    // Control bytes escape to six bytes each: the budget counts the escapes.
    Echo e = echoString(std::string(1 << 20, '\x01'));
    CHECK_TRUE(e.truncated);
    CHECK_TRUE(e.json.size() <= kMaxEchoBytes);
    CHECK_TRUE(e.json.size() > kMaxEchoBytes - 6);
    Result<JsonValue> back = parseJson(e.json);
    CHECK_TRUE(back.ok() && back.value().isString());
    CHECK_EQUAL((kMaxEchoBytes - 2) / 6, back.value().text.size());
}

TEST(Echo, CutsOnACharacterBoundary) {
    std::string text;
    for (int i = 0; i < 5000; ++i) text += "\xE2\x82\xAC";  // €, three bytes
    Echo e = echoString(text, 100);
    CHECK_TRUE(e.truncated);
    Result<JsonValue> back = parseJson(e.json);
    CHECK_TRUE(back.ok());
    CHECK_EQUAL(0u, back.value().text.size() % 3);
    CHECK_TRUE(e.json.size() <= 100);
}

TEST(Echo, ALongNonStringValueBecomesAStringOfItsJson) {
    std::string big = "[";
    for (int i = 0; i < 5000; ++i) big += (i ? ",1234" : "1234");
    big += "]";
    Echo e = echoJson(big);
    CHECK_TRUE(e.truncated);
    CHECK_TRUE(e.json.size() <= kMaxEchoBytes);
    Result<JsonValue> back = parseJson(e.json);
    CHECK_TRUE(back.ok() && back.value().isString());
    CHECK_TRUE(back.value().text.rfind("[1234,1234,", 0) == 0);
    Echo s = echoJson("\"" + std::string(20000, 'x') + "\"");
    CHECK_TRUE(s.truncated);
    STRCMP_EQUAL(("\"" + std::string(kMaxEchoBytes - 2, 'x') + "\"").c_str(), s.json.c_str());
}

TEST(Echo, AHundredOutputTestsOnAMegabyteOfControlBytesStaySmall) {
    std::string tests;
    for (int i = 0; i < 100; ++i) tests += std::string(i ? "," : "") + R"J({"type": "output", "expected": "x"})J";
    RunRequest request = requestWith(tests);
    std::vector<TestVerdict> v = judgeTests(request, finishedRun(std::string(1 << 20, '\x01'), kFinished));
    CHECK_EQUAL(100u, v.size());
    size_t total = 0;
    for (const TestVerdict& t : v) {
        CHECK_TRUE(t.actualTruncated);
        CHECK_FALSE(t.expectedTruncated);
        total += t.actualJson.size() + t.expectedJson.size();
    }
    CHECK_TRUE(total <= 100 * (kMaxEchoBytes + 8));
}
