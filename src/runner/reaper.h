// The one place a worker reaps its children. They are: its sandbox inits
// (cloned by the runner), its zygote, and the warm programs whose zygote
// died (the worker is a child subreaper, so they become its own). A child
// left a zombie inside a pid namespace keeps that namespace's init from
// finishing its exit, and a blocking wait on a child that cannot finish
// blocks the worker: so every child is reaped here, without blocking, and
// the status of the ones someone waits for is kept for them.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>

namespace pyexec::runner {

class Reaper {
public:
    // Reaps every child that has exited (WNOHANG), keeping the wait status
    // of the expected ones; the others (the zygote, an orphaned program
    // nobody knew the pid of) are only reaped.
    void reapExited();
    // Keep `pid`'s status when it is reaped.
    void expect(pid_t pid) { expected_.emplace(pid, std::nullopt); }
    // Its wait status once reaped (then forgotten); nothing while it runs.
    std::optional<int> take(pid_t pid);
    // No longer of interest (reaped elsewhere, or its owner is gone).
    void forget(pid_t pid) { expected_.erase(pid); }

private:
    std::map<pid_t, std::optional<int>> expected_;
};

}  // namespace pyexec::runner
