// Unit tests of graded exercises (SPEC §3.1) in src/protocol: `files` and
// the pytest test type in requests (request.cc, workspace.cc), the harness
// input, and the harness's pytest and out/ file records as the worker reads
// them (exercise_records.cc, observations.cc) and answers them (judge.cc,
// response.cc).
#include <string>
#include <vector>

#include "protocol/exercise_records.h"
#include "protocol/json_value.h"
#include "protocol/observations.h"
#include "protocol/rapidjson_config.h"
#include "protocol/request.h"
#include "protocol/response.h"
#include "protocol/workspace.h"

// CppUTest last: its leak-detector macros redefine `new`.
#include <CppUTest/TestHarness.h>

using namespace pyexec;
using namespace pyexec::protocol;

namespace {

const std::string kFinished = R"J({"event":"finished","exitCode":0,"syntaxError":false,"error":null})J";
const std::string kEnd = R"J({"event":"end"})J";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void expectRejected(const std::string& body, ErrorKind kind, const std::string& field, const std::string& hint = "") {
    Result<RunRequest> r = parseRunRequest(body, RequestLimits{});
    CHECK_FALSE_TEXT(r.ok(), body.substr(0, 200).c_str());
    CHECK_EQUAL(static_cast<int>(kind), static_cast<int>(r.error().kind));
    STRCMP_EQUAL(field.c_str(), r.error().field.c_str());
    if (!hint.empty()) CHECK_TEXT(contains(r.error().message, hint), r.error().message.c_str());
}

RunRequest accepted(const std::string& body) {
    Result<RunRequest> r = parseRunRequest(body, RequestLimits{});
    CHECK_TEXT(r.ok(), r.ok() ? "" : r.error().message.c_str());
    return r.value();
}

std::string withFiles(const std::string& files) { return R"J({"code": "pass", "files": )J" + files + "}"; }

// {"code": "pass", "tests": [<tests>]}
RunRequest requestWith(const std::string& tests) { return accepted(R"J({"code": "pass", "tests": [)J" + tests + "]}"); }

const std::string kPytestTest = R"J({"type": "pytest", "code": "def test_a():\n    assert True\n"})J";

JsonValue answerOf(const RunRequest& request, const std::vector<std::string>& records, int exitCode = 0) {
    RunOutcome o;
    o.exitCode = exitCode;
    o.timeoutMs = 2000;
    for (const std::string& r : records) o.observations += r + "\n";
    Result<JsonValue> parsed = parseJson(buildRunAnswer(request, o, "r").body);
    CHECK(parsed.ok());
    return parsed.value();
}

std::string member(const JsonValue& v, const std::string& key) {
    const JsonValue* m = v.find(key);
    return m == nullptr ? "<absent>" : toJson(*m);
}

std::string results(const JsonValue& answer) { return member(answer, "testResults"); }

std::string result(const std::string& name, const std::string& outcome, const std::string& message = "") {
    return R"J({"test":0,"name":")J" + name + R"J(","outcome":")J" + outcome + "\"" +
           (message.empty() ? "" : R"J(,"message":")J" + message + "\"") + "}";
}

std::string done(int i, int collected, const std::string& extra = "") {
    return R"J({"test":)J" + std::to_string(i) + R"J(,"done":true,"collected":)J" + std::to_string(collected) +
           R"J(,"error":null)J" + extra + "}";
}

std::string fileRecord(const std::string& path, const std::string& bytes, const std::string& base64) {
    return R"J({"file":")J" + path + R"J(","bytes":)J" + bytes + R"J(,"base64":")J" + base64 + "\"}";
}

// A stream the worker refuses: nothing of it counts, no file comes back.
void expectTampered(const RunRequest& request, const std::vector<std::string>& records) {
    std::string stream;
    for (const std::string& r : records) stream += r + "\n";
    Observations o = parseObservations(stream, request);
    CHECK_TEXT(o.tampered, stream.substr(0, 300).c_str());
    CHECK(o.files.empty());
    JsonValue a = answerOf(request, records);
    STRCMP_EQUAL("[]", member(a, "files").c_str());
    for (const TestSpec& t : request.tests) {
        if (t.type != TestType::kPytest) continue;
        CHECK_TEXT(contains(results(a), "result channel"), results(a).c_str());
        STRCMP_EQUAL("false", member(a, "allPassed").c_str());
    }
}

}  // namespace

