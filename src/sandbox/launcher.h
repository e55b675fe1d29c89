// The sandbox launcher: the one place that sets up a run's sandbox, in the
// order of SPEC §5. Theory of operation:
//
//   worker, or its zygote (root)           sandbox init (pid 1 of new pid ns)
//   ────────────────────────────           ───────────────────────────────────
//   clone3(new mount/pid/ipc/uts/net
//          namespaces[, INTO_CGROUP]) ───▶ 1 cgroup: v2, born in it; v1, moves
//   returns at once: the set-up runs         itself in ("0" to each `tasks`),
//   while the worker does other work         then a cgroup namespace of its own
//                                          2 drops every inherited descriptor
//                                          3 filesystem: new root, pivot_root
//                                          4 identity: uid/gid, no groups
//                                          5 capabilities: all sets empty, NO_NEW_PRIVS
//                                          6 rlimits
//                                          fork ─▶ program: fds 0–4, 7 seccomp (last),
//                                                  exec python harness (cold) or run it
//                                                  in the zygote's interpreter (warm);
//                                                  the harness then waits for its
//                                                  input on fd 3 (a pipe)
//                                          7 seccomp for the init too
//   reads {kReady}                    ◀─── the sandbox is complete
//   reads {kExited, wait status}      ◀─── when the program exits; the init then
//                                          exits, which kills the pid namespace
//
// Warm mode: the init is idle (Program::idle): after step 6 it applies its
// filter, reports kReady and only reaps orphans. The program is then a fork
// of the worker's zygote born in the init's pid namespace, which takes the
// same steps on itself (enterSandbox: cgroup, the init's other namespaces,
// identity, capabilities, rlimits, descriptors, seccomp last). So the
// zygote's large address space is copied once per run, for the program,
// and never for the init. The program's exit status then comes from the
// zygote, its parent, through the same report pipe.
//
// A failed step writes {kSetupFailed, step, errno} to the report pipe and
// exits: the run does not happen (fail closed). Between clone and exec the
// child allocates nothing and logs nothing.
#pragma once

#include <sys/types.h>

#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/child_report.h"
#include "sandbox/sandbox_config.h"

namespace pyexec::sandbox {

// The program's five descriptors (see src/harness/PROTOCOL.md), owned by the caller.
struct ChildIo {
    int stdinFd = -1, stdoutFd = -1, stderrFd = -1, inputFd = -1, resultFd = -1;
};

// How the program starts once its sandbox is complete: an exec of argv with
// envp (cold), or a function of the cloning process's own that never returns
// (warm: the zygote's pre-initialised interpreter runs the harness).
struct Program {
    char* const* argv = nullptr;  // NULL-terminated; must outlive spawn()
    char* const* envp = nullptr;
    void (*inProcess)() = nullptr;
    void* scrub = nullptr;        // in-process only: zeroed in the program before it runs
    size_t scrubBytes = 0;
    // The init starts no program: once complete it waits (reaping orphans)
    // for one to enter its namespaces (enterSandbox, warm mode).
    bool idle = false;
};

struct Launched {
    pid_t initPid = -1;
    UniqueFd pidfd;   // readable when the init has exited
    UniqueFd report;  // ChildReport records from the init (non-blocking)
    UniqueFd reportWrite;  // idle inits only: the write end, for the program that enters later
    double cloneMs = 0;
};

// How the init gets into its cgroup (RunCgroup::dirFd and joinFds; plain
// descriptors, so that the zygote can receive them).
struct Placement {
    static constexpr int kMaxJoinFds = 6;
    int dirFd = -1;                 // v2: born in it
    int joinFds[kMaxJoinFds] = {};  // v1: moves itself in through each
    int joinCount = 0;
};
Placement placementOf(const RunCgroup& cgroup);

// In the process that clones (the worker, or its zygote in warm mode):
// clones the init, which sets the sandbox up on its own; the caller learns
// how it went from the report pipe. Errors: the clone failed.
Result<Launched> spawn(const SandboxConfig& config, const Placement& placement, const ChildIo& io,
                       const Program& program, int cpuSeconds);

// Warm mode's program: a fork of the zygote that enters the namespaces of an
// idle init (complete, kReady seen), moves itself into the run's cgroup,
// takes the sandbox's identity, capabilities, rlimits and filter, and runs
// program.inProcess. Never returns; a failed step writes {kSetupFailed} to
// reportFd and exits 127. Its pid namespace must be the init's already
// (the zygote forks it after setns(initPidfd, CLONE_NEWPID)).
struct Entry {
    int initPidfd = -1;
    const int* joinFds = nullptr;  // the run cgroup's tasks (v1) or cgroup.procs (v2) files
    int joinCount = 0;
    ChildIo io;
    int reportFd = -1;
    int cpuSeconds = 0;
};
[[noreturn]] void enterSandbox(const SandboxConfig& config, const Entry& entry, const Program& program);

// spawn() into cgroup (cold mode, and tests).
Result<Launched> launch(const SandboxConfig& config, const RunCgroup& cgroup, const ChildIo& io,
                        const Program& program, int cpuSeconds);

}  // namespace pyexec::sandbox
