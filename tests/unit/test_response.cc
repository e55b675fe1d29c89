// Unit tests of src/protocol/response.cc and health.cc: the /run answer
// (SPEC §2, status precedence, error line), error bodies (§4), /health (§6)
// and the request log line (§7).
#include <signal.h>

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

const std::string kFinished = R"J({"event": "finished", "exitCode": 0, "syntaxError": false, "error": null})J" "\n";

RunRequest requestWith(const std::string& tests) {
    Result<RunRequest> r = parseRunRequest(R"J({"code": "pass", "tests": [)J" + tests + "]}", RequestLimits{});
    CHECK_TEXT(r.ok(), r.ok() ? "" : r.error().message.c_str());
    return r.value();
}

RunOutcome okRun(const std::string& out = "") {
    RunOutcome o;
    o.out = out;
    o.exitCode = 0;
    o.observations = kFinished;
    o.timeoutMs = 2000;
    o.memoryLimitBytes = 256ull << 20;
    return o;
}

JsonValue parsed(const std::string& body) {
    Result<JsonValue> r = parseJson(body);
    CHECK_TEXT(r.ok(), body.c_str());
    return r.value();
}

std::string keysOf(const JsonValue& object) {
    std::string keys;
    for (const JsonMember& m : object.members) keys += (keys.empty() ? "" : ",") + m.key;
    return keys;
}

// The member `key` of the answer, as compact JSON.
std::string field(const std::string& body, const std::string& key) {
    JsonValue root = parsed(body);
    const JsonValue* v = root.find(key);
    return v == nullptr ? "<absent>" : toJson(*v);
}

RunAnswer answer(const RunOutcome& o, const std::string& tests = "") {
    return buildRunAnswer(requestWith(tests), o, "req-1");
}

void checkStatus(const RunOutcome& o, const char* status, const std::string& errorJson) {
    RunAnswer a = answer(o);
    STRCMP_EQUAL(status, a.status.c_str());
    STRCMP_EQUAL((std::string("\"") + status + "\"").c_str(), field(a.body, "status").c_str());
    STRCMP_EQUAL(errorJson.c_str(), field(a.body, "error").c_str());
    STRCMP_EQUAL(std::string(status) == "ok" ? "true" : "false", field(a.body, "success").c_str());
}

RunOutcome withFinished(const std::string& finishedJson, int exitCode) {
    RunOutcome o = okRun();
    o.observations = finishedJson + "\n";
    o.exitCode = exitCode;
    return o;
}

}  // namespace

TEST_GROUP(RunAnswer) {
    void setup() override { detail::gRapidjsonAssertFailures = 0; }
    void teardown() override { CHECK_EQUAL(0ul, detail::gRapidjsonAssertFailures); }
};

TEST(RunAnswer, FieldsInTheOrderOfTheSpec) {
    RunOutcome o = okRun("Hello, World!\n");
    o.wallMs = 3.14;
    o.cpuMs = 1.25;
    o.memoryPeakBytes = 9437184;
    RunAnswer a = buildRunAnswer(
        requestWith(R"J({"type": "output", "description": "Should print Hello, World!", "expected": "Hello, World!"})J"), o,
        "5f0c");
    STRCMP_EQUAL(
        R"J({"success":true,"status":"ok","stdout":"Hello, World!\n","stderr":"","exitCode":0,"signal":null,)J"
        R"J("timedOut":false,"outputTruncated":false,"memoryExceeded":false,"error":null,"testResults":[)J"
        R"J({"type":"output","description":"Should print Hello, World!","passed":true,"expected":"Hello, World!",)J"
        R"J("actual":"Hello, World!"}],"allPassed":true,"files":[],"executionTimeMs":3.1,"cpuTimeMs":1.2,)J"
        R"J("memoryPeakBytes":9437184,"requestId":"5f0c"})J",
        a.body.c_str());
    STRCMP_EQUAL("ok", a.status.c_str());
}

TEST(RunAnswer, EmptyTestsAllPassWhenOk) {
    RunAnswer a = answer(okRun());
    STRCMP_EQUAL("[]", field(a.body, "testResults").c_str());
    STRCMP_EQUAL("true", field(a.body, "allPassed").c_str());
}