TEST_GROUP(Exercise) {
    void setup() override { detail::gRapidjsonAssertFailures = 0; }
    void teardown() override { CHECK_EQUAL(0ul, detail::gRapidjsonAssertFailures); }
};

// ---- paths and base64 ----------------------------------------------------------

TEST(Exercise, WorkspacePaths) {
    for (const char* good : {"a", "data.csv", "data/train/x.csv", "out/plot.png", "a-b_c.D9", "...", ".hidden"}) {
        CHECK_FALSE_TEXT(workspacePathProblem(good).has_value(), good);
    }
    for (const char* bad : {"", "/etc/passwd", "../x", "a/../b", "./a", "a//b", "a/", "a/b/c/d", "my file.txt",
                            "caf\xC3\xA9.txt", "a\\b", "a:b"}) {
        CHECK_TEXT(workspacePathProblem(bad).has_value(), bad);
    }
    CHECK(workspacePathProblem(std::string(255, 'a')) == std::nullopt);
    CHECK(workspacePathProblem(std::string(256, 'a')).has_value());
}

TEST(Exercise, Base64) {
    CHECK(isBase64Of("", 0));
    CHECK(isBase64Of("aGVsbG8=", 5));
    CHECK(isBase64Of("aGVsbG8h", 6));
    CHECK(isBase64Of("aGk=", 2));
    CHECK(isBase64Of("aA==", 1));
    CHECK_FALSE(isBase64Of("aGVsbG8=", 6));
    CHECK_FALSE(isBase64Of("aGVsbG8", 5));
    CHECK_FALSE(isBase64Of("aGVs\nbG8=", 5));
    CHECK_FALSE(isBase64Of("aGVsbG*=", 5));
    CHECK_FALSE(isBase64Of("a===", 1));
}

// ---- requests ------------------------------------------------------------------------

TEST(Exercise, FilesAreAcceptedSorted) {
    RunRequest r = accepted(withFiles(R"J({"z.py": "Z = 1\n", "data/scores.csv": "a,b\n1,2\n", "out/keep.txt": ""})J"));
    CHECK_EQUAL(3u, r.files.size());
    STRCMP_EQUAL("data/scores.csv", r.files[0].path.c_str());
    STRCMP_EQUAL("a,b\n1,2\n", r.files[0].content.c_str());
    STRCMP_EQUAL("out/keep.txt", r.files[1].path.c_str());
    STRCMP_EQUAL("z.py", r.files[2].path.c_str());
    CHECK_EQUAL(0u, accepted(withFiles("null")).files.size());
    CHECK_EQUAL(0u, accepted(withFiles("{}")).files.size());
}

TEST(Exercise, BadFilePathsNameTheField) {
    expectRejected(withFiles(R"J({"../x": "1"})J"), ErrorKind::kInvalidRequest, R"J(files["../x"])J", "'..'");
    expectRejected(withFiles(R"J({"/etc/passwd": "1"})J"), ErrorKind::kInvalidRequest, R"J(files["/etc/passwd"])J",
                   "relative");
    expectRejected(withFiles(R"J({"a/b/c/d.txt": "1"})J"), ErrorKind::kInvalidRequest, R"J(files["a/b/c/d.txt"])J",
                   "3 levels");
    expectRejected(withFiles(R"J({"my file.txt": "1"})J"), ErrorKind::kInvalidRequest, R"J(files["my file.txt"])J");
    expectRejected(withFiles(R"J({"a\"b": "1"})J"), ErrorKind::kInvalidRequest, R"J(files["a\"b"])J");
    expectRejected(withFiles(R"J({"": "1"})J"), ErrorKind::kInvalidRequest, R"J(files[""])J", "empty");
    expectRejected(withFiles(R"J({"main.py": "print(2)"})J"), ErrorKind::kInvalidRequest, R"J(files["main.py"])J",
                   "the program itself");
    expectRejected(withFiles(R"J({"a.txt": 5})J"), ErrorKind::kInvalidRequest, R"J(files["a.txt"])J", "must be a string");
    expectRejected(withFiles(R"J(["a.txt"])J"), ErrorKind::kInvalidRequest, "files", "object");
    expectRejected(withFiles(R"J({"data": "x", "data/a.csv": "y"})J"), ErrorKind::kInvalidRequest,
                   R"J(files["data/a.csv"])J", "folder");
}

