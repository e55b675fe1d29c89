#include "server/engine.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/image_choice.h"
#include "protocol/observations.h"
#include "runner/warm_image.h"
#include "runner/zygote.h"
#include "sandbox/block_devices.h"
#include "sandbox/netns.h"

namespace pyexec::server {
namespace {

Status makeDirs(const std::string& path) {
    for (size_t pos = 1; pos <= path.size(); ++pos) {
        if (pos != path.size() && path[pos] != '/') continue;
        std::string part = path.substr(0, pos);
        if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
            return makeError(ErrorKind::kSandboxUnavailable, "mkdir " + part + ": " + std::strerror(errno));
        }
    }
    return okStatus();
}

// The probe: imports numpy, pandas, matplotlib (with the Agg backend, for
// plots saved as files) and pytest, builds an array and a DataFrame, and
// prints the versions it read (never hard-coded).
constexpr const char* kProbe =
    "import json, sys, numpy, pandas, matplotlib, pytest\n"
    "a = numpy.arange(6).reshape(2, 3)\n"
    "df = pandas.DataFrame(a, columns=['x', 'y', 'z'])\n"
    "assert int(df['z'].sum()) == 7 and int(a.sum()) == 15\n"
    "assert matplotlib.get_backend().lower() == 'agg', matplotlib.get_backend()\n"
    "print(json.dumps({'python': sys.version.split()[0], 'numpy': numpy.__version__,"
    " 'pandas': pandas.__version__, 'matplotlib': matplotlib.__version__, 'pytest': pytest.__version__}))\n";

constexpr int kProbeTimeoutMs = 10000;

// Every sandbox uid and gid (one per worker slot) must be nobody's on the
// host: a host user's processes could signal or trace the programs, and
// would share their per-user kernel quotas. Refused unless allowHostUids.
Status checkSandboxIds(const Settings& s) {
    for (unsigned i = 0; i < static_cast<unsigned>(s.workers); ++i) {
        std::string clash;
        if (const passwd* pw = ::getpwuid(s.uid + i); pw != nullptr) {
            clash = "uid " + std::to_string(s.uid + i) + " is host user '" + pw->pw_name + "'";
        } else if (const group* gr = ::getgrgid(s.gid + i); gr != nullptr) {
            clash = "gid " + std::to_string(s.gid + i) + " is host group '" + gr->gr_name + "'";
        }
        if (clash.empty()) continue;
        std::string range = std::to_string(s.uid) + "-" + std::to_string(s.uid + s.workers - 1);
        if (!s.allowHostUids) {
            return makeError(ErrorKind::kConfig, "sandbox " + clash + " (sandbox uids " + range +
                             "); choose unused ids with --uid/--gid, or --allow-host-uids yes", "uid");
        }
        log::warn("sandbox " + clash + "; allowed by --allow-host-uids");
    }
    return okStatus();
}

}  // namespace

Engine::Engine(const Settings& settings) : settings_(settings) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::create(const Settings& settings, Engine* previous) {
    std::unique_ptr<Engine> e(new Engine(settings));
    auto profile = sandbox::SeccompProgram::loadFile(settings.seccompProfile);
    if (!profile) return profile.error();
    e->seccomp_ = std::move(profile.value());
    for (const std::string& note : e->seccomp_.notes()) log::warn("seccomp profile: " + note);
    auto& c = e->config_;
    c.uid = settings.uid;
    c.gid = settings.gid;
    c.python = settings.python;
    c.rootMountPoint = settings.stateDir + "/root";
    if (Status s = makeDirs(c.rootMountPoint); !s) return s.error();
    c.tmpBytes = settings.tmpBytes;
    c.cgroup.cpuPeriodUs = 100000;
    c.cgroup.cpuQuotaUs = static_cast<uint64_t>(std::llround(settings.cpus * 100000));
    c.cgroup.memoryBytes = settings.memoryBytes;
    c.cgroup.pidsMax = static_cast<uint64_t>(settings.pidsMax);
    c.cgroup.io = sandbox::IoLimits{sandbox::disksBacking({"/usr", "/etc", "/lib", "/lib64", "/bin", settings.python}),
                                    settings.ioReadBps, settings.ioWriteBps, settings.ioReadIops,
                                    settings.ioWriteIops};
    c.seccomp = &e->seccomp_;
    if (Status s = e->setUpNetwork(); !s) return s.error();
    if (settings.mode == "warm") {
        auto copy = runner::sealedCopyOfSelf();
        if (!copy) return copy.error();
        e->selfCopy_ = std::move(copy.value());
        if (previous == nullptr) {
            int left = runner::removeLeftZygoteFolders();
            if (left > 0) {
                log::info("removed " + std::to_string(left) +
                          " zygote folders left in /tmp by workers killed while their zygote started");
            }
        }
    }
    if (Status s = checkSandboxIds(settings); !s) return s.error();
    if (previous != nullptr) {
        e->cgroups_ = std::move(previous->cgroups_);
    } else {
        sandbox::CgroupOptions opts;
        opts.forceBackend = settings.cgroupBackend;
        auto cg = sandbox::CgroupManager::create(opts);
        if (!cg) return cg.error();
        e->cgroups_ = std::move(cg.value());
    }
    if (e->config_.cgroup.io.any() && !e->cgroups_->ioControl()) {
        log::warn(std::string("disk I/O of runs is not limited: no ") +
                  (e->cgroups_->backendName() == "v2" ? "io controller delegated" : "blkio hierarchy mounted"));
    }
    runner::RunnerLimits limits;
    // One byte past what the harness can write: a longer stream is cut there
    // and counts as tampered (observations.h).
    limits.observationBytes = protocol::kMaxResultStreamBytes + 1;
    limits.cpuSeconds = settings.maxTimeoutMs / 1000 + 2;  // prepared before the request's timeout is known
    e->runner_ = std::make_unique<runner::Runner>(e->config_, *e->cgroups_, limits);
    return e;
}