TEST(RunAnswer, MemoryPeakNullWhenUnknown) {
    RunAnswer a = answer(okRun());
    STRCMP_EQUAL("null", field(a.body, "memoryPeakBytes").c_str());
    STRCMP_EQUAL("0.0", field(a.body, "executionTimeMs").c_str());
}

TEST(RunAnswer, StreamsAreSanitisedUtf8) {
    RunOutcome o = okRun("ok \xFF\xC0\xAF end\n");
    o.err = std::string("warn\0\xED\xA0\x80", 8);
    RunAnswer a = answer(o);
    STRCMP_EQUAL("\"ok \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end\\n\"", field(a.body, "stdout").c_str());
    STRCMP_EQUAL("\"warn\\u0000\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"", field(a.body, "stderr").c_str());
}

TEST(RunAnswer, DescriptionNullAndMessageOnlyWhenSet) {
    RunOutcome o = okRun("x\n");
    o.observations = kFinished + R"J({"i": 1, "exists": false})J" "\n";
    RunAnswer a = answer(o, R"J({"type": "output", "expected": "y"}, {"type": "variable_exists", "name": "v", "description": "v exists"})J");
    JsonValue root = parsed(a.body);
    const JsonValue* results = root.find("testResults");
    CHECK(results != nullptr && results->isArray());
    CHECK_EQUAL(2u, results->items.size());
    STRCMP_EQUAL("type,description,passed,expected,actual", keysOf(results->items[0]).c_str());
    STRCMP_EQUAL(R"J({"type":"output","description":null,"passed":false,"expected":"y","actual":"x"})J",
                 toJson(results->items[0]).c_str());
    STRCMP_EQUAL(R"J({"type":"variable_exists","description":"v exists","passed":false,"expected":true,"actual":false,"message":"variable 'v' is not defined"})J",
                 toJson(results->items[1]).c_str());
    STRCMP_EQUAL("false", field(a.body, "allPassed").c_str());
    STRCMP_EQUAL("true", field(a.body, "success").c_str());
}

TEST(RunAnswer, AllPassedNeedsSuccess) {
    RunOutcome o = withFinished(R"J({"event": "finished", "exitCode": 1, "syntaxError": false, "error": "ValueError: late (line 9)"})J", 1);
    o.out = "done\n";
    RunAnswer a = answer(o, R"J({"type": "output", "expected": "done"})J");
    STRCMP_EQUAL("error", a.status.c_str());
    JsonValue root = parsed(a.body);
    const JsonValue* results = root.find("testResults");
    CHECK(results != nullptr && results->isArray() && results->items.size() == 1);
    STRCMP_EQUAL("true", toJson(*results->items[0].find("passed")).c_str());
    STRCMP_EQUAL("false", field(a.body, "allPassed").c_str());
}

TEST(RunAnswer, OkStatus) { checkStatus(okRun(), "ok", "null"); }

TEST(RunAnswer, UncaughtException) {
    checkStatus(withFinished(R"J({"event": "finished", "exitCode": 1, "syntaxError": false, "error": "ZeroDivisionError: division by zero (line 3)"})J", 1),
                "error", "\"ZeroDivisionError: division by zero (line 3)\"");
}

TEST(RunAnswer, ExceptionReportedWithExitZeroIsStillAnError) {
    checkStatus(withFinished(R"J({"event": "finished", "exitCode": 0, "syntaxError": false, "error": "KeyError: 'a' (line 1)"})J", 0),
                "error", "\"KeyError: 'a' (line 1)\"");
}

TEST(RunAnswer, NonZeroExitWithoutException) {
    checkStatus(withFinished(R"J({"event": "finished", "exitCode": 3, "syntaxError": false, "error": null})J", 3),
                "error", "\"Exited with code 3\"");
    STRCMP_EQUAL("3", field(answer(withFinished(kFinished, 3)).body, "exitCode").c_str());
}

TEST(RunAnswer, ExitStatusComesFromTheRunnerNotTheRecord) {
    // A forged `finished` record cannot turn a failed exit into ok.
    checkStatus(withFinished(R"J({"event": "finished", "exitCode": 0, "syntaxError": false, "error": null})J", 2),
                "error", "\"Exited with code 2\"");
}

TEST(RunAnswer, SyntaxError) {
    checkStatus(withFinished(R"J({"event": "finished", "exitCode": 1, "syntaxError": true, "error": "SyntaxError: '(' was never closed (line 1)"})J", 1),
                "syntax_error", "\"SyntaxError: '(' was never closed (line 1)\"");
}

TEST(RunAnswer, Timeout) {
    RunOutcome o = okRun();
    o.observations = "";
    o.timedOut = true;
    o.signal = SIGKILL;
    o.exitCode = -1;
    o.timeoutMs = 1500;
    checkStatus(o, "timeout", "\"Execution timed out after 1500 ms\"");
    RunAnswer a = answer(o);
    STRCMP_EQUAL("null", field(a.body, "exitCode").c_str());
    STRCMP_EQUAL("\"SIGKILL\"", field(a.body, "signal").c_str());
    STRCMP_EQUAL("true", field(a.body, "timedOut").c_str());
}

TEST(RunAnswer, TimeoutFallsBackToTheRequestLimit) {
    RunOutcome o = okRun();
    o.timedOut = true;
    o.timeoutMs = 0;
    checkStatus(o, "timeout", "\"Execution timed out after 2000 ms\"");
}

TEST(RunAnswer, MemoryLimit) {
    RunOutcome o = okRun();
    o.memoryExceeded = true;
    o.signal = SIGKILL;
    checkStatus(o, "memory_limit", "\"Memory limit of 256 MiB exceeded\"");
    STRCMP_EQUAL("true", field(answer(o).body, "memoryExceeded").c_str());
    o.memoryLimitBytes = 64 << 10;
    checkStatus(o, "memory_limit", "\"Memory limit of 64 KiB exceeded\"");
    o.memoryLimitBytes = 1000;
    checkStatus(o, "memory_limit", "\"Memory limit of 1000 bytes exceeded\"");
    o.memoryLimitBytes = 0;
    checkStatus(o, "memory_limit", "\"Memory limit exceeded\"");
}

TEST(RunAnswer, OutputLimit) {
    RunOutcome o = okRun();
    o.outputTruncated = true;
    o.signal = SIGKILL;
    checkStatus(o, "output_limit", "\"Output limit of 1 MiB exceeded\"");
    STRCMP_EQUAL("true", field(answer(o).body, "outputTruncated").c_str());
}

TEST(RunAnswer, KilledBySignal) {
    RunOutcome o = okRun();
    o.observations = "";
    o.signal = SIGSEGV;
    o.exitCode = -1;
    checkStatus(o, "killed", "\"Killed by signal SIGSEGV\"");
    STRCMP_EQUAL("\"SIGSEGV\"", field(answer(o).body, "signal").c_str());
    STRCMP_EQUAL("null", field(answer(o).body, "exitCode").c_str());
    o.signal = SIGKILL;
    checkStatus(o, "killed", "\"Killed by signal SIGKILL\"");
    o.signal = SIGABRT;
    checkStatus(o, "killed", "\"Killed by signal SIGABRT\"");
}

TEST(RunAnswer, UnnamedSignal) {
    RunOutcome o = okRun();
    o.signal = 77;
    checkStatus(o, "killed", "\"Killed by signal signal 77\"");
}

TEST(RunAnswer, MissingExitStatus) {
    RunOutcome o = okRun();
    o.observations = "";
    o.exitCode = -1;
    checkStatus(o, "error", "\"The program ended without an exit status\"");
}

TEST(RunAnswer, PrecedenceMemoryOverEverything) {
    RunOutcome o = withFinished(R"J({"event": "finished", "exitCode": 1, "syntaxError": true, "error": "SyntaxError: x"})J", 1);
    o.memoryExceeded = true;
    o.timedOut = true;
    o.outputTruncated = true;
    o.signal = SIGKILL;
    CHECK_EQUAL(std::string("memory_limit"), answer(o).status);
}

TEST(RunAnswer, PrecedenceTimeoutOverOutputSyntaxAndKilled) {
    RunOutcome o = withFinished(R"J({"event": "finished", "exitCode": 1, "syntaxError": true, "error": "SyntaxError: x"})J", 1);
    o.timedOut = true;
    o.outputTruncated = true;
    o.signal = SIGKILL;
    CHECK_EQUAL(std::string("timeout"), answer(o).status);
}

TEST(RunAnswer, PrecedenceOutputOverSyntaxAndKilled) {
    RunOutcome o = withFinished(R"J({"event": "finished", "exitCode": 1, "syntaxError": true, "error": "SyntaxError: x"})J", 1);
    o.outputTruncated = true;
    o.signal = SIGKILL;
    CHECK_EQUAL(std::string("output_limit"), answer(o).status);
}

TEST(RunAnswer, PrecedenceSyntaxOverKilledAndError) {
    RunOutcome o = withFinished(R"J({"event": "finished", "exitCode": 1, "syntaxError": true, "error": "SyntaxError: x"})J", 1);
    o.signal = SIGTERM;
    CHECK_EQUAL(std::string("syntax_error"), answer(o).status);
}

TEST(RunAnswer, PrecedenceKilledOverException) {
    RunOutcome o = withFinished(R"J({"event": "finished", "exitCode": 1, "syntaxError": false, "error": "ValueError: v"})J", -1);
    o.signal = SIGSEGV;
    CHECK_EQUAL(std::string("killed"), answer(o).status);
}

TEST(RunAnswer, GarbledRecordsDoNotBreakTheAnswer) {
    RunOutcome o = okRun("hi\n");
    o.observations = std::string("\xFF\xFE{\"event\":\n") + std::string(50000, '[') + "\n\0\0\0";
    RunAnswer a = answer(o, R"J({"type": "variable_exists", "name": "x"}, {"type": "output", "expected": "hi"})J");
    STRCMP_EQUAL("ok", a.status.c_str());
    CHECK(parseJson(a.body).ok());
}

// ---- error bodies ---------------------------------------------------------------------

TEST_GROUP(ErrorBody){};

TEST(ErrorBody, StatusAndCodeOfEveryKind) {
    struct Row {
        ErrorKind kind;
        int status;
        const char* code;
    } rows[] = {
        {ErrorKind::kInvalidJson, 400, "invalid_json"},
        {ErrorKind::kInvalidRequest, 400, "invalid_request"},
        {ErrorKind::kTooLarge, 413, "code_too_large"},
        {ErrorKind::kOverloaded, 503, "overloaded"},
        {ErrorKind::kSandboxUnavailable, 503, "sandbox_unavailable"},
        {ErrorKind::kConfig, 500, "internal_error"},
        {ErrorKind::kInternal, 500, "internal_error"},
    };
    for (const Row& row : rows) {
        CHECK_EQUAL(row.status, httpStatusOf(row.kind));
        STRCMP_EQUAL(row.code, errorCodeOf(row.kind).c_str());
    }
}

TEST(ErrorBody, WithField) {
    STRCMP_EQUAL(
        R"J({"error":{"code":"invalid_request","message":"bad \"type\"","field":"tests[2].type"},"requestId":"r1"})J",
        buildErrorBody(makeError(ErrorKind::kInvalidRequest, "bad \"type\"", "tests[2].type"), "r1").c_str());
}