TEST(Exercise, TooManyOrTooLargeFilesAre413) {
    std::string many = "{";
    for (int i = 0; i < 21; ++i) many += (i ? "," : "") + std::string("\"f") + std::to_string(i) + "\": \"\"";
    expectRejected(withFiles(many + "}"), ErrorKind::kTooLarge, "files", "at most 20");
    std::string twenty = "{";
    for (int i = 0; i < 20; ++i) twenty += (i ? "," : "") + std::string("\"f") + std::to_string(i) + "\": \"\"";
    CHECK_EQUAL(20u, accepted(withFiles(twenty + "}")).files.size());
    std::string half(512 * 1024, 'x');
    CHECK_EQUAL(2u, accepted(withFiles("{\"a\": \"" + half + "\", \"b\": \"" + half + "\"}")).files.size());
    expectRejected(withFiles("{\"a\": \"" + half + "\", \"b\": \"" + half + "x\"}"), ErrorKind::kTooLarge, "files",
                   "1048576");
}

TEST(Exercise, PytestTestNeedsItsModule) {
    RunRequest r = requestWith(R"J({"type": "pytest", "code": "def test_a(): pass\n", "description": "Adds"})J");
    CHECK(r.tests[0].type == TestType::kPytest);
    STRCMP_EQUAL("def test_a(): pass\n", r.tests[0].module.c_str());
    expectRejected(R"J({"code": "", "tests": [{"type": "pytest"}]})J", ErrorKind::kInvalidRequest, "tests[0].code",
                   "test module");
    expectRejected(R"J({"code": "", "tests": [{"type": "pytest", "code": 1}]})J", ErrorKind::kInvalidRequest,
                   "tests[0].code");
    expectRejected(R"J({"code": "", "tests": [{"type": "pytest", "code": "a\u0000"}]})J", ErrorKind::kInvalidRequest,
                   "tests[0].code", "NUL");
    std::string big(100 * 1024 + 1, '#');
    expectRejected(R"J({"code": "", "tests": [{"type": "output", "expected": ""}, {"type": "pytest", "code": ")J" + big +
                       "\"}]}",
                   ErrorKind::kTooLarge, "tests[1].code", "102400");
    expectRejected(R"J({"code": "", "tests": [{"type": "magic"}]})J", ErrorKind::kInvalidRequest, "tests[0].type",
                   "list_length, pytest");
}

TEST(Exercise, HarnessInputCarriesFilesAndModulesButNoExpectedValues) {
    RunRequest r = accepted(R"J({"code": "x = 1", "files": {"b.txt": "B", "a.csv": "1,2\n"}, "tests": [)J"
                            R"J({"type": "variable_value", "name": "x", "expected": 424242},)J"
                            R"J({"type": "pytest", "code": "def test_a(): pass\n"},)J"
                            R"J({"type": "output", "expected": "SECRET"}]})J");
    STRCMP_EQUAL(R"J({"code":"x = 1","observe":[{"var":"x"},null,null],"files":{"a.csv":"1,2\n","b.txt":"B"},)J"
                 R"J("pytest":[{"i":1,"code":"def test_a(): pass\n"}]})J",
                 buildHarnessInput(r).c_str());
}

// ---- records and answers ----------------------------------------------------------------

