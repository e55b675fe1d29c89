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
};

struct Launched {
    pid_t initPid = -1;
    UniqueFd pidfd;   // readable when the init has exited
    UniqueFd report;  // ChildReport records from the init (non-blocking)
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

// spawn() into cgroup (cold mode, and tests).
Result<Launched> launch(const SandboxConfig& config, const RunCgroup& cgroup, const ChildIo& io,
                        const Program& program, int cpuSeconds);

}  // namespace pyexec::sandbox