TEST(ErrorBody, WithoutField) {
    STRCMP_EQUAL(R"J({"error":{"code":"overloaded","message":"busy"},"requestId":"r2"})J",
                 buildErrorBody(makeError(ErrorKind::kOverloaded, "busy"), "r2").c_str());
}

TEST(ErrorBody, InternalErrorsAreGeneric) {
    std::string body = buildErrorBody(makeError(ErrorKind::kInternal, "open /etc/pyexec/secret failed", "", 13), "r3");
    CHECK(body.find("secret") == std::string::npos);
    CHECK(body.find("errno") == std::string::npos);
    STRCMP_EQUAL("\"internal_error\"", toJson(*parsed(body).find("error")->find("code")).c_str());
    STRCMP_EQUAL("\"r3\"", field(body, "requestId").c_str());
    CHECK(parsed(body).find("error")->find("field") == nullptr);
}

TEST(ErrorBody, FromCodeAndMessage) {
    STRCMP_EQUAL(R"J({"error":{"code":"not_found","message":"No such path: /x"},"requestId":"r4"})J",
                 buildErrorBody("not_found", "No such path: /x", "r4").c_str());
}

TEST(ErrorBody, HostileTextStaysValidJson) {
    std::string body = buildErrorBody("not_found", std::string("/\xFF\"\n\0x", 6), "id\xC0");
    CHECK(parseJson(body).ok());
}