TEST(Exercise, PytestResultsBecomeEntriesJudgedInTheSandbox) {
    RunRequest r = requestWith(R"J({"type": "variable_value", "name": "x", "expected": 1},)J"
                               R"J({"type": "pytest", "description": "Adds", "code": "t"})J");
    JsonValue a = answerOf(r, {kFinished, R"J({"i":0,"exists":true,"type":"int","value":1,"len":null})J",
                               R"J({"test":1,"name":"test_add","outcome":"passed"})J",
                               R"J({"test":1,"name":"test_add[2-3]","outcome":"failed","message":"E   assert 5 == 6"})J",
                               R"J({"test":1,"name":"test_s","outcome":"skipped","message":"Skipped: later"})J",
                               R"J({"test":1,"name":"test_x","outcome":"xfailed"})J",
                               done(1, 4), kEnd});
    STRCMP_EQUAL(
        R"J([{"type":"variable_value","description":null,"passed":true,"expected":1,"actual":1},)J"
        R"J({"type":"pytest","description":"Adds: test_add","passed":true,"outcome":"passed","expected":null,)J"
        R"J("actual":null,"judgedIn":"sandbox"},)J"
        R"J({"type":"pytest","description":"Adds: test_add[2-3]","passed":false,"outcome":"failed","expected":null,)J"
        R"J("actual":null,"message":"E   assert 5 == 6","judgedIn":"sandbox"},)J"
        R"J({"type":"pytest","description":"Adds: test_s","passed":true,"outcome":"skipped","expected":null,)J"
        R"J("actual":null,"message":"Skipped: later","judgedIn":"sandbox"},)J"
        R"J({"type":"pytest","description":"Adds: test_x","passed":true,"outcome":"xfailed","expected":null,)J"
        R"J("actual":null,"judgedIn":"sandbox"}])J",
        results(a).c_str());
    STRCMP_EQUAL("false", member(a, "allPassed").c_str());
}

TEST(Exercise, PassingPytestResultsPass) {
    RunRequest r = requestWith(kPytestTest);
    JsonValue a = answerOf(r, {kFinished, result("test_a", "passed"), result("test_b", "xpassed"), done(0, 2), kEnd});
    STRCMP_EQUAL("true", member(a, "allPassed").c_str());
    CHECK(contains(results(a), R"J("description":"test_a")J"));
}

TEST(Exercise, AModuleThatDoesNotImportGivesOneFailedEntry) {
    RunRequest r = requestWith(kPytestTest);
    JsonValue a = answerOf(r, {kFinished, R"J({"test":0,"done":true,"collected":0,"error":"ImportError: nope"})J", kEnd});
    STRCMP_EQUAL(R"J([{"type":"pytest","description":"test module","passed":false,"outcome":"error","expected":null,)J"
                 R"J("actual":null,"message":"ImportError: nope","judgedIn":"sandbox"}])J",
                 results(a).c_str());
}

TEST(Exercise, AnUnfinishedModuleSaysWhy) {
    RunRequest r = requestWith(kPytestTest);
    RunOutcome o;
    o.timedOut = true;
    o.signal = 9;
    o.timeoutMs = 2000;
    o.observations = kFinished + "\n" + result("test_a", "passed") + "\n";
    Result<JsonValue> a = parseJson(buildRunAnswer(r, o, "r").body);
    CHECK(a.ok());
    std::string text = results(a.value());
    CHECK_TEXT(contains(text, R"J("description":"test_a","passed":true)J"), text.c_str());
    CHECK_TEXT(contains(text, "pytest did not finish: the run timed out"), text.c_str());
    // Nothing at all from the harness: the program itself did not finish.
    o.observations.clear();
    a = parseJson(buildRunAnswer(r, o, "r").body);
    CHECK(contains(results(a.value()), "the program did not finish"));
}

TEST(Exercise, UnlistedResultsAreSummed) {
    RunRequest r = requestWith(kPytestTest);
    JsonValue a = answerOf(r, {kFinished, result("test_a", "passed"), done(0, 600, R"J(,"unlisted":599,"unlistedFailed":2)J"),
                               kEnd});
    CHECK_TEXT(contains(results(a), "599 more tests ran but are not listed"), results(a).c_str());
    CHECK(contains(results(a), "2 of them did not pass"));
    STRCMP_EQUAL("false", member(a, "allPassed").c_str());
}

