#include "runner/reaper.h"

#include <sys/wait.h>

namespace pyexec::runner {

void Reaper::reapExited() {
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG | __WALL)) > 0;) {
        auto it = expected_.find(pid);
        if (it != expected_.end()) it->second = status;
    }
}

std::optional<int> Reaper::take(pid_t pid) {
    auto it = expected_.find(pid);
    if (it == expected_.end() || !it->second) return std::nullopt;
    int status = *it->second;
    expected_.erase(it);
    return status;
}

}  // namespace pyexec::runner
