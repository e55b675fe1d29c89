// The sandbox launcher: the one place that sets up a run's sandbox, in the
// order of SPEC §5. Theory of operation:
//
//   worker (root, pyexecd)                 sandbox init (pid 1 of new pid ns)
//   ──────────────────────                 ───────────────────────────────────
//   clone3(new mount/pid/ipc/uts/cgroup/
//          net namespaces[, INTO_CGROUP]) ─▶ waits on the go pipe
//   1 cgroup: add the init's pid (v1)
//   write the go byte                    ─▶ 3 filesystem: new root, pivot_root
//                                           4 identity: uid/gid, no groups
//                                           5 capabilities: all sets empty, NO_NEW_PRIVS
//                                           6 rlimits
//                                           fork ─▶ program: fds 0–4, 7 seccomp (last),
//                                                   exec python harness (cold) or run it
//                                                   in the zygote's interpreter (warm)
//                                           7 seccomp for the init too
//                                           reap every child; when the program
//   reads {kExited, wait status}        ◀─  exits, report its status and exit,
//                                           which kills the whole pid namespace
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
    UniqueFd go;      // one byte releases the init into step 3
    double cloneMs = 0, placeMs = 0;  // clone3; moving the init into its cgroup (v1)
};

// First half, in the process that clones (the worker, or its zygote in warm
// mode): the init is created in its namespaces (and, with cgroupDirFd >= 0,
// in its cgroup v2 directory) and waits on `go`.
Result<Launched> spawn(const SandboxConfig& config, int cgroupDirFd, const ChildIo& io, const Program& program,
                       int cpuSeconds);

// Second half, in the worker: moves the init into its cgroup unless it was
// born there (step 1), then releases it. Kills the init on failure.
Status release(Launched& launched, RunCgroup& cgroup, bool bornInCgroup);

// Both halves in the calling process (cold mode).
Result<Launched> launch(const SandboxConfig& config, RunCgroup& cgroup, const ChildIo& io, const Program& program,
                        int cpuSeconds);

}  // namespace pyexec::sandbox