TEST(Exercise, OutFilesAreListed) {
    RunRequest r = requestWith("");
    JsonValue a = answerOf(r, {kFinished, fileRecord("out/a.txt", "5", "aGVsbG8="),
                               R"J({"file":"out/big.bin","bytes":3000000,"truncated":true})J",
                               R"J({"event":"end","filesOmitted":3})J"});
    STRCMP_EQUAL(R"J([{"path":"out/a.txt","bytes":5,"base64":"aGVsbG8="},)J"
                 R"J({"path":"out/big.bin","bytes":3000000,"truncated":true}])J",
                 member(a, "files").c_str());
    STRCMP_EQUAL("3", member(a, "filesOmitted").c_str());
    STRCMP_EQUAL("true", member(a, "allPassed").c_str());
}

TEST(Exercise, RecordsOutOfPlaceAreTampering) {
    RunRequest obs = requestWith(R"J({"type": "variable_exists", "name": "x"},)J" + kPytestTest);
    std::string x = R"J({"i":0,"exists":true,"type":"int","value":1,"len":null})J";
    // An observation after pytest's records, or pytest's before the observations.
    expectTampered(obs, {kFinished, done(1, 0), x, kEnd});
    expectTampered(obs, {kFinished, x, done(1, 1), R"J({"test":1,"name":"t","outcome":"passed"})J", kEnd});
    // A module that never says done, or the wrong module, or end before it.
    expectTampered(obs, {kFinished, x, R"J({"test":0,"done":true,"collected":0,"error":null})J", kEnd});
    expectTampered(obs, {kFinished, x, kEnd});
    // A file before the modules are done, or out of order, or outside out/.
    expectTampered(obs, {kFinished, x, fileRecord("out/a", "0", ""), done(1, 1), kEnd});
    RunRequest none = requestWith("");
    expectTampered(none, {kFinished, fileRecord("out/b", "0", ""), fileRecord("out/a", "0", ""), kEnd});
    expectTampered(none, {kFinished, fileRecord("out/a", "0", ""), fileRecord("out/a", "0", ""), kEnd});
    expectTampered(none, {kFinished, fileRecord("data.csv", "0", ""), kEnd});
    expectTampered(none, {kFinished, fileRecord("out/../../etc/passwd", "0", ""), kEnd});
    expectTampered(none, {kFinished, R"J({"event":"end","filesOmitted":-1})J"});
}

TEST(Exercise, RecordsOverTheHarnessCapsAreTampering) {
    RunRequest r = requestWith(kPytestTest);
    expectTampered(r, {kFinished, result(std::string(kPytestNameBytes + 1, 'n'), "passed"), done(0, 1), kEnd});
    expectTampered(r, {kFinished, result("t", "failed", std::string(kPytestMessageBytes + 1, 'm')), done(0, 1), kEnd});
    expectTampered(r, {kFinished, result("t", "won"), done(0, 1), kEnd});
    expectTampered(r, {kFinished, R"J({"test":0,"done":true,"collected":1,"error":null,"unlisted":1,"unlistedFailed":2})J",
                       kEnd});
    std::vector<std::string> many = {kFinished};
    for (size_t k = 0; k <= kPytestResultsPerRun; ++k) many.push_back(result("t" + std::to_string(k), "passed"));
    many.push_back(done(0, static_cast<int>(kPytestResultsPerRun) + 1));
    many.push_back(kEnd);
    expectTampered(r, many);
    // More pytest records than the harness's 2 MiB budget for them.
    std::vector<std::string> heavy = {kFinished};
    for (int k = 0; k < 300; ++k) heavy.push_back(result("t" + std::to_string(k), "failed", std::string(8000, 'm')));
    heavy.push_back(done(0, 300));
    heavy.push_back(kEnd);
    expectTampered(r, heavy);
    heavy.erase(heavy.begin() + 200, heavy.begin() + 300);
    CHECK_FALSE(parseObservations([&] {
        std::string s;
        for (const std::string& line : heavy) s += line + "\n";
        return s;
    }(), r).tampered);
    // Right at the caps: accepted.
    JsonValue a = answerOf(r, {kFinished, result(std::string(kPytestNameBytes, 'n'), "failed",
                                                 std::string(kPytestMessageBytes, 'm')), done(0, 1), kEnd});
    CHECK_FALSE(contains(results(a), "result channel"));
}