// A shared empty network namespace is only safe when runs cannot meet in it;
// the probe decides, and a profile that allows AF_UNIX rendezvous gets a new
// namespace per run instead (never less isolation than asked for).
Status Engine::setUpNetwork() {
    netnsMode_ = settings_.netns;
    if (netnsMode_ == "shared" && !sandbox::blocksUnixRendezvous(seccomp_)) {
        log::warn("seccomp profile " + std::string(seccomp_.name()) +
                  " lets AF_UNIX sockets get a name another run could reach: using a network namespace per run");
        netnsMode_ = "per-run";
    }
    if (netnsMode_ == "shared") {
        auto ns = sandbox::createEmptyNetns();
        if (!ns) return ns.error();
        sharedNetns_ = std::move(ns.value());
        config_.sharedNetnsFd = sharedNetns_.get();
    }
    return okStatus();
}

protocol::RequestLimits Engine::requestLimits() const {
    protocol::RequestLimits l;
    l.defaultTimeoutMs = settings_.timeoutMs;
    l.maxTimeoutMs = settings_.maxTimeoutMs;
    return l;
}

Result<protocol::RunOutcome> Engine::run(const protocol::RunRequest& request, protocol::RecordStream* records) {
    restartBrokenZygote();
    protocol::RecordStream local(request);
    if (records == nullptr) records = &local;
    protocol::Image image = settings_.images == "split" ? protocol::imageFor(request) : protocol::Image::kFull;
    // This run forks the full image; the next ones, the pytest image.
    WarmImage& pytest = warm_[2];
    if (image == protocol::Image::kPytest && settings_.mode == "warm" && !pytest.zygote && pytest.startedMs == 0) {
        startZygote(pytest);
    }
    runner::RunSpec spec{protocol::buildHarnessInput(request), request.stdinData, request.timeoutMs,
                         [records](std::string_view ndjson) { return records->exitCode(ndjson); }, image,
                         std::any_of(request.tests.begin(), request.tests.end(), [](const protocol::TestSpec& t) {
                             return t.type == protocol::TestType::kPytest;
                         })};
    auto outcome = runner_->run(spec);
    if (!outcome && outcome.error().kind == ErrorKind::kSandboxUnavailable) {
        cachedAtMs_ = -1e18;  // /health must not report healthy from its cache now
    }
    return outcome;
}

void Engine::afterRequest() {
    restartBrokenZygote();
    runner_->afterRun();
}

const char* Engine::lastSandbox() const {
    if (runner_->lastRunWarm()) {
        if (runner_->lastRunImage() == protocol::Image::kLean) {
            return runner_->lastRunPrepared() ? "warm lean, prepared" : "warm lean, set up on request";
        }
        if (runner_->lastRunImage() == protocol::Image::kPytest) {
            return runner_->lastRunPrepared() ? "warm pytest, prepared" : "warm pytest, set up on request";
        }
        if (runner_->lastRunPytestAhead()) {
            return runner_->lastRunPrepared() ? "warm full with pytest's pages, prepared"
                                              : "warm full with pytest's pages, set up on request";
        }
        return runner_->lastRunPrepared() ? "warm full, prepared" : "warm full, set up on request";
    }
    return runner_->lastRunPrepared() ? "cold, prepared" : "cold, set up on request";
}

