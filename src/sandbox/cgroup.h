// cgroups for runs: one interface, two backends (v2, and v1 for hybrid hosts
// whose cpu/memory/pids controllers are still on v1), chosen once at start-up
// by CgroupManager::create. Callers never ask which backend they have.
//
// Layout (v2): pyexecd's own cgroup P (from /proc/self/cgroup) becomes
//   P/daemon        every process that was in P (pyexecd included) moves here,
//                   so P has no processes and may enable controllers
//   P/runs          subtree_control "+cpu +memory +pids" (and "+io" when delegated)
//   P/runs/run-<n>  one per run
// Layout (v1): for each of cpu, memory, pids (and blkio, cpuacct where
// mounted apart), under that controller's own cgroup of pyexecd:
// <mount>/<ctrl>/<own path>/pyexec-<pid>/run-<n>.
//
// The manager is created in the master before workers fork; RunCgroup objects
// are created and destroyed by workers, one per run.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pyexec::sandbox {

// Disk I/O limits of a run on each of `devices` ("MAJ:MIN", whole disks:
// block_devices.h); 0 is no limit. Reads and writes that reach a disk (the
// page cache serves most of a run's reads) beyond them are delayed.
struct IoLimits {
    std::vector<std::string> devices;
    uint64_t readBps = 0, writeBps = 0, readIops = 0, writeIops = 0;
    bool any() const { return !devices.empty() && (readBps | writeBps | readIops | writeIops) != 0; }
};

struct CgroupLimits {
    uint64_t cpuQuotaUs = 50000;     // with cpuPeriodUs: 0.5 CPU
    uint64_t cpuPeriodUs = 100000;
    uint64_t memoryBytes = 256ull << 20;
    uint64_t pidsMax = 50;
    IoLimits io;
};

struct CgroupUsage {
    double cpuMs = 0;                         // user + system of every process that was in it
    std::optional<uint64_t> memoryPeakBytes;  // empty where the kernel does not tell
    bool oomKilled = false;                   // the OOM killer fired in it
};

// One run's cgroup. The destructor kills every process still in it, waits
// until it is empty and removes it (on every path).
class RunCgroup {
public:
    virtual ~RunCgroup() = default;
    // v2: an O_DIRECTORY fd of the cgroup for clone3(CLONE_INTO_CGROUP); -1 on v1.
    virtual int dirFd() const = 0;
    // How a process gets in: it moves itself, writing "0" to each of these
    // write-only descriptors. v1: the run's `tasks` file in each hierarchy,
    // memory and pids first (a thread moving itself skips the kernel's global
    // thread-group lock, whose RCU grace period made a move by the parent,
    // writing its pid to cgroup.procs, cost about 7 ms); v2: cgroup.procs
    // (the warm program; the init is born inside with clone3, see dirFd()).
    // Nothing else puts processes into a run cgroup.
    virtual std::vector<int> joinFds() const = 0;
    // Kills every process in the cgroup (cgroup.kill on v2; SIGKILL to every
    // pid, repeated until empty, on v1) and waits until none is left.
    virtual Status killAll() = 0;
    virtual CgroupUsage usage() const = 0;
    // CPU time used in it so far, ms (usage()'s cpuMs alone).
    virtual double cpuMs() const { return usage().cpuMs; }
    // The request starts: the CPU budget of the current period is full
    // again (writing the bandwidth limit anew refills it), so that what the
    // sandbox's set-up used in its cgroup does not throttle the program.
    virtual Status refillCpuBudget() { return okStatus(); }
    // The processes in it now (host pids; empty if unreadable).
    virtual std::vector<pid_t> pids() const { return {}; }
};

struct CgroupOptions {
    std::string procSelfCgroup = "/proc/self/cgroup";  // tests point these at a fake tree
    std::string mountRoot = "/sys/fs/cgroup";
    std::string forceBackend;  // "", "v1" or "v2"
    pid_t self = 0;            // 0: getpid()
};

class CgroupManager {
public:
    virtual ~CgroupManager() = default;
    // Detects the backend and prepares pyexecd's subtree. Errors say which
    // file failed and why (kSandboxUnavailable).
    static Result<std::unique_ptr<CgroupManager>> create(const CgroupOptions& options);
    virtual std::string_view backendName() const = 0;  // "v2" or "v1"
    // Whether runs' disk I/O can be limited (v2: the io controller is
    // delegated; v1: a blkio hierarchy is mounted). Without it, IoLimits
    // are not applied (the engine warns at start-up, /health says so).
    virtual bool ioControl() const = 0;
    // Creates run-<name> with the limits. Worker process.
    virtual Result<std::unique_ptr<RunCgroup>> createRun(std::string_view name,
                                                         const CgroupLimits& limits) = 0;
    // Kills and removes every run cgroup whose name starts with `prefix`:
    // the master calls it with "<pid>-" when worker <pid> died mid-run.
    virtual void removeRunsOf(std::string_view prefix) = 0;
    // Removes pyexecd's subtree (best effort, master at shutdown).
    virtual void removeSubtree() = 0;
};

}  // namespace pyexec::sandbox
