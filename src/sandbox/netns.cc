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

namespace {

// In the probe child, under the profile: 0 when no AF_UNIX socket can get an
// address another run could find (bind, connect, or the kernel's autobind
// on a send with SO_PASSCRED), else the number of the check that failed.
int probeRendezvous() {
    int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) return errno == EPERM ? 0 : 10;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, "pyexec-probe", 12);  // abstract: leading NUL
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 13);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 || errno != EPERM) return 1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 || errno != EPERM) return 2;
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    ::sendto(fd, "x", 1, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&addr), len);
    sockaddr_un self{};
    socklen_t selfLen = sizeof self;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &selfLen) != 0) return 3;
    return selfLen > offsetof(sockaddr_un, sun_path) ? 4 : 0;  // autobound: it has a name
}

}  // namespace

bool blocksUnixRendezvous(const SeccompProgram& profile) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || profile.apply() != 0) ::_exit(100);
        ::_exit(probeRendezvous());
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace pyexec::sandbox
