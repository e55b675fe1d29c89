#include "server/master.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "common/clock.h"
#include "common/log.h"
#include "http/fcgi.h"
#include "server/engine.h"
#include "server/worker.h"

namespace pyexec::server {
namespace {

struct WorkerSlot {
    pid_t pid = 0;          // 0: empty, waiting for (re)spawn
    double startedMs = 0;
    double respawnAtMs = 0;
    int generation = 0;
    double backoffMs = 0;
    bool killedSilent = false;  // killed by the watchdog, not reaped yet
};

class Master {
public:
    Master(std::unique_ptr<Engine> engine, UniqueFd listenFd, UniqueFd metricsFd, SharedState* shared,
           std::vector<std::string> args)
        : engine_(std::move(engine)), listen_(std::move(listenFd)), metrics_(std::move(metricsFd)), shared_(shared),
          args_(std::move(args)) {}
    int run();

private:
    void spawn(int slot);
    void reap();
    void respawnDue();
    void checkHeartbeats();
    void reload();
    void retireNext();
    void stop();
    int slotOf(pid_t pid) const;
    bool isMetricsSlot(int slot) const { return metrics_.valid() && slot == static_cast<int>(slots_.size()) - 1; }
    void countRestart(const WorkerSlot& s, int status);

    std::unique_ptr<Engine> engine_;
    UniqueFd listen_;
    UniqueFd metrics_;  // the metrics responder's socket; invalid with --metrics-listen none
    SharedState* shared_;
    std::vector<std::string> args_;
    std::vector<WorkerSlot> slots_;
    int generation_ = 0;
    bool stopping_ = false;
    pid_t retiring_ = 0;  // the old worker being replaced during a reload
};

void Master::spawn(int slot) {
    pid_t master = ::getpid();
    shared_->heartbeatMs[slot].store(static_cast<int64_t>(clock::monotonicMs()));
    pid_t pid = ::fork();
    if (pid == 0) {
        // A worker dies with its master (and its zygote and sandboxes with
        // it): a SIGKILLed master must not leave workers serving a socket
        // that a restarted master replaces, or killing their runs later.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != master) ::_exit(1);
        if (isMetricsSlot(slot)) {
            listen_.reset();  // it serves /metrics only
            metricsMain(engine_->settings(), metrics_.get(), shared_, slot);
        }
        metrics_.reset();
        workerMain(*engine_, listen_.get(), shared_, slot);
    }
    WorkerSlot& s = slots_[static_cast<size_t>(slot)];
    if (pid < 0) {
        log::error(std::string("fork worker: ") + std::strerror(errno));
        s.respawnAtMs = clock::monotonicMs() + 1000;
        return;
    }
    s.pid = pid;
    s.killedSilent = false;
    s.startedMs = clock::monotonicMs();
    s.generation = generation_;
    shared_->busy[slot].store(0);
    log::info(std::string(isMetricsSlot(slot) ? "metrics responder " : "worker ") + std::to_string(pid) +
              " started in slot " + std::to_string(slot));
}

int Master::slotOf(pid_t pid) const {
    for (size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].pid == pid) return static_cast<int>(i);
    return -1;
}

void Master::reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        int slot = slotOf(pid);
        if (slot < 0) continue;
        WorkerSlot& s = slots_[static_cast<size_t>(slot)];
        bool expected = stopping_ || pid == retiring_;
        engine_->cleanUpAfterWorker(pid);  // a run it was in the middle of, if any
        if (!expected && !isMetricsSlot(slot)) countRestart(s, status);
        if (!expected) {
            log::warn("worker " + std::to_string(pid) + " died (" +
                      (WIFSIGNALED(status) ? std::string("signal ") + strsignal(WTERMSIG(status))
                                           : "exit " + std::to_string(WEXITSTATUS(status))) + ")");
        }
        // Workers that die young are respawned ever more slowly (up to 5 s).
        bool young = clock::monotonicMs() - s.startedMs < 1000;
        s.backoffMs = (young && !expected) ? std::min(5000.0, std::max(100.0, s.backoffMs * 2)) : 0;
        s.pid = 0;
        s.respawnAtMs = clock::monotonicMs() + s.backoffMs;
        shared_->busy[slot].store(0);
        if (pid == retiring_) retiring_ = 0;
    }
}

// pyexec_worker_restarts_total, by why the worker went.
void Master::countRestart(const WorkerSlot& s, int status) {
    int reason = s.killedSilent ? 2 : WIFSIGNALED(status) ? 1 : 0;  // kRestartReasons
    shared_->metrics.workerRestarts[reason].fetch_add(1, std::memory_order_relaxed);
}

// The watchdog: a worker whose heartbeat stopped is stuck where no wait is
// bounded (or stopped by a signal). It is killed, and reap() respawns it.
void Master::checkHeartbeats() {
    double now = clock::monotonicMs();
    for (size_t i = 0; i < slots_.size(); ++i) {
        WorkerSlot& s = slots_[i];
        double last = static_cast<double>(shared_->heartbeatMs[i].load());
        if (s.pid <= 0 || s.killedSilent || now - last <= engine_->settings().watchdogMs) continue;
        log::error("worker " + std::to_string(s.pid) + " in slot " + std::to_string(i) + " has given no sign of life for " +
                   std::to_string(static_cast<int>((now - last) / 1000)) + " s; replacing it");
        ::kill(s.pid, SIGKILL);
        s.killedSilent = true;
    }
}

