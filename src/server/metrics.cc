#include "server/metrics.h"

#include <cmath>
#include <cstdio>

namespace pyexec::server {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

template <size_t N>
int indexIn(const std::string_view (&list)[N], std::string_view value) {
    for (size_t i = 0; i < N; ++i)
        if (list[i] == value) return static_cast<int>(i);
    return -1;
}

// A label value in the exposition format: backslash, quote and newline escaped.
std::string labelValue(std::string_view v) {
    std::string out;
    for (char c : v.substr(0, 128)) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string bound(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, const std::string& labels, const std::string& value) {
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    out += " " + value + "\n";
}

std::string count(const std::atomic<uint64_t>& c) { return std::to_string(c.load(kRelaxed)); }

// Microseconds (or milliseconds) as seconds, exactly: "12.000345".
std::string seconds(uint64_t units, int digits) {
    uint64_t scale = digits == 6 ? 1000000 : 1000;
    char buf[48];
    std::snprintf(buf, sizeof buf, "%llu.%0*llu", static_cast<unsigned long long>(units / scale), digits,
                  static_cast<unsigned long long>(units % scale));
    return buf;
}

// Buckets are rendered cumulative from one read of each count, and _count is
// their sum, so a scrape during an update is still a consistent histogram.
void histogram(std::string& out, const char* name, const std::string& labels, const Histogram& h) {
    std::string prefix = labels.empty() ? "" : labels + ",";
    uint64_t total = 0;
    for (int i = 0; i < kBuckets; ++i) {
        total += h.counts[i].load(kRelaxed);
        std::string le = i + 1 < kBuckets ? bound(kBucketSeconds[i]) : "+Inf";
        sample(out, std::string(name) + "_bucket", prefix + "le=\"" + le + "\"", std::to_string(total));
    }
    sample(out, std::string(name) + "_sum", labels, seconds(h.sumMicros.load(kRelaxed), 6));
    sample(out, std::string(name) + "_count", labels, std::to_string(total));
}

template <size_t N>
void counterByLabel(std::string& out, const std::string& name, const char* label, const std::string_view (&values)[N],
                    const std::atomic<uint64_t> (&counts)[N]) {
    for (size_t i = 0; i < N; ++i) {
        sample(out, name, std::string(label) + "=\"" + labelValue(values[i]) + "\"", count(counts[i]));
    }
}

// Every path with the statuses pyexecd gives (zeros included, so that rate()
// sees a series from its first increment), and any other status once seen.
void answers(std::string& out, const MetricsTable& m) {
    static constexpr int kUsual[] = {200, 400, 404, 405, 413, 500, 503};
    for (size_t p = 0; p < std::size(kPaths); ++p) {
        for (int code = 100; code < 600; ++code) {
            uint64_t n = m.answers[p][code].load(kRelaxed);
            bool usual = false;
            for (int u : kUsual) usual = usual || u == code;
            if (n == 0 && !usual) continue;
            sample(out, "pyexec_http_responses_total",
                   "path=\"" + labelValue(kPaths[p]) + "\",code=\"" + std::to_string(code) + "\"",
                   std::to_string(n));
        }
    }
}

std::string readBuildInfo(const MetricsTable& m) {
    auto& b = m.buildInfo;
    for (int attempt = 0; attempt < 100; ++attempt) {
        uint32_t before = b.seq.load(std::memory_order_acquire);
        if (before & 1) continue;
        std::string text;
        for (const auto& c : b.text) {
            char ch = c.load(kRelaxed);
            if (ch == '\0') break;
            text += ch;
        }
        std::atomic_thread_fence(std::memory_order_acquire);
        if (b.seq.load(kRelaxed) == before) return text;
    }
    return {};  // being rewritten all the time: left out of this scrape
}

}  // namespace

void Histogram::observe(double ms) {
    if (!(ms >= 0)) ms = 0;  // NaN or a clock step: counted in the first bucket
    int i = 0;
    while (i + 1 < kBuckets && ms / 1000 > kBucketSeconds[i]) ++i;
    counts[i].fetch_add(1, kRelaxed);
    sumMicros.fetch_add(static_cast<uint64_t>(std::llround(ms * 1000)), kRelaxed);
}

int runStatusIndex(std::string_view status) { return indexIn(kRunStatuses, status); }

int pathIndex(std::string_view path) {
    int i = indexIn(kPaths, path);
    return i >= 0 && path != "other" ? i : indexIn(kPaths, "other");
}

int setupStepIndex(std::string_view step) {
    int i = indexIn(kSetupSteps, step);
    return i >= 0 ? i : indexIn(kSetupSteps, "unknown");
}

void countAnswer(MetricsTable& m, std::string_view path, int httpStatus) {
    if (httpStatus >= 100 && httpStatus < 600) m.answers[pathIndex(path)][httpStatus].fetch_add(1, kRelaxed);
}

void countRun(MetricsTable& m, std::string_view status, double wallMs) {
    int i = runStatusIndex(status);
    if (i >= 0) m.runs[i].fetch_add(1, kRelaxed);
    m.runSeconds.observe(wallMs);
}

void countSetupFailure(MetricsTable& m, std::string_view step) {
    m.setupFailures[setupStepIndex(step)].fetch_add(1, kRelaxed);
}

void publishBuildInfo(MetricsTable& m, const BuildVersions& v) {
    std::string text = "version=\"" + labelValue(v.version) + "\",schema_version=\"" + labelValue(v.schemaVersion) +
                       "\",python=\"" + labelValue(v.python) + "\",numpy=\"" + labelValue(v.numpy) +
                       "\",pandas=\"" + labelValue(v.pandas) + "\"";
    auto& b = m.buildInfo;
    if (text.size() >= std::size(b.text) || readBuildInfo(m) == text) return;
    int idle = 0;
    if (!b.writer.compare_exchange_strong(idle, 1)) return;
    b.seq.fetch_add(1, std::memory_order_acq_rel);  // odd: readers retry
    for (size_t i = 0; i < std::size(b.text); ++i) b.text[i].store(i < text.size() ? text[i] : '\0', kRelaxed);
    b.seq.fetch_add(1, std::memory_order_release);
    b.writer.store(0);
}

std::string renderMetrics(const MetricsTable& m, int workersTotal, int workersBusy) {
    std::string out;
    header(out, "pyexec_runs_total", "counter", "Programs run for POST /run, by the run's status.");
    counterByLabel(out, "pyexec_runs_total", "status", kRunStatuses, m.runs);
    header(out, "pyexec_http_responses_total", "counter",
           "Answers pyexecd gave, by path and HTTP status (nginx's own answers are not counted).");
    answers(out, m);
    header(out, "pyexec_run_duration_seconds", "histogram", "Wall time of the programs run (executionTimeMs).");
    histogram(out, "pyexec_run_duration_seconds", "", m.runSeconds);
    header(out, "pyexec_request_duration_seconds", "histogram",
           "Time from a worker's accept to its answer sent, by path.");
    for (size_t p = 0; p < std::size(kPaths); ++p)
        histogram(out, "pyexec_request_duration_seconds", "path=\"" + labelValue(kPaths[p]) + "\"",
                  m.requestSeconds[p]);
    header(out, "pyexec_queue_wait_seconds", "histogram",
           "Time from nginx's receipt of a request to a worker's accept (requests nginx stamped).");
    histogram(out, "pyexec_queue_wait_seconds", "", m.queueSeconds);
    header(out, "pyexec_sandbox_setup_failures_total", "counter",
           "Runs that did not happen because a sandbox set-up step failed (503 sandbox_unavailable), by step.");
    counterByLabel(out, "pyexec_sandbox_setup_failures_total", "step", kSetupSteps, m.setupFailures);
    header(out, "pyexec_workers", "gauge", "Worker processes configured.");
    sample(out, "pyexec_workers", "", std::to_string(workersTotal));
    header(out, "pyexec_workers_busy", "gauge", "Workers handling a request now.");
    sample(out, "pyexec_workers_busy", "", std::to_string(workersBusy));
    header(out, "pyexec_worker_restarts_total", "counter",
           "Workers that died and were replaced: exited, killed by a signal, or killed by the watchdog.");
    counterByLabel(out, "pyexec_worker_restarts_total", "reason", kRestartReasons, m.workerRestarts);
    header(out, "pyexec_zygote_restarts_total", "counter", "Warm zygotes that died and were replaced.");
    sample(out, "pyexec_zygote_restarts_total", "", count(m.zygoteRestarts));
    header(out, "pyexec_start_time_seconds", "gauge", "When the pyexecd master started (Unix time).");
    sample(out, "pyexec_start_time_seconds", "", seconds(static_cast<uint64_t>(m.startedUnixMs.load(kRelaxed)), 3));
    std::string build = readBuildInfo(m);
    if (!build.empty()) {
        header(out, "pyexec_build_info", "gauge", "Versions /health reports (from its last healthy probe run); always 1.");
        sample(out, "pyexec_build_info", build, "1");
    }
    return out;
}

}  // namespace pyexec::server
