// Metrics: counting into the shared table and the text exposition rendered
// from it (promtool and a real Prometheus check the format end to end, in
// tests/e2e/test_metrics.py).
#include <CppUTest/TestHarness.h>

#include <memory>
#include <string>

#include "server/metrics.h"
#include "server/settings.h"

using namespace pyexec::server;

namespace {

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

}  // namespace

TEST_GROUP(Metrics) {
    std::unique_ptr<MetricsTable> m;
    void setup() override { m = std::make_unique<MetricsTable>(); }
};

TEST(Metrics, RunsAndAnswersAreCountedByLabel) {
    countRun(*m, "ok", 3);
    countRun(*m, "ok", 4);
    countRun(*m, "timeout", 2000);
    countAnswer(*m, "/run", 200);
    countAnswer(*m, "/run", 503);
    countAnswer(*m, "/nowhere", 404);
    countAnswer(*m, "/run", 418);  // a status outside the usual list still shows once seen
    std::string text = renderMetrics(*m, 4, 1);
    CHECK(has(text, "pyexec_runs_total{status=\"ok\"} 2"));
    CHECK(has(text, "pyexec_runs_total{status=\"timeout\"} 1"));
    CHECK(has(text, "pyexec_runs_total{status=\"killed\"} 0"));
    CHECK(has(text, "pyexec_http_responses_total{path=\"/run\",code=\"200\"} 1"));
    CHECK(has(text, "pyexec_http_responses_total{path=\"/run\",code=\"503\"} 1"));
    CHECK(has(text, "pyexec_http_responses_total{path=\"other\",code=\"404\"} 1"));
    CHECK(has(text, "pyexec_http_responses_total{path=\"/run\",code=\"418\"} 1"));
    CHECK(!has(text, "pyexec_http_responses_total{path=\"/health\",code=\"418\"} 0"));
    CHECK(has(text, "pyexec_workers 4"));
    CHECK(has(text, "pyexec_workers_busy 1"));
}

TEST(Metrics, HistogramsAreCumulativeWithExactSums) {
    m->runSeconds.observe(0.5);     // <= 1 ms
    m->runSeconds.observe(1.0);     // <= 1 ms: bounds are inclusive
    m->runSeconds.observe(7.25);    // <= 10 ms
    m->runSeconds.observe(60000);   // +Inf only
    std::string text = renderMetrics(*m, 1, 0);
    CHECK(has(text, "pyexec_run_duration_seconds_bucket{le=\"0.001\"} 2"));
    CHECK(has(text, "pyexec_run_duration_seconds_bucket{le=\"0.005\"} 2"));
    CHECK(has(text, "pyexec_run_duration_seconds_bucket{le=\"0.01\"} 3"));
    CHECK(has(text, "pyexec_run_duration_seconds_bucket{le=\"10\"} 3"));
    CHECK(has(text, "pyexec_run_duration_seconds_bucket{le=\"+Inf\"} 4"));
    CHECK(has(text, "pyexec_run_duration_seconds_count 4"));
    CHECK(has(text, "pyexec_run_duration_seconds_sum 60.008750"));
    CHECK(has(text, "pyexec_request_duration_seconds_bucket{path=\"/health\",le=\"+Inf\"} 0"));
}

TEST(Metrics, SetupFailuresKnowEveryStepAndKeepStrangersApart) {
    countSetupFailure(*m, "filesystem");
    countSetupFailure(*m, "zygote");
    countSetupFailure(*m, "no such step");
    std::string text = renderMetrics(*m, 1, 0);
    CHECK(has(text, "pyexec_sandbox_setup_failures_total{step=\"filesystem\"} 1"));
    CHECK(has(text, "pyexec_sandbox_setup_failures_total{step=\"zygote\"} 1"));
    CHECK(has(text, "pyexec_sandbox_setup_failures_total{step=\"unknown\"} 1"));
    CHECK(has(text, "pyexec_sandbox_setup_failures_total{step=\"seccomp\"} 0"));
}

TEST(Metrics, BuildInfoAppearsOncePublishedWithEscapedLabels) {
    CHECK(renderMetrics(*m, 1, 0).find("pyexec_build_info") == std::string::npos);
    publishBuildInfo(*m, {"1.0.0", "2026-02-07", "3.11.2", "1.24.\"2\"", "1.5.3\\x\n"});
    std::string text = renderMetrics(*m, 1, 0);
    CHECK(has(text, "pyexec_build_info{version=\"1.0.0\",schema_version=\"2026-02-07\",python=\"3.11.2\","
                    "numpy=\"1.24.\\\"2\\\"\",pandas=\"1.5.3\\\\x\\n\"} 1"));
    publishBuildInfo(*m, {"1.0.0", "2026-02-07", "3.11.4", "1.24.2", "1.5.3"});
    CHECK(has(renderMetrics(*m, 1, 0),
              "pyexec_build_info{version=\"1.0.0\",schema_version=\"2026-02-07\",python=\"3.11.4\","
              "numpy=\"1.24.2\",pandas=\"1.5.3\"} 1"));
}

TEST(Metrics, EveryFamilyHasHelpAndType) {
    publishBuildInfo(*m, {"1", "2", "3", "4", "5"});
    std::string text = renderMetrics(*m, 1, 0);
    for (const char* name : {"pyexec_runs_total", "pyexec_http_responses_total", "pyexec_run_duration_seconds",
                             "pyexec_request_duration_seconds", "pyexec_queue_wait_seconds",
                             "pyexec_sandbox_setup_failures_total", "pyexec_workers", "pyexec_workers_busy",
                             "pyexec_worker_restarts_total", "pyexec_zygote_restarts_total",
                             "pyexec_start_time_seconds", "pyexec_build_info"}) {
        CHECK_TEXT(text.find(std::string("# HELP ") + name + " ") != std::string::npos, name);
        CHECK_TEXT(text.find(std::string("# TYPE ") + name + " ") != std::string::npos, name);
    }
}

TEST(Metrics, MetricsSocketDefaultsBesideAUnixSocketOnly) {
    STRCMP_EQUAL("/run/pyexecd/pyexecd-metrics.sock", defaultMetricsListen("/run/pyexecd/pyexecd.sock").c_str());
    STRCMP_EQUAL("/tmp/x-metrics.sock", defaultMetricsListen("/tmp/x").c_str());
    STRCMP_EQUAL("none", defaultMetricsListen("127.0.0.1:9000").c_str());
    auto s = parseSettings({"--listen", "127.0.0.1:9000", "--metrics-listen", "127.0.0.1:9000"});
    CHECK_FALSE(s.ok());
    auto t = parseSettings({"--listen", "127.0.0.1:9000", "--metrics-listen", "127.0.0.1:9001"});
    CHECK(t.ok());
    STRCMP_EQUAL("127.0.0.1:9001", t.value().metricsListen.c_str());
}
