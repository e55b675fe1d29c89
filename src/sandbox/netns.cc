#include "sandbox/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

namespace pyexec::sandbox {

Result<UniqueFd> createEmptyNetns() {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) {
        return makeError(ErrorKind::kSandboxUnavailable, std::string("pipe2: ") + std::strerror(errno));
    }
    UniqueFd readEnd(ready[0]), writeEnd(ready[1]);
    pid_t pid = ::fork();
    if (pid == 0) {
        // The child only creates the namespace and waits to be killed; the
        // fd the parent opens keeps the namespace alive afterwards.
        char ok = ::unshare(CLONE_NEWNET) == 0 ? 1 : 0;
        ssize_t w = ::write(writeEnd.get(), &ok, 1);
        (void)w;
        ::pause();
        ::_exit(0);
    }
    writeEnd.reset();
    char ok = 0;
    bool created = pid > 0 && ::read(readEnd.get(), &ok, 1) == 1 && ok == 1;
    UniqueFd ns;
    if (created) ns.reset(::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    int err = errno;
    if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    if (!ns.valid()) {
        return makeError(ErrorKind::kSandboxUnavailable,
                         std::string("cannot create the shared network namespace: ") + std::strerror(err), {}, err);
    }
    return ns;
}

bool blocksUnixRendezvous(const SeccompProgram& profile) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || profile.apply() != 0) ::_exit(2);
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) ::_exit(errno == EPERM ? 0 : 3);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path + 1, "pyexec-probe", 12);  // abstract: leading NUL
        socklen_t len = offsetof(sockaddr_un, sun_path) + 13;
        bool bindRefused = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno == EPERM;
        bool connectRefused = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno == EPERM;
        ::_exit(bindRefused && connectRefused ? 0 : 1);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace pyexec::sandbox
