// pyexecd: the command line. `serve` runs the service (server/master.h);
// `run` runs one program in the same sandbox; `check-profile` validates a
// seccomp profile.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/proc_title.h"
#include "protocol/request.h"
#include "protocol/response.h"
#include "runner/zygote.h"
#include "sandbox/seccomp.h"
#include "server/engine.h"
#include "server/master.h"

using namespace pyexec;

namespace {

constexpr const char* kUsage =
    "usage: pyexecd serve [OPTIONS]             run the service (FastCGI, behind nginx)\n"
    "       pyexecd run FILE|- [RUN OPTIONS] [OPTIONS]\n"
    "                                           run one program in the sandbox; print its\n"
    "                                           output and exit with its exit code\n"
    "       pyexecd check-profile FILE          validate a seccomp profile\n"
    "       pyexecd bench-setup N [OPTIONS]     median cost of each sandbox set-up step\n"
    "       pyexecd --help | --version\n"
    "\nRUN OPTIONS\n"
    "  --json              print the /run answer (JSON) instead of the output\n"
    "  --tests FILE        JSON array of tests (as in /run)\n"
    "  --stdin FILE        feed FILE to the program's standard input\n"
    "\nOPTIONS\n";

bool readAll(const std::string& path, std::string* out) {
    if (path == "-") {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        *out = ss.str();
        return true;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
    return true;
}

struct RunArgs {
    std::string file, testsFile, stdinFile;
    bool json = false;
    std::vector<std::string> rest;  // settings
};

int runOne(const RunArgs& a) {
    std::string code, tests = "[]", input, timeout;
    if (!readAll(a.file, &code)) return std::cerr << "pyexecd: cannot read " << a.file << "\n", 2;
    if (!a.testsFile.empty() && !readAll(a.testsFile, &tests))
        return std::cerr << "pyexecd: cannot read " << a.testsFile << "\n", 2;
    if (!a.stdinFile.empty() && !readAll(a.stdinFile, &input))
        return std::cerr << "pyexecd: cannot read " << a.stdinFile << "\n", 2;
    auto settings = server::parseSettings(a.rest);
    if (!settings) return std::cerr << "pyexecd: " << settings.error().message << "\n", 2;
    auto engine = server::Engine::create(settings.value());
    if (!engine) return std::cerr << "pyexecd: " << engine.error().message << "\n", 1;
    engine.value()->startWarm(-1, 60000);
    // The same validation as /run: the CLI builds a request body.
    std::string body = "{\"code\":" + protocol::jsonString(code) + ",\"stdin\":" + protocol::jsonString(input) +
                       ",\"tests\":" + tests + "}";
    auto request = protocol::parseRunRequest(body, engine.value()->requestLimits());
    if (!request) {
        engine.value()->shutdown();
        return std::cerr << "pyexecd: " << request.error().message << "\n", 2;
    }
    auto outcome = engine.value()->run(request.value());
    engine.value()->shutdown();
    if (!outcome) return std::cerr << "pyexecd: " << outcome.error().message << "\n", 1;
    const auto& o = outcome.value();
    if (a.json) {
        std::cout << protocol::buildRunAnswer(request.value(), o, "cli").body << "\n";
        return 0;
    }
    std::cout << o.out << std::flush;
    std::cerr << o.err << std::flush;
    if (o.timedOut) return std::cerr << "pyexecd: timed out after " << o.timeoutMs << " ms\n", 124;
    if (o.signal != 0) return 128 + o.signal;
    return o.exitCode;
}

int runCommand(const std::vector<std::string>& args) {
    RunArgs a;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& s = args[i];
        if (s == "--json") a.json = true;
        else if (s == "--tests" && i + 1 < args.size()) a.testsFile = args[++i];
        else if (s == "--stdin" && i + 1 < args.size()) a.stdinFile = args[++i];
        else if (a.file.empty() && (s == "-" || s.rfind("--", 0) != 0)) a.file = s;
        else a.rest.push_back(s);
    }
    if (a.file.empty()) return std::cerr << kUsage, 2;
    return runOne(a);
}

// `bench-setup N`: runs `pass` N times and prints the median cost of each
// sandbox set-up step as JSON (for `make bench`).
int benchSetup(const std::vector<std::string>& args) {
    if (args.empty()) return std::cerr << kUsage, 2;
    int n = std::max(1, std::atoi(args[0].c_str()));
    auto settings = server::parseSettings({args.begin() + 1, args.end()});
    if (!settings) return std::cerr << "pyexecd: " << settings.error().message << "\n", 2;
    auto engine = server::Engine::create(settings.value());
    if (!engine) return std::cerr << "pyexecd: " << engine.error().message << "\n", 1;
    engine.value()->startWarm(-1, 60000);
    protocol::RunRequest req;
    req.code = "pass";
    const char* names[] = {"cgroupAndIo", "clone", "cgroupPlacement", "fdCleanup", "filesystem", "identity",
                           "capabilities", "rlimits", "forkAndSeccomp", "teardown", "programWall", "sandboxTotal"};
    constexpr size_t kCols = std::size(names);
    std::vector<std::vector<double>> cols(kCols);
    for (int i = 0; i < n; ++i) {
        auto out = engine.value()->run(req);
        if (!out) return std::cerr << "pyexecd: " << out.error().message << "\n", 1;
        engine.value()->afterRequest();  // teardown of this run (timed), set-up of the next
        const auto& t = engine.value()->lastTiming();
        double v[kCols] = {t.cgroupMs, t.cloneMs, t.stepMs[1], t.stepMs[2], t.stepMs[3], t.stepMs[4],
                           t.stepMs[5], t.stepMs[6], t.stepMs[7], t.teardownMs, out.value().wallMs, 0};
        for (size_t k = 0; k < kCols - 2; ++k) v[kCols - 1] += v[k];  // every step and the teardown
        for (size_t k = 0; k < kCols; ++k) cols[k].push_back(v[k]);
    }
    engine.value()->shutdown();
    std::cout << "{\"runs\": " << n;
    for (size_t k = 0; k < kCols; ++k) {
        auto& c = cols[k];
        std::sort(c.begin(), c.end());
        std::cout << ", \"" << names[k] << "Ms\": " << c[c.size() / 2];
    }
    std::cout << "}\n";
    return 0;
}

int checkProfile(const std::vector<std::string>& args) {
    if (args.size() != 1) return std::cerr << kUsage, 2;
    auto p = sandbox::SeccompProgram::loadFile(args[0]);
    if (!p) return std::cerr << "pyexecd: " << p.error().message << "\n", 1;
    std::cout << args[0] << ": ok (" << p.value().ruleCount() << " rules, " << p.value().instructionCount()
              << " BPF instructions)\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 1 && std::string_view(argv[0]) == "pyexec-zygote") return runner::zygoteProcessMain();
    std::vector<std::string> args(argv + 1, argv + argc);  // copied before the area can be wiped
    proctitle::remember(argc, argv);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::cout << kUsage << server::settingsHelp();
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") return std::cout << "pyexecd " << server::kVersion << "\n", 0;
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "serve") return server::serve(rest);
    if (args[0] == "run") {
        log::setQuiet(true);
        return runCommand(rest);
    }
    if (args[0] == "check-profile") return checkProfile(rest);
    if (args[0] == "bench-setup") {
        log::setQuiet(true);
        return benchSetup(rest);
    }
    std::cerr << "pyexecd: unknown command '" << args[0] << "'\n" << kUsage;
    return 2;
}
