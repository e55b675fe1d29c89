#include "server/settings.h"

#include <algorithm>

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "http/peers.h"
#include "server/shared_state.h"

namespace pyexec::server {
namespace {

using Setter = std::function<bool(Settings&, const std::string&)>;

template <class T>
bool parseNumber(const std::string& text, T min, T max, T* out) {
    if (text.empty()) return false;
    char* end = nullptr;
    errno = 0;
    long double v = std::strtold(text.c_str(), &end);
    if (errno != 0 || *end != '\0' || v < static_cast<long double>(min) || v > static_cast<long double>(max))
        return false;
    *out = static_cast<T>(v);
    return true;
}

struct Option {
    const char* help;
    Setter set;
};

template <class T>
Setter number(T Settings::*field, T min, T max) {
    return [=](Settings& s, const std::string& v) { return parseNumber(v, min, max, &(s.*field)); };
}

Setter flag(bool Settings::*field) {
    return [=](Settings& s, const std::string& v) {
        if (v == "yes" || v == "true" || v == "1") return (s.*field = true, true);
        if (v == "no" || v == "false" || v == "0") return (s.*field = false, true);
        return false;
    };
}

Setter text(std::string Settings::*field) {
    return [=](Settings& s, const std::string& v) { return (s.*field = v, !v.empty()); };
}

// Built before main() (not on first use), so it is never mistaken for a
// leak by a test's allocation checks.
const std::map<std::string, Option> kOptions = {
        {"listen", {"PATH|HOST:PORT  FastCGI socket (default /run/pyexecd/pyexecd.sock)", text(&Settings::listen)}},
        {"metrics-listen", {"PATH|HOST:PORT|none  FastCGI socket for GET /metrics alone, answered by a\n"
                            "      process that never runs a sandbox (default: pyexecd-metrics.sock beside a\n"
                            "      unix --listen socket; none for TCP)", text(&Settings::metricsListen)}},
        {"allow-from", {"LIST  FastCGI over TCP: the peers served, addresses or CIDR blocks\n"
                        "      (e.g. \"10.0.0.5, fd00::/8\"; default: loopback only)", text(&Settings::allowFrom)}},
        {"read-timeout-ms", {"N  a request's FastCGI head and body must arrive within N ms (default 10000)", number(&Settings::readTimeoutMs, 100, 600000)}},
        {"socket-group", {"GROUP  group that may connect to the unix socket (nginx's)", text(&Settings::socketGroup)}},
        {"workers", {"N  worker processes (default 2 x cores, at most 256)", number(&Settings::workers, 1, kMaxWorkers)}},
        {"python", {"PATH  interpreter (default /usr/bin/python3)", text(&Settings::python)}},
        {"seccomp-profile", {"FILE  OCI/Docker seccomp profile (default: python.json beside the binary, in\n"
                             "      ../seccomp-profiles/ or ../share/pyexec/seccomp-profiles/)", text(&Settings::seccompProfile)}},
        {"state-dir", {"DIR  runtime folder (default /run/pyexecd)", text(&Settings::stateDir)}},
        {"timeout-ms", {"N  default wall-clock limit per run (default 2000)", number(&Settings::timeoutMs, 1, 600000)}},
        {"max-timeout-ms", {"N  largest timeoutMs a request may ask (default 10000)", number(&Settings::maxTimeoutMs, 1, 600000)}},
        {"cpus", {"X  CPU share of a run (default 0.5)", number(&Settings::cpus, 0.01, 64.0)}},
        {"memory-bytes", {"N  memory limit of a run (default 268435456)", number<uint64_t>(&Settings::memoryBytes, 16ull << 20, 1ull << 40)}},
        {"pids-max", {"N  processes per run (default 50)", number(&Settings::pidsMax, 4, 100000)}},
        {"tmp-bytes", {"N  size of a run's /tmp (default 67108864)", number<uint64_t>(&Settings::tmpBytes, 1ull << 20, 1ull << 34)}},
        {"io-read-bps", {"N  disk reads per run, bytes/s (default 104857600; 0: no limit)", number<uint64_t>(&Settings::ioReadBps, 0, 1ull << 50)}},
        {"io-read-iops", {"N  disk reads per run, requests/s (default 2000; 0: no limit)", number<uint64_t>(&Settings::ioReadIops, 0, 1ull << 40)}},
        {"io-write-bps", {"N  disk writes per run, bytes/s (default 16777216; 0: no limit)", number<uint64_t>(&Settings::ioWriteBps, 0, 1ull << 50)}},
        {"io-write-iops", {"N  disk writes per run, requests/s (default 500; 0: no limit)", number<uint64_t>(&Settings::ioWriteIops, 0, 1ull << 40)}},
        {"uid", {"N  first sandbox uid: worker slot i runs its programs as N + i (default 60000)", number(&Settings::uid, 1u, 4294967294u)}},
        {"gid", {"N  first sandbox gid: worker slot i uses N + i (default 60000)", number(&Settings::gid, 1u, 4294967294u)}},
        {"allow-host-uids", {"yes|no  start even if a sandbox uid or gid belongs to a host user or group\n"
                             "      (default no: that user's processes could signal or trace the runs)", flag(&Settings::allowHostUids)}},
        {"queue-timeout-ms", {"N  wait for a free worker before 503 overloaded (default 5000; 0: off)", number(&Settings::queueTimeoutMs, 0, 600000)}},
        {"watchdog-ms", {"N  replace a worker whose heartbeat is older than N ms (default 30000)", number(&Settings::watchdogMs, 2000, 3600000)}},
        {"grace-ms", {"N  shutdown grace for in-flight runs (default 15000)", number(&Settings::graceMs, 0, 600000)}},
        {"cgroup", {"v1|v2  force a cgroup backend (default: detect)", text(&Settings::cgroupBackend)}},
        {"mode", {"warm|cold  warm: runs fork a per-worker interpreter that has numpy and pandas\n"
                  "      imported (default); cold: every run starts /usr/bin/python3", text(&Settings::mode)}},
        {"images", {"split|full  warm mode: programs that import only the standard library fork a\n"
                    "      lean interpreter, pytest exercises of the standard library the lean one\n"
                    "      with pytest, the rest the full one (default split); full: every run\n"
                    "      forks the full one", text(&Settings::images)}},
        {"netns", {"per-worker|per-run|shared  one empty network namespace per worker, whose runs never\n"
                   "      overlap (default); a new one per run; or one for all runs (refused unless the\n"
                   "      profile stops AF_UNIX rendezvous)", text(&Settings::netns)}},
        {"config", {"FILE  read options from FILE (\"name = value\" lines)", text(&Settings::configFile)}},
};

const std::map<std::string, Option>& options() { return kOptions; }

Status apply(Settings& s, const std::string& name, const std::string& value) {
    auto it = options().find(name);
    if (it == options().end()) {
        return makeError(ErrorKind::kConfig, "unknown option --" + name + " (see pyexecd --help)", name);
    }
    if (!it->second.set(s, value)) {
        return makeError(ErrorKind::kConfig, "bad value '" + value + "' for --" + name + ": " + it->second.help, name);
    }
    return okStatus();
}

Status readConfigFile(Settings& s, const std::string& path) {
    std::ifstream in(path);
    if (!in) return makeError(ErrorKind::kConfig, "cannot read config file " + path, "config");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        line = line.substr(0, line.find('#'));
        auto eq = line.find('=');
        auto trim = [](std::string t) {
            t.erase(0, t.find_first_not_of(" \t"));
            t.erase(t.find_last_not_of(" \t\r") + 1);
            return t;
        };
        if (trim(line).empty()) continue;
        if (eq == std::string::npos) {
            return makeError(ErrorKind::kConfig, path + ":" + std::to_string(n) + ": expected 'name = value'", "config");
        }
        if (Status st = apply(s, trim(line.substr(0, eq)), trim(line.substr(eq + 1))); !st) return st.error();
    }
    return okStatus();
}

}  // namespace

