// `pyexecd run`: one program in the service's own sandbox, validated and
// judged exactly as /run does, so that a quest's author can try a program
// and its tests without nginx. Runs in the pyexecd process itself (root).
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <fstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "protocol/request.h"
#include "protocol/response.h"
#include "server/engine.h"
#include "server/settings.h"

namespace pyexec::cli {
namespace {

constexpr const char* kRunHelp =
    "usage: pyexecd run FILE|- [RUN OPTIONS] [OPTIONS]\n"
    "Runs the program in FILE (- reads it from standard input) in the service's\n"
    "sandbox (root needed) and prints its stdout and stderr. With --tests, the tests\n"
    "are judged as /run judges them, and each failed test is described on stderr.\n"
    "\nRUN OPTIONS\n"
    "  --tests FILE  the tests, as in /run: a JSON array of tests, or an object\n"
    "                {\"tests\": [...]}\n"
    "  --stdin FILE  feed FILE to the program's standard input\n"
    "  --json        print the /run answer (JSON) instead of the program's output\n"
    "\nEXIT CODE (the same with --json)\n"
    "  0      the program exited 0 and every test passed\n"
    "  N      the program exited with N (1 after an uncaught exception or a syntax error)\n"
    "  1      the program exited 0 but a test failed\n"
    "  124    the program ran out of time (--timeout-ms, default 2000)\n"
    "  128+N  the program was killed by signal N (137 = SIGKILL: memory or output limit)\n"
    "  125    pyexecd could not run it: bad option, unreadable file, invalid program or\n"
    "         tests (the message names the field), or the sandbox could not be set up\n"
    "\nOPTIONS (the sandbox's settings, as for serve; e.g. --timeout-ms, --mode cold)\n";

struct RunArgs {
    std::string file, testsFile, stdinFile;
    bool json = false;
    std::vector<std::string> settings;  // everything else: serve's options
};

// Whole file, or standard input for "-"; nullopt when it cannot be read.
std::optional<std::string> readAll(const std::string& path) {
    std::ostringstream ss;
    if (path == "-") {
        ss << std::cin.rdbuf();
        return ss.str();
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    ss << in.rdbuf();
    return ss.str();
}

int fail(const std::string& message) {
    std::cerr << "pyexecd: " << message << "\n";
    return kExitCliError;
}

// The request /run would have received: the same limits and validation.
Result<protocol::RunRequest> buildRequest(const RunArgs& a, const protocol::RequestLimits& limits) {
    std::optional<std::string> code = readAll(a.file), input = std::string(), tests;
    if (!code) return makeError(ErrorKind::kInvalidRequest, "cannot read " + a.file);
    if (!a.stdinFile.empty() && !(input = readAll(a.stdinFile)))
        return makeError(ErrorKind::kInvalidRequest, "cannot read " + a.stdinFile);
    if (!a.testsFile.empty() && !(tests = readAll(a.testsFile)))
        return makeError(ErrorKind::kInvalidRequest, "cannot read " + a.testsFile);
    auto request = protocol::parseCliRequest(*code, *input, tests, limits);
    if (!request && !request.error().field.empty()) {
        Error e = request.error();
        e.message = e.field + ": " + e.message;
        return e;
    }
    return request;
}

// Stderr lines a person reads instead of the JSON: why the run stopped and
// which tests failed. Returns true when every test passed.
bool explain(const protocol::RunRequest& request, const protocol::RunOutcome& o, bool quiet) {
    if (!quiet && o.timedOut) std::cerr << "pyexecd: timed out after " << o.timeoutMs << " ms\n";
    if (!quiet && o.memoryExceeded) std::cerr << "pyexecd: memory limit of " << o.memoryLimitBytes << " bytes exceeded\n";
    if (!quiet && o.outputTruncated) std::cerr << "pyexecd: output limit exceeded\n";
    auto verdicts = protocol::judgeTests(request, o);
    size_t failed = 0;
    for (size_t i = 0; i < verdicts.size(); ++i) {
        if (verdicts[i].passed) continue;
        ++failed;
        if (quiet) continue;
        const protocol::TestSpec& t = request.tests[i];
        std::cerr << "pyexecd: FAIL tests[" << i << "] " << t.typeName;
        if (t.description) std::cerr << " (" << *t.description << ")";
        std::cerr << ": expected " << verdicts[i].expectedJson << ", got " << verdicts[i].actualJson;
        if (!verdicts[i].message.empty()) std::cerr << "; " << verdicts[i].message;
        std::cerr << "\n";
    }
    if (!quiet && !verdicts.empty())
        std::cerr << "pyexecd: " << verdicts.size() - failed << " of " << verdicts.size() << " tests passed\n";
    return failed == 0;
}

int exitCodeOf(const protocol::RunOutcome& o, bool testsPassed) {
    if (o.timedOut) return kExitTimeout;
    if (o.signal != 0) return 128 + o.signal;
    if (o.exitCode < 0) return fail("the program's exit status is unknown");
    if (o.exitCode != 0) return o.exitCode;
    return testsPassed ? 0 : kExitTestFailed;
}

int runOne(const RunArgs& a) {
    auto settings = server::parseSettings(a.settings);
    if (!settings) return fail(settings.error().message);
    auto created = server::Engine::create(settings.value());
    if (!created) return fail(created.error().message);
    std::unique_ptr<server::Engine> engine = std::move(created).value();
    struct Shutdown {  // removes the run's cgroup subtree on every path
        server::Engine* e;
        ~Shutdown() { e->shutdown(); }
    } shutdown{engine.get()};
    auto request = buildRequest(a, engine->requestLimits());
    if (!request) return fail(request.error().message);
    engine->startWarm(-1, 60000);
    auto outcome = engine->run(request.value());
    if (!outcome) return fail(outcome.error().message);
    const protocol::RunOutcome& o = outcome.value();
    if (a.json) {
        std::cout << protocol::buildRunAnswer(request.value(), o, "cli").body << "\n";
    } else {
        std::cout << o.out << std::flush;
        std::cerr << o.err << std::flush;
    }
    return exitCodeOf(o, explain(request.value(), o, a.json));
}

}  // namespace

int runCommand(const std::vector<std::string>& args) {
    if (wantsHelp(args)) return std::cout << kRunHelp << server::settingsHelp(), 0;
    RunArgs a;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& s = args[i];
        bool hasValue = i + 1 < args.size();
        if (s == "--json") a.json = true;
        else if (s == "--tests" && hasValue) a.testsFile = args[++i];
        else if (s == "--stdin" && hasValue) a.stdinFile = args[++i];
        else if (s.rfind("--", 0) == 0) {  // a setting; its value with it unless written --name=value
            a.settings.push_back(s);
            if (s.find('=') == std::string::npos && hasValue) a.settings.push_back(args[++i]);
        } else if (a.file.empty()) a.file = s;
        else return std::cerr << "pyexecd: unexpected argument '" << s << "'\n" << kRunHelp, kExitCliError;
    }
    if (a.file.empty()) return std::cerr << kRunHelp, kExitCliError;
    return runOne(a);
}

}  // namespace pyexec::cli
