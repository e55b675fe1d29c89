// The engine: everything a run needs, prepared once at start-up in the
// master (seccomp compiled, cgroup subtree ready, sandbox root mount point
// created) and inherited by the workers. Also used by `pyexecd run`.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "protocol/outcome.h"
#include "protocol/request.h"
#include "protocol/response.h"
#include "runner/runner.h"
#include "runner/zygote.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox_config.h"
#include "sandbox/seccomp.h"
#include "server/settings.h"

namespace pyexec::server {

inline constexpr const char* kVersion = "1.0.0";
inline constexpr const char* kSchemaVersion = "2026-02-07";

class Engine {
public:
    // Fails (kConfig / kSandboxUnavailable) with the file, field and reason
    // when the profile does not load or the cgroup subtree cannot be made.
    // With `previous` (a reload), its cgroup subtree is taken over instead of
    // being prepared again, since old workers still run in it.
    static Result<std::unique_ptr<Engine>> create(const Settings& settings, Engine* previous = nullptr);
    ~Engine();

    const Settings& settings() const { return settings_; }
    const std::string& netnsMode() const { return netnsMode_; }
    protocol::RequestLimits requestLimits() const;

    // One sandboxed run of a validated request. Worker process. `records`
    // (for the same request): where the runner's parse of the harness's
    // records is kept, so that the answer does not parse them again.
    Result<protocol::RunOutcome> run(const protocol::RunRequest& request, protocol::RecordStream* records = nullptr);
    // After the answer went out: the last run is torn down and the next
    // sandbox set up (runner.h). Worker, between requests.
    void afterRequest();
    // Worker, while idle: finishes teardowns that had to wait (runner.h).
    void idle() { runner_->idle(); }
    // Worker, while idle: true when a sandbox could be prepared now (in warm
    // mode, once the zygote has become ready); then call afterRequest().
    bool wantsPrepare() { return runner_->wantsPrepare(); }
    // Warm mode: a zygote is still importing its image.
    bool zygoteStarting();
    // How the last run was served, for the log: "warm" or "cold", and
    // whether its sandbox was set up before the request.
    const char* lastSandbox() const;  // "warm full, prepared", "cold, set up on request", ...
    const runner::SetupTiming& lastTiming() const { return runner_->lastTiming(); }
    // Where the last run that failed with kSandboxUnavailable failed (runner.h).
    const char* lastFailedStep() const { return runner_->lastFailedStep(); }
    // Warm zygotes this worker replaced (died, or stopped answering).
    int zygoteRestarts() const { return zygoteRestarts_; }

    // The /health facts, from a real sandboxed probe run; cached for 2 s.
    protocol::HealthInfo health(int workersTotal, int workersBusy);

    // Worker (or CLI), before the first request: in warm mode, starts the
    // zygote (closeFd, the FastCGI socket, is closed in it). waitMs > 0 waits
    // for it to be ready (the CLI); 0 returns at once (runs are cold until
    // then).
    void startWarm(int closeFd, int waitMs);
    // A stopping worker's zygotes go first (their private folders with them).
    void stopWarm();
    // "warm" when runs fork the zygote now, else "cold".
    std::string currentMode();

    // Worker, first thing: runs of worker slot `slot` take uid/gid base + slot
    // (settings.h), so that no two concurrent runs share a uid.
    void useSlot(int slot);

    // Kills and removes what a worker that died mid-run left behind (master).
    void cleanUpAfterWorker(pid_t worker);
    // Removes the cgroup subtree (master, at shutdown).
    void shutdown();

private:
    explicit Engine(const Settings& settings);
    Status setUpNetwork();
    Settings settings_;
    sandbox::SeccompProgram seccomp_;
    std::unique_ptr<sandbox::CgroupManager> cgroups_;
    sandbox::SandboxConfig config_;
    std::unique_ptr<runner::Runner> runner_;
    UniqueFd sharedNetns_;
    // Warm mode: the full image's zygote; with --images split the lean one,
    // and the pytest one from the worker's first pytest exercise of the
    // standard library on (most services never need it).
    struct WarmImage {
        protocol::Image image;
        std::unique_ptr<runner::Zygote> zygote;
        double startedMs = 0;
    };
    WarmImage warm_[3] = {{protocol::Image::kLean, nullptr, 0},
                          {protocol::Image::kFull, nullptr, 0},
                          {protocol::Image::kPytest, nullptr, 0}};
    WarmImage& full() { return warm_[1]; }
    UniqueFd selfCopy_;  // warm mode: pyexecd's executable, which zygotes are executed from
    int warmCloseFd_ = -1;
    int zygoteRestarts_ = 0;
    void startZygote(WarmImage& w);
    void restartBrokenZygote();
    std::string netnsMode_;  // "shared" or "per-run", as applied
    protocol::HealthInfo cachedHealth_;
    double cachedAtMs_ = -1e18;
};

}  // namespace pyexec::server