std::string defaultProfilePath() {
    char exe[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    std::string dir = n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string();
    dir = dir.substr(0, dir.rfind('/'));
    for (const std::string& candidate : {dir + "/../seccomp-profiles/python.json",
                                         dir + "/../share/pyexec/seccomp-profiles/python.json",
                                         std::string("/usr/share/pyexec/seccomp-profiles/python.json")}) {
        if (::access(candidate.c_str(), R_OK) == 0) return candidate;
    }
    return "seccomp-profiles/python.json";
}

Result<Settings> parseSettings(const std::vector<std::string>& args) {
    Settings s;
    std::vector<std::pair<std::string, std::string>> given;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string a = args[i];
        if (a.rfind("--", 0) != 0) return makeError(ErrorKind::kConfig, "unexpected argument '" + a + "'");
        a = a.substr(2);
        std::string value;
        if (auto eq = a.find('='); eq != std::string::npos) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            return makeError(ErrorKind::kConfig, "option --" + a + " needs a value", a);
        }
        given.emplace_back(a, value);
    }
    // The config file first, so that command-line options win.
    for (auto& [k, v] : given)
        if (k == "config") {
            s.configFile = v;
            if (Status st = readConfigFile(s, v); !st) return st.error();
        }
    for (auto& [k, v] : given)
        if (Status st = apply(s, k, v); !st) return st.error();
    if (s.seccompProfile.empty()) s.seccompProfile = defaultProfilePath();
    if (s.metricsListen.empty()) s.metricsListen = defaultMetricsListen(s.listen);
    if (s.metricsListen == s.listen) {
        return makeError(ErrorKind::kConfig, "--metrics-listen must differ from --listen", "metrics-listen");
    }
    // 2 x cores, within the slots of the shared table.
    if (s.workers == 0) s.workers = std::clamp(2 * static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)), 1, kMaxWorkers);
    if (static_cast<uint64_t>(s.uid) + static_cast<uint64_t>(s.workers) > 4294967295ull ||
        static_cast<uint64_t>(s.gid) + static_cast<uint64_t>(s.workers) > 4294967295ull) {
        return makeError(ErrorKind::kConfig, "--uid/--gid + --workers must stay below 4294967295", "uid");
    }
    if (auto peers = http::PeerList::parse(s.allowFrom); !peers) return peers.error();
    if (s.timeoutMs > s.maxTimeoutMs) {
        return makeError(ErrorKind::kConfig, "--timeout-ms must not exceed --max-timeout-ms", "timeout-ms");
    }
    if (s.images != "split" && s.images != "full") {
        return makeError(ErrorKind::kConfig, "--images must be split or full", "images");
    }
    if (s.mode != "warm" && s.mode != "cold") {
        return makeError(ErrorKind::kConfig, "--mode must be warm or cold", "mode");
    }
    if (s.netns != "shared" && s.netns != "per-run" && s.netns != "per-worker") {
        return makeError(ErrorKind::kConfig, "--netns must be per-worker, per-run or shared", "netns");
    }
    if (!s.cgroupBackend.empty() && s.cgroupBackend != "v1" && s.cgroupBackend != "v2") {
        return makeError(ErrorKind::kConfig, "--cgroup must be v1 or v2", "cgroup");
    }
    return s;
}

std::string defaultMetricsListen(const std::string& listen) {
    if (listen.find('/') == std::string::npos) return "none";
    std::string base = listen;
    if (base.size() > 5 && base.compare(base.size() - 5, 5, ".sock") == 0) base.resize(base.size() - 5);
    return base + "-metrics.sock";
}

std::string settingsHelp() {
    std::ostringstream out;
    for (auto& [name, opt] : options()) out << "  --" << name << " " << opt.help << "\n";
    return out.str();
}

}  // namespace pyexec::server