protocol::HealthInfo Engine::health(int workersTotal, int workersBusy) {
    double now = clock::monotonicMs();
    if (now - cachedAtMs_ > 2000) {
        protocol::HealthInfo h;
        protocol::RunRequest probe;
        probe.code = kProbe;
        probe.timeoutMs = kProbeTimeoutMs;
        auto out = run(probe);
        if (!out) {
            h.checks.emplace_back("sandbox", out.error().message);
        } else if (out.value().exitCode != 0) {
            h.checks.emplace_back("python", "probe run failed: " + out.value().err.substr(0, 500));
        } else if (!protocol::parseHealthProbe(out.value().out, &h.versions)) {
            h.checks.emplace_back("packages", "probe printed no versions");
        } else {
            h.healthCheckMs = out.value().wallMs;
        }
        h.healthy = h.checks.empty();
        cachedHealth_ = h;
        cachedAtMs_ = now;
    }
    protocol::HealthInfo h = cachedHealth_;
    h.version = kVersion;
    h.schemaVersion = kSchemaVersion;
    h.pythonExecutable = settings_.python;
    h.sandboxMode = currentMode();
    h.cgroup = std::string(cgroups_->backendName());
    h.seccompProfile = std::string(seccomp_.name());
    h.uid = settings_.uid;
    h.gid = settings_.gid;
    h.idCount = static_cast<unsigned>(settings_.workers);
    h.network = netnsMode_;
    h.tmpBytes = settings_.tmpBytes;
    h.ioLimited = config_.cgroup.io.any() && cgroups_->ioControl();
    h.ioReadBps = settings_.ioReadBps;
    h.ioReadIops = settings_.ioReadIops;
    h.ioWriteBps = settings_.ioWriteBps;
    h.ioWriteIops = settings_.ioWriteIops;
    h.timeoutMs = settings_.timeoutMs;
    h.maxTimeoutMs = settings_.maxTimeoutMs;
    h.cpus = settings_.cpus;
    h.memoryBytes = settings_.memoryBytes;
    h.pidsMax = settings_.pidsMax;
    h.workersTotal = workersTotal;
    h.workersBusy = workersBusy;
    return h;
}

void Engine::startWarm(int closeFd, int waitMs) {
    if (settings_.mode != "warm") return;
    warmCloseFd_ = closeFd;
    startZygote(full());
    if (settings_.images == "split") startZygote(warm_[0]);
    for (double end = clock::monotonicMs() + waitMs; clock::monotonicMs() < end && zygoteStarting();) ::usleep(10000);
}

void Engine::stopWarm() {
    for (WarmImage& w : warm_) {
        runner_->attachZygote(w.image, nullptr);
        w.zygote.reset();
    }
}

void Engine::startZygote(WarmImage& w) {
    w.startedMs = clock::monotonicMs();
    runner_->attachZygote(w.image, nullptr);
    w.zygote.reset();
    auto z = runner::Zygote::start(config_, w.image, selfCopy_.get(), warmCloseFd_);
    if (!z) {
        log::error(std::string("warm ") + runner::imageName(w.image) + " image unavailable: " + z.error().message +
                   (w.image == protocol::Image::kFull ? "; runs are cold" : "; its runs fork the full one"));
        return;
    }
    w.zygote = std::move(z.value());
    runner_->attachZygote(w.image, w.zygote.get());
}

bool Engine::zygoteStarting() {
    for (WarmImage& w : warm_) {
        if (w.zygote && !w.zygote->broken() && !w.zygote->ready()) return true;
    }
    return false;
}

// A zygote that died (or stopped answering) is replaced, at most every 5 s;
// meanwhile its runs fork the other one (lean runs, the full zygote) or are
// cold, in the same sandbox.
void Engine::restartBrokenZygote() {
    for (WarmImage& w : warm_) {
        if (w.zygote) w.zygote->ready();  // notices one that exited
        if (!w.zygote || !w.zygote->broken() || clock::monotonicMs() - w.startedMs < 5000) continue;
        log::warn(std::string("restarting the warm ") + runner::imageName(w.image) + " zygote");
        ++zygoteRestarts_;
        startZygote(w);
    }
}

std::string Engine::currentMode() { return full().zygote && full().zygote->ready() ? "warm" : "cold"; }

void Engine::useSlot(int slot) {
    config_.uid = settings_.uid + static_cast<unsigned>(slot);
    config_.gid = settings_.gid + static_cast<unsigned>(slot);
    // One empty network namespace for this worker's runs, which never
    // overlap: the next sandbox is set up only once the last one's cgroup is
    // empty, and with every process gone no socket is left (nothing else can
    // outlive them there: no address, route or netlink socket can be made).
    if (netnsMode_ == "per-worker") {
        auto ns = sandbox::createEmptyNetns();
        if (!ns) {
            log::error("per-worker network namespace: " + ns.error().message + "; a new one per run instead");
            return;
        }
        sharedNetns_ = std::move(ns.value());
        config_.sharedNetnsFd = sharedNetns_.get();
    }
}

void Engine::cleanUpAfterWorker(pid_t worker) {
    if (cgroups_) cgroups_->removeRunsOf(std::to_string(worker) + "-");
}

void Engine::shutdown() {
    if (cgroups_) cgroups_->removeSubtree();
}

}  // namespace pyexec::server