// ---- log line -------------------------------------------------------------------------

TEST_GROUP(LogLine){};

TEST(LogLine, AllFields) {
    RequestLog entry;
    entry.requestId = "abc";
    entry.method = "POST";
    entry.path = "/run";
    entry.runStatus = "ok";
    entry.httpStatus = 200;
    entry.wallMs = 12.34;
    entry.cpuMs = 5;
    entry.memoryPeakBytes = 1024;
    std::string line = buildLogLine(entry);
    JsonValue root = parsed(line);
    STRCMP_EQUAL("time,requestId,method,path,status,runStatus,wallMs,cpuMs,memoryPeakBytes", keysOf(root).c_str());
    std::string rest = line.substr(line.find(",\"requestId\""));
    STRCMP_EQUAL(R"J(,"requestId":"abc","method":"POST","path":"/run","status":200,"runStatus":"ok","wallMs":12.3,"cpuMs":5.0,"memoryPeakBytes":1024})J",
                 rest.c_str());
    CHECK(line.find('\n') == std::string::npos);
}

TEST(LogLine, TimeIsIso8601UtcWithMilliseconds) {
    std::string time = parsed(buildLogLine(RequestLog{})).find("time")->text;
    CHECK_EQUAL(24u, time.size());  // 2026-02-07T12:34:56.789Z
    CHECK_EQUAL('T', time[10]);
    CHECK_EQUAL('.', time[19]);
    CHECK_EQUAL('Z', time[23]);
}