TEST(Exercise, OutFilesWithinTheirBudgetOnly) {
    RunRequest none = requestWith("");
    // Base64 that does not match its size, or content past the 2 MiB budget.
    expectTampered(none, {kFinished, fileRecord("out/a", "6", "aGVsbG8="), kEnd});
    std::string mib(4 * ((1 << 20) / 3 + 1), 'A');  // base64 of 1 MiB + 2 bytes
    std::string size = std::to_string((1 << 20) + 2);
    JsonValue two = answerOf(none, {kFinished, fileRecord("out/a", size, mib), kEnd});
    CHECK_FALSE(contains(results(two), "result channel"));
    expectTampered(none, {kFinished, fileRecord("out/a", size, mib), fileRecord("out/b", size, mib), kEnd});
    std::vector<std::string> eleven = {kFinished};
    for (char c = 'a'; c <= 'k'; ++c) eleven.push_back(fileRecord(std::string("out/") + c, "0", ""));
    eleven.push_back(kEnd);
    expectTampered(none, eleven);
}

TEST(Exercise, TamperingDropsPytestResultsButNeverInventsThem) {
    RunRequest r = requestWith(kPytestTest);
    expectTampered(r, {kFinished, result("test_a", "passed"), "garbage", done(0, 1), kEnd});
}

TEST(Exercise, CompleteStreamsGiveTheEarlyExitCode) {
    RunRequest r = requestWith(kPytestTest);
    std::string stream = kFinished + "\n" + result("test_a", "passed") + "\n" + done(0, 1) + "\n" +
                         fileRecord("out/a", "0", "") + "\n" + kEnd + "\n";
    std::optional<int> code = harnessExitCode(stream, r);
    CHECK(code.has_value() && *code == 0);
    CHECK_FALSE(harnessExitCode(kFinished + "\n" + result("test_a", "passed") + "\n" + kEnd + "\n", r).has_value());
}

TEST(Exercise, RecordBudgetsCoverTheLargestRecords) {
    CHECK(kMaxFileRecordBytes > 4 * (kOutFileBytes / 3));
    CHECK(kMaxExerciseRecordBytes >= kMaxPytestResultRecordBytes);
    CHECK(kMaxPytestResultRecordBytes >= 6 * (kPytestNameBytes + kPytestMessageBytes));
    CHECK(kMaxRecordBytes >= kMaxExerciseRecordBytes);
    CHECK(kMaxResultStreamBytes >= (10u << 20) + kPytestRecordBytes + 4 * (kOutFileBytes / 3));
}

TEST(Exercise, AFullSizeOutFileFitsTheChannel) {
    RunRequest none = requestWith("");
    std::string base64(4 * ((kOutFileBytes + 2) / 3) - 4, 'A');
    base64 += "AAA=";  // 2 MiB exactly: 2097152 = 3 * 699050 + 2
    std::string stream = kFinished + "\n" + fileRecord("out/big.png", std::to_string(kOutFileBytes), base64) + "\n" +
                         kEnd + "\n";
    Observations o = parseObservations(stream, none);
    CHECK_FALSE(o.tampered);
    CHECK_EQUAL(1u, o.files.size());
    CHECK(harnessExitCode(stream, none).has_value());
}

TEST(Exercise, LongDescriptionsAreCutOnEachEntry) {
    RunRequest r = requestWith(R"J({"type": "pytest", "description": ")J" + std::string(5000, 'd') + R"J(", "code": "t"})J");
    JsonValue a = answerOf(r, {kFinished, result("test_a", "passed"), result("test_b", "passed"), done(0, 2), kEnd});
    const JsonValue& entries = *a.find("testResults");
    CHECK_EQUAL(2u, entries.items.size());
    for (const JsonValue& e : entries.items) CHECK(e.find("description")->text.size() < 300);
}
