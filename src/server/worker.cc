#include "server/worker.h"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <string>

#include "common/clock.h"
#include "common/heartbeat.h"
#include "common/log.h"
#include "http/fcgi.h"
#include "protocol/observations.h"

namespace pyexec::server {
namespace {

volatile sig_atomic_t gStop = 0;
void onTerm(int) { gStop = 1; }

constexpr size_t kMaxBody = 2 << 20;  // nginx's client_max_body_size

http::Response errorResponse(ErrorKind kind, const Error& e, const std::string& rid) {
    http::Response r;
    r.status = protocol::httpStatusOf(kind);
    r.body = protocol::buildErrorBody(e, rid);
    if (r.status == 503) r.headers.emplace_back("Retry-After", "1");
    return r;
}

http::Response simpleError(int status, const char* code, const std::string& message, const std::string& rid) {
    http::Response r;
    r.status = status;
    r.body = protocol::buildErrorBody(code, message, rid);
    return r;
}

http::Response handleRun(Engine& engine, const http::Request& req, protocol::RequestLog& log, MetricsTable& metrics) {
    if (req.method != "POST") {
        auto r = simpleError(405, "method_not_allowed", "/run accepts POST only", req.requestId);
        r.headers.emplace_back("Allow", "POST");
        return r;
    }
    if (req.bodyTooLarge) {
        return simpleError(413, "payload_too_large", "the request body is larger than 2 MiB", req.requestId);
    }
    if (req.bodyIncomplete) {
        return simpleError(400, "invalid_request", "the request body did not arrive in full within the read timeout",
                           req.requestId);
    }
    // nginx stamps the request ($msec); a wait of a minute or more is a clock
    // that disagrees with nginx's (another host), not a queue.
    int limit = engine.settings().queueTimeoutMs;
    if (limit > 0 && req.queuedMs > limit && req.queuedMs < 60000) {
        Error e = makeError(ErrorKind::kOverloaded, "every worker was busy for " +
                            std::to_string(static_cast<int>(req.queuedMs)) + " ms; retry shortly");
        return errorResponse(e.kind, e, req.requestId);
    }
    auto parsed = protocol::parseRunRequest(req.body, engine.requestLimits());
    if (!parsed) return errorResponse(parsed.error().kind, parsed.error(), req.requestId);
    protocol::RecordStream records(parsed.value());  // parsed once, by the runner or the answer
    auto outcome = engine.run(parsed.value(), &records);
    log.sandbox = engine.lastSandbox();
    if (!outcome) {
        log::error("request " + req.requestId + ": " + outcome.error().message);
        if (outcome.error().kind == ErrorKind::kSandboxUnavailable) countSetupFailure(metrics, engine.lastFailedStep());
        return errorResponse(outcome.error().kind, outcome.error(), req.requestId);
    }
    auto answer = protocol::buildRunAnswer(parsed.value(), outcome.value(), req.requestId, &records);
    log.runStatus = answer.status;
    log.wallMs = outcome.value().wallMs;
    log.cpuMs = outcome.value().cpuMs;
    log.memoryPeakBytes = outcome.value().memoryPeakBytes;
    countRun(metrics, answer.status, outcome.value().wallMs);
    http::Response r;
    r.body = std::move(answer.body);
    return r;
}

// pyexec_build_info's labels: the versions a healthy probe read. Only /health
// runs that probe (a sandboxed run, never on another request's path), so the
// metric appears with the first healthy /health (GET or HEAD).
void publishVersions(const protocol::HealthInfo& info, SharedState* shared) {
    publishBuildInfo(shared->metrics, {info.version, info.schemaVersion, info.versions.python, info.versions.numpy,
                                       info.versions.pandas});
}

http::Response handleHealth(Engine& engine, const http::Request& req, SharedState* shared) {
    if (req.method != "GET" && req.method != "HEAD") {
        auto r = simpleError(405, "method_not_allowed", "/health accepts GET and HEAD only", req.requestId);
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
    }
    auto info = engine.health(shared->total.load(), shared->busyCount());
    if (info.healthy) publishVersions(info, shared);
    http::Response r;
    r.status = info.healthy ? 200 : 503;
    r.body = protocol::buildHealthBody(info, req.requestId);
    r.omitBody = req.method == "HEAD";
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

// GET /metrics from the shared table: no sandbox, nothing to wait for.
http::Response handleMetrics(const http::Request& req, SharedState* shared) {
    if (req.method != "GET" && req.method != "HEAD") {
        auto r = simpleError(405, "method_not_allowed", "/metrics accepts GET and HEAD only", req.requestId);
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
    }
    http::Response r;
    r.body = renderMetrics(shared->metrics, shared->total.load(), shared->busyCount());
    r.omitBody = req.method == "HEAD";
    r.headers.emplace_back("Content-Type", kMetricsContentType);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

// Answers, logs and counts (metrics.h) one request. The answer is counted
// before it goes out, so a client that has it sees it in the next scrape;
// its duration, once it is out.
void finish(http::Server& server, http::Response& r, protocol::RequestLog& log, double t0, SharedState* shared) {
    r.headers.emplace_back("X-Request-Id", log.requestId);
    countAnswer(shared->metrics, log.path, r.status);
    server.respond(r);
    double ms = clock::monotonicMs() - t0;
    shared->metrics.requestSeconds[pathIndex(log.path)].observe(ms);
    log.httpStatus = r.status;
    if (log.wallMs < 0) log.wallMs = ms;
    log::line(protocol::buildLogLine(log));
}

protocol::RequestLog logOf(const http::Request& req) {
    protocol::RequestLog log;
    log.requestId = req.requestId;
    log.method = req.method;
    log.path = req.path;
    return log;
}

// The whole life of a request: route, validate, run, judge, answer, log.
void handleRequest(Engine& engine, http::Server& server, const http::Request& req, SharedState* shared) {
    double t0 = clock::monotonicMs();
    // nginx stamps the request ($msec); a wait of a minute or more is another host's clock.
    if (req.queuedMs > 0 && req.queuedMs < 60000) shared->metrics.queueSeconds.observe(req.queuedMs);
    protocol::RequestLog log = logOf(req);
    http::Response r;
    if (req.path == "/run") {
        r = handleRun(engine, req, log, shared->metrics);
    } else if (req.path == "/health") {
        r = handleHealth(engine, req, shared);
    } else if (req.path == "/metrics") {
        r = handleMetrics(req, shared);
    } else {
        r = simpleError(404, "not_found", "no such path; use POST /run or GET /health", req.requestId);
    }
    finish(server, r, log, t0, shared);
    engine.afterRequest();  // the answer is out: tear down, set up the next sandbox
}

void installSignals() {
    struct sigaction sa{};
    sa.sa_handler = onTerm;  // no SA_RESTART: a blocked accept returns at once
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
}

// Before waiting for a connection: sets up the next sandbox if there is
// none. In warm mode that waits for the zygote (a second or two after the
// worker started), unless a request comes first.
void prepareWhileIdle(Engine& engine, int listenFd) {
    while (!gStop && engine.zygoteStarting()) {
        heartbeat::beat();
        pollfd p{listenFd, POLLIN, 0};
        if (::poll(&p, 1, 20) != 0) return;  // a request (or an error accept will report)
    }
    if (!gStop && engine.wantsPrepare()) engine.afterRequest();
}

// Until the shared socket has a connection to accept, beating every second
// (the socket is non-blocking: another worker may take it first).
bool waitForConnection(int listenFd) {
    heartbeat::beat();
    pollfd p{listenFd, POLLIN, 0};
    return ::poll(&p, 1, heartbeat::kMaxWaitMs) == 1;
}

}  // namespace

SharedState* mapSharedState() {
    void* p = ::mmap(nullptr, sizeof(SharedState), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    return new (p) SharedState();
}

void workerMain(Engine& engine, int listenFd, SharedState* shared, int slot) {
    installSignals();
    heartbeat::attach(&shared->heartbeatMs[slot]);
    engine.useSlot(slot);  // before the zygote: it takes the sandbox settings once
    engine.startWarm(listenFd, 0);
    // Settings were checked at start-up, so the list parses.
    http::ServerPolicy policy{http::PeerList::parse(engine.settings().allowFrom).value(),
                              engine.settings().readTimeoutMs};
    http::Server server(listenFd, std::move(policy));
    http::Request req;
    int zygoteRestarts = 0;
    while (!gStop) {
        prepareWhileIdle(engine, listenFd);
        engine.idle();  // teardowns that had to wait
        // Counted here, between requests, where restarts happen (engine.cc).
        shared->metrics.zygoteRestarts.fetch_add(static_cast<uint64_t>(engine.zygoteRestarts() - zygoteRestarts));
        zygoteRestarts = engine.zygoteRestarts();
        if (gStop || !waitForConnection(listenFd)) continue;
        if (!server.accept(&req, kMaxBody)) continue;  // another worker took it, or it was refused
        shared->busy[slot].store(1);
        handleRequest(engine, server, req, shared);
        shared->busy[slot].store(0);
    }
    engine.stopWarm();
    ::_exit(0);
}

// The metrics responder: the only process on the metrics socket. It runs no
// sandbox, so a scrape never waits behind a run; a peer gets at most
// kMetricsReadMs to send its request head, so a stuck one cannot hold it.
void metricsMain(const Settings& settings, int listenFd, SharedState* shared, int slot) {
    ::prctl(PR_SET_NAME, "pyexec-metrics", 0, 0, 0);  // told apart from the workers in ps and by the tests
    installSignals();
    heartbeat::attach(&shared->heartbeatMs[slot]);
    constexpr int kMetricsReadMs = 2000;
    http::ServerPolicy policy{http::PeerList::parse(settings.allowFrom).value(),
                              std::min(settings.readTimeoutMs, kMetricsReadMs)};
    http::Server server(listenFd, std::move(policy));
    http::Request req;
    while (!gStop) {
        if (!waitForConnection(listenFd)) continue;
        if (!server.accept(&req, 0)) continue;  // GET: no body is read
        double t0 = clock::monotonicMs();
        // This socket serves the metrics whatever the path: nginx may publish
        // several executors' as /metrics/1, /metrics/2 (tools/nginx-conf.sh).
        req.path = "/metrics";
        protocol::RequestLog log = logOf(req);
        http::Response r = handleMetrics(req, shared);
        finish(server, r, log, t0, shared);
    }
    ::_exit(0);
}

}  // namespace pyexec::server