TEST(LogLine, UnknownsAreNull) {
    RequestLog entry;
    entry.httpStatus = 404;
    std::string rest = buildLogLine(entry).substr(buildLogLine(entry).find(",\"status\""));
    STRCMP_EQUAL(R"J(,"status":404,"runStatus":null,"wallMs":null,"cpuMs":null,"memoryPeakBytes":null})J", rest.c_str());
}

TEST(LogLine, HostilePathStaysOneValidLine) {
    RequestLog entry;
    entry.path = "/run\n{\"forged\":1}\xFF";
    std::string line = buildLogLine(entry);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(parseJson(line).ok());
}

// ---- health -------------------------------------------------------------------------------

namespace {

HealthInfo healthyInfo() {
    HealthInfo info;
    info.healthy = true;
    info.versions = {"3.11.2", "1.24.2", "1.5.3", "3.6.3", "7.2.1"};
    info.version = "1.0.0";
    info.schemaVersion = "2026-02-07";
    info.pythonExecutable = "/usr/bin/python3";
    info.healthCheckMs = 4.24;
    info.sandboxMode = "warm";
    info.cgroup = "v2";
    info.seccompProfile = "python.json";
    info.network = "shared";
    info.idCount = 4;
    info.ioLimited = true;
    info.ioReadBps = 100 << 20;
    info.ioReadIops = 2000;
    info.ioWriteBps = 0;  // no limit: null
    info.ioWriteIops = 500;
    info.workersTotal = 4;
    info.workersBusy = 1;
    return info;
}

}  // namespace

TEST_GROUP(Health){};

TEST(Health, HealthyBody) {
    STRCMP_EQUAL(
        R"J({"status":"healthy","service":"pyexecd","version":"1.0.0","schemaVersion":"2026-02-07",)J"
        R"J("python":"3.11.2","pythonExecutable":"/usr/bin/python3","packages":{"numpy":"1.24.2","pandas":"1.5.3",)J"
        R"J("matplotlib":"3.6.3","pytest":"7.2.1"},)J"
        R"J("healthCheckMs":4.2,"sandbox":{"mode":"warm","cgroup":"v2","seccompProfile":"python.json","uid":60000,)J"
        R"J("gid":60000,"uidRange":[60000,60003],"gidRange":[60000,60003],"network":"shared"},)J"
        R"J("limits":{"timeoutMs":2000,"maxTimeoutMs":10000,"cpus":0.5,"memoryBytes":268435456,"pidsMax":50,)J"
        R"J("outputBytes":1048576,"codeBytes":102400,"stdinBytes":1048576,"tmpBytes":67108864,)J"
        R"J("ioReadBps":104857600,"ioReadIops":2000,"ioWriteBps":null,"ioWriteIops":500},)J"
        R"J("workers":{"total":4,"busy":1},"requestId":"h1"})J",
        buildHealthBody(healthyInfo(), "h1").c_str());
}

