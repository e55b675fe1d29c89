// `pyexecd bench-setup N`: runs `pass` N times in the service's sandbox and
// prints the median cost of each set-up step, as a table (people) or as JSON
// (--json, read by tests/bench/bench.py). Each run is torn down and the next
// sandbox set up exactly as a worker does between requests.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "protocol/request.h"
#include "server/engine.h"
#include "server/settings.h"

namespace pyexec::cli {
namespace {

constexpr const char* kBenchHelp =
    "usage: pyexecd bench-setup N [--json] [OPTIONS]\n"
    "Runs `pass` N times (N >= 1) in the service's sandbox (root needed) and prints\n"
    "the median cost in ms of each sandbox step: a table, or with --json one JSON\n"
    "object (for make bench). --mode cold|warm picks the mode (default warm).\n"
    "Exit code: 0; 1 when a run fails; 2 for a bad argument or option.\n"
    "\nOPTIONS (the sandbox's settings, as for serve)\n";

struct Column {
    const char* key;    // JSON name, without its "Ms" suffix
    const char* label;  // the table's row
};

// The order a run goes through them (runner.h's SetupTiming, sandbox::Step).
constexpr Column kColumns[] = {
        {"cgroupAndIo", "run cgroup and pipes"},
        {"clone", "clone3 of the init with namespaces (warm: the zygote's fork, round trip)"},
        {"cgroupPlacement", "the init moves itself into its cgroups"},
        {"fdCleanup", "namespaces joined, descriptors closed"},
        {"filesystem", "filesystem (binds, /proc, /dev, /tmp, pivot_root)"},
        {"identity", "identity (uid, gid, groups)"},
        {"capabilities", "capabilities dropped"},
        {"rlimits", "rlimits"},
        {"forkAndSeccomp", "fork of the program and seccomp (warm: the init's seccomp)"},
        {"teardown", "teardown after the answer (kill, reap, remove the cgroup)"},
        {"programWall", "the program's wall time (`pass`)"},
        {"sandboxTotal", "every step above but the program's"},
};
constexpr size_t kCols = std::size(kColumns);

using Samples = std::vector<std::vector<double>>;  // one vector per column

bool sample(server::Engine& engine, int n, Samples* cols) {
    protocol::RunRequest req;
    req.code = "pass";
    for (int i = 0; i < n; ++i) {
        auto out = engine.run(req);
        if (!out) {
            std::cerr << "pyexecd: " << out.error().message << "\n";
            return false;
        }
        engine.afterRequest();  // teardown of this run (timed), set-up of the next
        const auto& t = engine.lastTiming();
        double v[kCols] = {t.cgroupMs,  t.cloneMs,   t.stepMs[1], t.stepMs[2],    t.stepMs[3],        t.stepMs[4],
                           t.stepMs[5], t.stepMs[6], t.stepMs[7], t.teardownMs, out.value().wallMs, 0};
        for (size_t k = 0; k < kCols - 2; ++k) v[kCols - 1] += v[k];
        for (size_t k = 0; k < kCols; ++k) (*cols)[k].push_back(v[k]);
    }
    return true;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

void print(const Samples& cols, int n, const std::string& mode, bool json) {
    char num[32];
    if (json) {
        std::cout << "{\"runs\": " << n << ", \"mode\": \"" << mode << "\"";
        for (size_t k = 0; k < kCols; ++k) std::cout << ", \"" << kColumns[k].key << "Ms\": " << median(cols[k]);
        std::cout << "}\n";
        return;
    }
    std::cout << "Sandbox set-up, " << mode << " mode, median of " << n << " runs of `pass` (ms):\n";
    for (size_t k = 0; k < kCols; ++k) {
        std::snprintf(num, sizeof num, "%8.2f", median(cols[k]));
        std::cout << "  " << num << "  " << kColumns[k].label << "\n";
    }
}

}  // namespace

int benchSetupCommand(const std::vector<std::string>& args) {
    if (wantsHelp(args)) return std::cout << kBenchHelp << server::settingsHelp(), 0;
    char* end = nullptr;
    long n = args.empty() ? 0 : std::strtol(args[0].c_str(), &end, 10);
    if (args.empty() || *end != '\0' || n < 1 || n > 100000) return std::cerr << kBenchHelp, 2;
    std::vector<std::string> rest(args.begin() + 1, args.end());
    bool json = std::erase(rest, std::string("--json")) > 0;
    auto settings = server::parseSettings(rest);
    if (!settings) return std::cerr << "pyexecd: " << settings.error().message << "\n", 2;
    auto engine = server::Engine::create(settings.value());
    if (!engine) return std::cerr << "pyexecd: " << engine.error().message << "\n", 1;
    engine.value()->startWarm(-1, 60000);
    Samples cols(kCols);
    bool ok = sample(*engine.value(), static_cast<int>(n), &cols);
    std::string mode = engine.value()->currentMode();
    engine.value()->shutdown();
    if (!ok) return 1;
    print(cols, static_cast<int>(n), mode, json);
    return 0;
}

}  // namespace pyexec::cli
