// Warm mode's zygote. Theory of operation:
//
//   worker ──fork, then exec of a sealed memfd copy of pyexecd──▶ zygote (root)
//                                               fixed environment, embedded python,
//                                               numpy and pandas imported; waits
//   per run, ahead of its request:
//   worker: clones an idle init (sandbox::spawn), which builds the sandbox
//           (namespaces, root, ...) and reports kReady
//   worker: descriptors (pipes, init pidfd, ──SCM_RIGHTS──▶ setns(init, CLONE_NEWPID), fork,
//           report pipe, cgroup files)                   setns back: the program is born in
//                                                        the run's pid namespace and enters
//                                                        the rest (sandbox::enterSandbox)
//           program pid ◀──────────────────────────────── reply
//   when the program exits, the zygote writes its wait status to the run's report pipe.
//
// Only the program is a copy of the interpreter: the init is a small clone
// of the worker, so a run costs one copy and one teardown of the zygote's
// page tables, not two.
//
// The zygote is a fresh exec, not a fork of the worker, and never sees a
// request: it holds only the sandbox settings (sent over its socket) and its
// interpreter, and only the run's descriptors pass through it, so nothing of
// pyexecd's or of other requests is in the memory a program is forked from.
// Being a memfd, its executable names no path of ours in /proc/self/maps.
// It dies with its worker (PR_SET_PDEATHSIG). Its programs do not die with
// it: each lives and dies with its sandbox, and then belongs to the worker.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "protocol/image_choice.h"
#include "sandbox/launcher.h"
#include "sandbox/sandbox_config.h"

namespace pyexec::runner {

// A sealed memfd holding pyexecd's own executable (master, at start-up).
Result<UniqueFd> sealedCopyOfSelf();

// main() of `pyexec-zygote` (argv[0]): fd 3 is the socket to its worker.
int zygoteProcessMain();

// Master, at start-up: removes the zygote private folders in /tmp that
// workers SIGKILLed during their zygote's start left (neither could remove
// its own), root-owned, 0700 and untouched for `idleSeconds`. Returns how
// many went.
int removeLeftZygoteFolders(int idleSeconds = 600);

class Zygote {
public:
    // Worker: forks the zygote and returns at once; it becomes ready when its
    // interpreter has imported its image (warm_image.h: lean, or numpy,
    // pandas, matplotlib and pytest). closeFd (the FastCGI socket) is closed
    // in the zygote. exeFd is sealedCopyOfSelf(), made once by the master.
    static Result<std::unique_ptr<Zygote>> start(const sandbox::SandboxConfig& config, protocol::Image image,
                                                 int exeFd, int closeFd);
    ~Zygote();
    Zygote(const Zygote&) = delete;
    Zygote& operator=(const Zygote&) = delete;

    // Whether runs can use it now (never blocks). False for good once it
    // failed or exited (its socket hung up).
    bool ready();
    bool broken() const { return state_ == State::kBroken; }
    // Forks a program into the sandbox of an idle init that reported kReady
    // (sandbox::enterSandbox); the zygote writes its exit status to reportFd.
    // If the zygote dies first, the program becomes the worker's (a child
    // subreaper, runner.cc), which reaps it through the pidfd. When the
    // zygote does not answer, it is broken. pytestAhead: the program writes
    // pytest's working set ahead too (embedded_python.h).
    struct Program {
        pid_t pid;
        UniqueFd pidfd;
    };
    Result<Program> spawnProgram(int initPidfd, const std::vector<int>& joinFds, const sandbox::ChildIo& io,
                                 int reportFd, int cpuSeconds, bool pytestAhead = false);

private:
    Zygote(pid_t pid, UniqueFd sock, std::string privateFolder)
        : pid_(pid), sock_(std::move(sock)), privateFolder_(std::move(privateFolder)) {}
    void markBroken(const std::string& why);
    void removePrivateFolder();
    pid_t pid_;
    UniqueFd sock_;
    std::string privateFolder_;
    enum class State { kStarting, kReady, kBroken } state_ = State::kStarting;
};

}  // namespace pyexec::runner
