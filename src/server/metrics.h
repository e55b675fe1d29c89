// Prometheus metrics of one pyexecd (SPEC §6.1). The counters and histograms
// live in the shared table (shared_state.h): every worker adds what its
// requests did, the master adds worker restarts, all with relaxed atomic
// adds on one MAP_SHARED mapping, so the sum over all workers is simply
// what the table holds. GET /metrics renders the text exposition format
// (0.0.4) from it without running anything, in the metrics responder (a
// process of its own on a listener of its own, which never runs a sandbox
// and so is never busy; worker.cc), or in a worker when /metrics reaches the
// main socket.
#pragma once

#include <atomic>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

namespace pyexec::server {

// Histogram buckets (upper bounds, seconds) shared by every histogram: from
// a warm run's milliseconds to the longest timeoutMs; +Inf is the last.
inline constexpr double kBucketSeconds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,    1,     2.5,  5,     10};
inline constexpr int kBuckets = sizeof kBucketSeconds / sizeof kBucketSeconds[0] + 1;

struct Histogram {
    std::atomic<uint64_t> counts[kBuckets];  // per bucket, not cumulative; [kBuckets - 1]: +Inf
    std::atomic<uint64_t> sumMicros;
    void observe(double ms);
};

// The label values each counter is kept for, in render order.
inline constexpr std::string_view kRunStatuses[] = {"ok", "error", "syntax_error", "timeout",
                                                    "memory_limit", "output_limit", "killed"};
inline constexpr std::string_view kPaths[] = {"/run", "/health", "/metrics", "other"};
// Sandbox set-up steps: the init's (sandbox::Step, child_report.h), then
// the worker's own (runner.cc: pipes, the clone, an init that died or took
// too long, the warm zygote).
inline constexpr std::string_view kSetupSteps[] = {"cgroup", "namespaces", "filesystem", "identity", "capabilities",
                                                   "rlimits", "seccomp", "fork", "exec", "pipes", "clone",
                                                   "init", "zygote", "unknown"};
inline constexpr std::string_view kRestartReasons[] = {"exit", "signal", "watchdog"};

struct MetricsTable {
    std::atomic<uint64_t> runs[std::size(kRunStatuses)];
    std::atomic<uint64_t> answers[std::size(kPaths)][600];  // by HTTP status
    Histogram runSeconds;                    // the program's wall time (executionTimeMs)
    Histogram requestSeconds[std::size(kPaths)];  // accept to answer sent, in pyexecd
    Histogram queueSeconds;                  // nginx's receipt to a worker's accept
    std::atomic<uint64_t> setupFailures[std::size(kSetupSteps)];
    std::atomic<uint64_t> workerRestarts[std::size(kRestartReasons)];
    std::atomic<uint64_t> zygoteRestarts;
    std::atomic<int64_t> startedUnixMs;      // the master's start: counters begin there
    // pyexec_build_info's labels, once a /health probe has read the versions.
    struct {
        std::atomic<uint32_t> seq;           // odd while being written (a seqlock)
        std::atomic<int> writer;             // 1 while a process writes
        std::atomic<char> text[512];
    } buildInfo;
};

// Index of a label value in its list, or -1.
int runStatusIndex(std::string_view status);
int pathIndex(std::string_view path);         // "other" for any path not listed
int setupStepIndex(std::string_view step);    // "unknown" for any step not listed

// Counting, from any process that maps the table.
void countAnswer(MetricsTable& m, std::string_view path, int httpStatus);  // requestSeconds: by the caller
void countRun(MetricsTable& m, std::string_view status, double wallMs);
void countSetupFailure(MetricsTable& m, std::string_view step);

// The versions /health reports, as pyexec_build_info's labels. Skipped when
// another process is writing them at the same moment (the same text).
struct BuildVersions {
    std::string version, schemaVersion, python, numpy, pandas;
};
void publishBuildInfo(MetricsTable& m, const BuildVersions& v);

// The exposition (text format 0.0.4) of everything in the table, with the
// worker gauges given.
std::string renderMetrics(const MetricsTable& m, int workersTotal, int workersBusy);

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace pyexec::server
