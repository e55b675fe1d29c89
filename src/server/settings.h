// pyexecd's settings: command-line options, optionally read from a file
// (--config FILE, one "option = value" per line, the same names as the
// options without their dashes). Every limit has SPEC's default.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace pyexec::server {

struct Settings {
    std::string listen = "/run/pyexecd/pyexecd.sock";  // unix socket path or HOST:PORT
    std::string socketGroup;                            // group allowed to connect (nginx's)
    // The metrics responder's FastCGI socket (GET /metrics, never behind a
    // busy worker), or "none". Default: beside a unix --listen socket
    // ("pyexecd.sock" -> "pyexecd-metrics.sock"); none for TCP.
    std::string metricsListen;
    std::string allowFrom;        // TCP peers served (http/peers.h); empty: loopback only
    int readTimeoutMs = 10000;    // a request's FastCGI head and body must arrive within this
    int workers = 0;                                    // 0: 2 × cores
    std::string python = "/usr/bin/python3";
    std::string seccompProfile;                         // default: seccomp-profiles/python.json
    std::string stateDir = "/run/pyexecd";              // holds the empty sandbox root mount point
    int timeoutMs = 2000;                               // default per run
    int maxTimeoutMs = 10000;
    double cpus = 0.5;
    uint64_t memoryBytes = 256ull << 20;
    int pidsMax = 50;
    uint64_t tmpBytes = 64ull << 20;
    // Disk I/O of a run on the disks behind its read-only root (0: no limit).
    // A cold-cache `import pandas` reads about 35 MB in about 1,500 requests
    // (README), well inside these; a run never writes to a disk (its /tmp is
    // tmpfs, flushes are no-ops).
    uint64_t ioReadBps = 100ull << 20;
    uint64_t ioReadIops = 2000;
    uint64_t ioWriteBps = 16ull << 20;
    uint64_t ioWriteIops = 500;
    // Worker slot i runs its programs as uid + i, gid + i: no two concurrent
    // runs share a uid (per-user kernel quotas, SPEC S6). isolate's default
    // range; none of it may belong to a host user or group unless
    // allowHostUids.
    unsigned uid = 60000, gid = 60000;
    bool allowHostUids = false;
    int queueTimeoutMs = 5000;   // a request that waited longer for a worker gets 503 overloaded
    int graceMs = 15000;         // shutdown: how long in-flight runs may finish
    int watchdogMs = 30000;      // a worker silent this long (no heartbeat) is replaced
    std::string cgroupBackend;   // "", "v1", "v2" (tests)
    std::string mode = "warm";        // "warm" (fork a pre-initialised interpreter) or "cold"
    // Warm mode: "split" (a lean interpreter for programs that import only
    // the standard library, the lean one with pytest for such pytest
    // exercises, the full one otherwise) or "full" (every run
    // forks the full one). protocol/image_choice.h decides per request.
    std::string images = "split";
    std::string netns = "per-worker";  // "per-worker", "per-run" or "shared" (engine.cc)
    std::string configFile;
};

// Parses `serve` options (argv after the command). Errors are kConfig with
// the option at fault.
Result<Settings> parseSettings(const std::vector<std::string>& args);

// The help text of every option.
std::string settingsHelp();

// The default --metrics-listen for a --listen spec (see Settings).
std::string defaultMetricsListen(const std::string& listen);

// The default profile, found from the running binary's folder: a checkout's
// build/../seccomp-profiles/, then `make install`'s ../share/pyexec/
// seccomp-profiles/, then /usr/share/pyexec/; else the relative path
// seccomp-profiles/python.json (which then fails to load, saying so).
std::string defaultProfilePath();

}  // namespace pyexec::server