void Master::respawnDue() {
    if (stopping_) return;
    for (size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].pid == 0 && clock::monotonicMs() >= slots_[i].respawnAtMs) spawn(static_cast<int>(i));
    if (retiring_ == 0) retireNext();
}

// SIGHUP: a new engine from re-read settings; old-generation workers are
// replaced one at a time, so the service keeps answering throughout.
void Master::reload() {
    auto settings = parseSettings(args_);
    if (!settings) {
        log::error("reload: " + settings.error().message + "; keeping the current settings");
        return;
    }
    // The sockets and slots stay.
    settings.value().workers = shared_->total.load();
    settings.value().listen = engine_->settings().listen;
    settings.value().metricsListen = engine_->settings().metricsListen;
    auto engine = Engine::create(settings.value(), engine_.get());
    if (!engine) {
        log::error("reload: " + engine.error().message + "; keeping the current settings");
        return;
    }
    engine_ = std::move(engine.value());  // old workers keep their own copy
    ++generation_;
    log::info("reload: replacing workers one by one");
    retireNext();
}

void Master::retireNext() {
    for (auto& s : slots_) {
        if (s.pid > 0 && s.generation != generation_) {
            retiring_ = s.pid;
            ::kill(s.pid, SIGTERM);
            return;
        }
    }
}

void Master::stop() {
    stopping_ = true;
    listen_.reset();
    metrics_.reset();
    for (auto& s : slots_)
        if (s.pid > 0) ::kill(s.pid, SIGTERM);
    double deadline = clock::monotonicMs() + engine_->settings().graceMs;
    while (std::any_of(slots_.begin(), slots_.end(), [](const WorkerSlot& s) { return s.pid > 0; })) {
        if (clock::monotonicMs() > deadline) {
            for (auto& s : slots_)
                if (s.pid > 0) ::kill(s.pid, SIGKILL);
        }
        ::usleep(20000);
        reap();
    }
    for (const std::string& spec : {engine_->settings().listen, engine_->settings().metricsListen})
        if (spec.find('/') != std::string::npos) ::unlink(spec.c_str());
    engine_->shutdown();
    log::info("stopped");
}

int Master::run() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    UniqueFd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
    int workers = engine_->settings().workers;
    slots_.resize(static_cast<size_t>(workers + (metrics_.valid() ? 1 : 0)));
    shared_->total.store(workers);
    shared_->metrics.startedUnixMs.store(static_cast<int64_t>(clock::wallMs()));
    for (size_t i = 0; i < slots_.size(); ++i) spawn(static_cast<int>(i));
    log::info("listening on " + engine_->settings().listen + "; /metrics on " +
              (metrics_.valid() ? engine_->settings().metricsListen : "the workers' socket only"));
    for (;;) {
        pollfd p{sfd.get(), POLLIN, 0};
        ::poll(&p, 1, 100);
        signalfd_siginfo si{};
        while (p.revents && ::read(sfd.get(), &si, sizeof si) == sizeof si) {
            if (si.ssi_signo == SIGCHLD) reap();
            if (si.ssi_signo == SIGHUP) reload();
            if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                stop();
                return 0;
            }
            p.revents = 0;
            pollfd again{sfd.get(), POLLIN, 0};
            if (::poll(&again, 1, 0) > 0) p.revents = again.revents;
        }
        reap();
        if (!stopping_) checkHeartbeats();
        respawnDue();
    }
}

}  // namespace

int serve(const std::vector<std::string>& args) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    sigprocmask(SIG_BLOCK, &set, nullptr);  // handled through the signalfd
    signal(SIGPIPE, SIG_IGN);
    auto settings = parseSettings(args);
    if (!settings) {
        log::error(settings.error().message);
        return 2;
    }
    auto engine = Engine::create(settings.value());
    if (!engine) {
        log::error("cannot start: " + engine.error().message);
        return 1;
    }
    auto fd = http::listen(settings.value().listen, settings.value().socketGroup);
    if (!fd) {
        log::error("cannot start: " + fd.error().message);
        engine.value()->shutdown();
        return 1;
    }
    UniqueFd metricsFd;
    if (settings.value().metricsListen != "none") {
        auto m = http::listen(settings.value().metricsListen, settings.value().socketGroup);
        if (!m) {
            log::error("cannot start: " + m.error().message);
            engine.value()->shutdown();
            return 1;
        }
        metricsFd = std::move(m.value());
    }
    SharedState* shared = mapSharedState();
    if (shared == nullptr) {
        log::error("cannot map shared state");
        return 1;
    }
    Master master(std::move(engine.value()), std::move(fd.value()), std::move(metricsFd), shared, args);
    return master.run();
}

}  // namespace pyexec::server