TEST(Health, IoLimitsAreNullWhereNotApplied) {
    HealthInfo info = healthyInfo();
    info.ioLimited = false;
    std::string body = buildHealthBody(info, "h1");
    CHECK(body.find(R"J("ioReadBps":null,"ioReadIops":null,"ioWriteBps":null,"ioWriteIops":null)J") !=
          std::string::npos);
}

TEST(Health, ChecksOnlyWhenUnhealthy) {
    HealthInfo info = healthyInfo();
    info.checks = {{"ignored", "when healthy"}};
    CHECK(parsed(buildHealthBody(info, "h")).find("checks") == nullptr);
    info.healthy = false;
    info.versions = {};
    info.checks = {{"probe", "the probe run timed out"}, {"cgroup", "memory controller missing"}};
    JsonValue root = parsed(buildHealthBody(info, "h"));
    STRCMP_EQUAL("\"unhealthy\"", toJson(*root.find("status")).c_str());
    STRCMP_EQUAL(R"J({"probe":"the probe run timed out","cgroup":"memory controller missing"})J",
                 toJson(*root.find("checks")).c_str());
    STRCMP_EQUAL("null", toJson(*root.find("python")).c_str());
    STRCMP_EQUAL(R"J({"numpy":null,"pandas":null,"matplotlib":null,"pytest":null})J",
                 toJson(*root.find("packages")).c_str());
    STRCMP_EQUAL("status,service,version,schemaVersion,python,pythonExecutable,packages,healthCheckMs,sandbox,"
                 "limits,workers,checks,requestId",
                 keysOf(root).c_str());
}

TEST(Health, ProbeParses) {
    ProbeVersions v;
    CHECK(parseHealthProbe("{\"python\": \"3.11.2\", \"numpy\": \" 1.24.2\\n\", \"pandas\": \"1.5.3\", "
                           "\"matplotlib\": \"3.6.3\", \"pytest\": \"7.2.1\"}\n", &v));
    STRCMP_EQUAL("3.11.2", v.python.c_str());
    STRCMP_EQUAL("1.24.2", v.numpy.c_str());
    STRCMP_EQUAL("1.5.3", v.pandas.c_str());
    STRCMP_EQUAL("3.6.3", v.matplotlib.c_str());
    STRCMP_EQUAL("7.2.1", v.pytest.c_str());
}

TEST(Health, ProbeAfterANoticeLine) {
    ProbeVersions v;
    CHECK(parseHealthProbe("some notice\n{\"python\": \"3.11.2\", \"numpy\": \"1.24.2\", \"pandas\": \"1.5.3\", "
                           "\"matplotlib\": \"3.6.3\", \"pytest\": \"7.2.1\"}\n", &v));
    STRCMP_EQUAL("1.5.3", v.pandas.c_str());
}

TEST(Health, ProbeFailures) {
    const char* bad[] = {
        "",
        "not json",
        "[\"3.11.2\"]",
        R"J({"python": "3.11.2", "numpy": "1.24.2"})J",
        R"J({"python": "3.11.2", "numpy": "1.24.2", "pandas": 1.5})J",
        R"J({"python": "3.11.2", "numpy": "1.24.2", "pandas": "  "})J",
        R"J({"python": "3.11.2", "numpy": null, "pandas": "1.5.3"})J",
        R"J({"python": "3.11.2", "numpy": "1.24.2", "pandas": "1.5.3", "matplotlib": "3.6.3"})J",
        R"J({"python": "3.11.2", "numpy": "1.24.2", "pandas": "1.5.3", "matplotlib": "", "pytest": "7.2.1"})J",
    };
    for (const char* text : bad) {
        ProbeVersions v;
        v.python = "untouched";
        CHECK_FALSE_TEXT(parseHealthProbe(text, &v), text);
        STRCMP_EQUAL("untouched", v.python.c_str());
    }
}
