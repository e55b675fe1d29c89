#include "runner/zygote.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "common/log.h"
#include "runner/embedded_python.h"
#include "runner/warm_image.h"
#include "runner/sandbox_env.h"
#include "sandbox/seccomp.h"

namespace pyexec::runner {
namespace {

// Zygote private folders: /tmp/pyexec-zygote- and mkdtemp's 6 characters.
constexpr const char* kFolderParent = "/tmp";
constexpr std::string_view kFolderName = "pyexec-zygote-";

// Whether path is still a private folder of ours: /tmp is sticky, so nobody
// else can remove or rename a root-owned 0700 folder there or write into it;
// once it is gone anyone may take the name, and what they made is left.
bool ownPrivateFolder(const std::string& path, struct stat* st) {
    return ::lstat(path.c_str(), st) == 0 && S_ISDIR(st->st_mode) && st->st_uid == 0 &&
           (st->st_mode & 07777) == 0700;
}

constexpr uint32_t kMagic = 0x7079783a;  // "pyx:"

struct SpawnRequest {
    uint32_t magic = kMagic;
    int32_t cpuSeconds = 0;
    int32_t joinCount = 0;  // descriptors: the five of ChildIo, the init's pidfd, the report pipe, the joins
    int32_t pytestAhead = 0;  // 1: the program writes pytest's working set ahead (setPytestWriteAhead)
};

constexpr size_t kMaxFds = 5 + 2 + sandbox::Placement::kMaxJoinFds;

struct SpawnReply {
    uint32_t magic = kMagic;
    int32_t err = 0;      // 0, or the errno of a failed spawn
    pid_t pid = -1;       // the program's; its pidfd comes with the reply
};

// Sends one message with up to kMaxFds descriptors.
bool sendWithFds(int sock, const void* data, size_t len, const int* fds, size_t nfds) {
    if (nfds > kMaxFds) return false;
    iovec iov{const_cast<void*>(data), len};
    char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    return ::sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(len);
}

// Receives one message of exactly len bytes and its descriptors (owned).
bool recvWithFds(int sock, void* data, size_t len, std::vector<UniqueFd>* fds) {
    iovec iov{data, len};
    char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n > 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            fds->emplace_back(fd);
        }
    }
    return n == static_cast<ssize_t>(len) && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0;
}

// The programs this zygote forked, and where each one's exit status goes
// (the run's report pipe; the worker reads it like the init's reports).
struct Child {
    pid_t pid;
    UniqueFd report;
};

// One spawn request in the zygote: fork the program into the init's pid
// namespace; it enters the rest of the sandbox itself (enterSandbox).
bool serveOne(const sandbox::SandboxConfig& config, int sock, int ownPidns, std::vector<Child>* children) {
    SpawnRequest req;
    std::vector<UniqueFd> fds;
    if (!recvWithFds(sock, &req, sizeof req, &fds) || req.magic != kMagic) return false;
    if (req.joinCount < 0 || req.joinCount > sandbox::Placement::kMaxJoinFds) return false;
    if (req.pytestAhead != 0 && req.pytestAhead != 1) return false;
    if (fds.size() != 7 + static_cast<size_t>(req.joinCount)) return false;
    int joins[sandbox::Placement::kMaxJoinFds];
    for (int i = 0; i < req.joinCount; ++i) joins[i] = fds[7 + static_cast<size_t>(i)].get();
    sandbox::Entry entry{fds[5].get(), joins, req.joinCount,
                         sandbox::ChildIo{fds[0].get(), fds[1].get(), fds[2].get(), fds[3].get(), fds[4].get()},
                         fds[6].get(), req.cpuSeconds};
    sandbox::Program program{nullptr, nullptr, &runEmbeddedHarness,
                             const_cast<char*>(config.rootMountPoint.data()), config.rootMountPoint.size()};
    SpawnReply reply;
    // Our next child is born in the run's pid namespace; we stay where we are.
    if (::setns(entry.initPidfd, CLONE_NEWPID) != 0) {
        reply.err = errno;
        return sendWithFds(sock, &reply, sizeof reply, nullptr, 0);
    }
    setPytestWriteAhead(req.pytestAhead == 1);
    pid_t pid = ::fork();
    if (pid == 0) sandbox::enterSandbox(config, entry, program);
    int forkErr = errno;
    if (::setns(ownPidns, CLONE_NEWPID) != 0) return false;  // would put later runs in this one's namespace
    if (pid < 0) {
        reply.err = forkErr;
        return sendWithFds(sock, &reply, sizeof reply, nullptr, 0);
    }
    children->push_back(Child{pid, std::move(fds[6])});
    reply.pid = pid;
    // Opened before we could reap it, so it names this child and no other.
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    int out = pidfd.get();
    return sendWithFds(sock, &reply, sizeof reply, &out, pidfd.valid() ? 1 : 0);
}

// Reaps the programs that ended and reports each one's wait status.
void reapChildren(std::vector<Child>* children) {
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
        for (auto it = children->begin(); it != children->end(); ++it) {
            if (it->pid != pid) continue;
            sandbox::ChildReport r{sandbox::ChildReport::kExited, static_cast<int32_t>(sandbox::Step::kExec), status,
                                   0, {}};
            ssize_t n = ::write(it->report.get(), &r, sizeof r);  // EPIPE when the run is over: fine
            (void)n;
            children->erase(it);
            break;
        }
    }
}

// What the worker sends the zygote first: the sandbox settings it needs, then
// the compiled seccomp filter, and the shared network namespace if any.
struct WireConfig {
    uint32_t magic = kMagic;
    uint32_t image = 0;  // protocol::Image: which warm image to import
    sandbox::SandboxLimits limits;
    uint32_t filterLength = 0;
    char rootMountPoint[256] = {};
    char privateFolder[256] = {};  // for the interpreter's start (initEmbeddedPython)
};

bool sendConfig(int sock, const sandbox::SandboxConfig& c, protocol::Image image, const std::string& privateFolder) {
    WireConfig w;
    if (privateFolder.size() >= sizeof w.privateFolder) return false;
    std::memcpy(w.privateFolder, privateFolder.c_str(), privateFolder.size() + 1);
    w.image = static_cast<uint32_t>(image);
    w.limits = c;  // the plain part, as it is (namespaces come from each run's init)
    const auto& filter = c.seccomp->filter();
    w.filterLength = static_cast<uint32_t>(filter.size());
    if (c.rootMountPoint.size() >= sizeof w.rootMountPoint) return false;
    std::memcpy(w.rootMountPoint, c.rootMountPoint.c_str(), c.rootMountPoint.size() + 1);
    return sendWithFds(sock, &w, sizeof w, nullptr, 0) &&
           ::send(sock, filter.data(), filter.size() * sizeof(sock_filter), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(filter.size() * sizeof(sock_filter));
}

// The zygote's own copy of what its runs need (it lives as long as the zygote).
struct ZygoteState {
    protocol::Image image = protocol::Image::kFull;
    sandbox::SeccompProgram seccomp;
    sandbox::SandboxConfig config;
    std::string privateFolder;
};

bool receiveConfig(int sock, ZygoteState* z) {
    WireConfig w;
    std::vector<UniqueFd> fds;
    if (!recvWithFds(sock, &w, sizeof w, &fds) || w.magic != kMagic || w.filterLength > 4096) return false;
    std::vector<sock_filter> filter(w.filterLength);
    ssize_t want = static_cast<ssize_t>(filter.size() * sizeof(sock_filter));
    if (::recv(sock, filter.data(), static_cast<size_t>(want), 0) != want) return false;
    if (w.image > static_cast<uint32_t>(protocol::Image::kPytest)) return false;
    z->image = static_cast<protocol::Image>(w.image);
    z->seccomp = sandbox::SeccompProgram::fromFilter(std::move(filter), "python.json");
    sandbox::SandboxConfig& c = z->config;
    static_cast<sandbox::SandboxLimits&>(c) = w.limits;
    c.rootMountPoint.assign(w.rootMountPoint, ::strnlen(w.rootMountPoint, sizeof w.rootMountPoint));
    z->privateFolder.assign(w.privateFolder, ::strnlen(w.privateFolder, sizeof w.privateFolder));
    std::memset(static_cast<void*>(&w), 0, sizeof w);  // the one copy of the path to keep is scrubbed per run
    c.seccomp = &z->seccomp;
    return true;
}

constexpr int kZygoteSocketFd = 3;
constexpr int kZygoteExeFd = 4;

}  // namespace

int zygoteProcessMain() {
    ::close(kZygoteExeFd);
    ::prctl(PR_SET_NAME, "pyexec-zygote", 0, 0, 0);
    if (::getppid() == 1) return 0;  // the worker is already gone
    // Programs are our children: their exit statuses come through a signalfd.
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    UniqueFd sigfd(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
    ::signal(SIGPIPE, SIG_IGN);  // a report pipe whose run is over
    UniqueFd ownPidns(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (!sigfd.valid() || !ownPidns.valid()) return 1;
    static ZygoteState state;  // outlives every run; its root path is scrubbed in each program
    if (!receiveConfig(kZygoteSocketFd, &state)) return 1;
    setSandboxEnvironment();  // what os.environ will hold in every run
    // Nothing may be imported (as root) from wherever pyexecd was started.
    if (::chdir("/") != 0) return 1;
    // The lean and pytest ones show as such in ps.
    if (state.image == protocol::Image::kLean) ::prctl(PR_SET_NAME, "pyexec-zyg-lean", 0, 0, 0);
    if (state.image == protocol::Image::kPytest) ::prctl(PR_SET_NAME, "pyexec-zyg-pyt", 0, 0, 0);
    Status s = initEmbeddedPython(warmImage(state.image), state.privateFolder);
    state.privateFolder.clear();
    state.privateFolder.shrink_to_fit();  // the folder is gone (matplotlib's style path still names it)
    char ready = s ? 1 : 0;
    if (::write(kZygoteSocketFd, &ready, 1) != 1 || !s) return 1;
    std::vector<Child> children;
    for (;;) {
        pollfd fds[2] = {{kZygoteSocketFd, POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0 && errno != EINTR) return 1;
        if (fds[1].revents) {
            signalfd_siginfo info[8];
            while (::read(sigfd.get(), info, sizeof info) > 0) {
            }
            reapChildren(&children);
        }
        if (fds[0].revents && !serveOne(state.config, kZygoteSocketFd, ownPidns.get(), &children)) return 0;
    }
}

namespace {


// In the forked child: becomes the zygote by executing pyexecd afresh (from
// the sealed copy), so that nothing of the worker's memory goes with it.
[[noreturn]] void execZygote(int sock, int exeFd, pid_t worker) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);  // kept across this exec
    if (::getppid() != worker) ::_exit(0);
    if (::dup2(sock, kZygoteSocketFd) < 0 || ::dup2(exeFd, kZygoteExeFd) < 0) ::_exit(126);
    ::syscall(SYS_close_range, kZygoteExeFd + 1, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    char name[] = "pyexec-zygote";
    char* argv[] = {name, nullptr};
    char* envp[] = {nullptr};
    ::fexecve(kZygoteExeFd, argv, envp);
    ::_exit(126);
}

}  // namespace

Result<UniqueFd> sealedCopyOfSelf() {
    UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    UniqueFd copy(::memfd_create("pyexecd", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!self.valid() || !copy.valid()) {
        return makeError(ErrorKind::kSandboxUnavailable, std::string("copy of pyexecd: ") + std::strerror(errno));
    }
    char buf[1 << 16];
    for (ssize_t n; (n = ::read(self.get(), buf, sizeof buf)) != 0;) {
        if (n < 0 || ::write(copy.get(), buf, static_cast<size_t>(n)) != n) {
            return makeError(ErrorKind::kSandboxUnavailable, std::string("copy of pyexecd: ") + std::strerror(errno));
        }
    }
    ::fcntl(copy.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return copy;
}

Result<std::unique_ptr<Zygote>> Zygote::start(const sandbox::SandboxConfig& config, protocol::Image image, int exeFd,
                                              int closeFd) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        return makeError(ErrorKind::kSandboxUnavailable, std::string("socketpair: ") + std::strerror(errno));
    }
    UniqueFd mine(sv[0]), theirs(sv[1]);
    // A program whose zygote dies becomes ours (not the host init's), so
    // that its exit status is not lost and its init can finish exiting
    // (Runner reaps it through its pidfd).
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        return makeError(ErrorKind::kSandboxUnavailable, std::string("PR_SET_CHILD_SUBREAPER: ") + std::strerror(errno));
    }
    // The zygote's private folder (embedded_python.h) is ours to make and to
    // remove: a zygote killed before it is done with it cannot remove it.
    // No pid in its name: matplotlib keeps the name, and runs see it.
    pid_t worker = ::getpid();
    std::string folderName = std::string(kFolderParent) + "/" + std::string(kFolderName) + "XXXXXX";
    char* folder = folderName.data();
    if (::mkdtemp(folder) == nullptr) {
        return makeError(ErrorKind::kSandboxUnavailable, std::string("mkdtemp: ") + std::strerror(errno));
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        ::rmdir(folder);
        return makeError(ErrorKind::kSandboxUnavailable, std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        if (closeFd >= 0) ::close(closeFd);
        execZygote(theirs.get(), exeFd, worker);
    }
    std::unique_ptr<Zygote> z(new Zygote(pid, std::move(mine), folderName));
    // A zygote that stops answering is broken, not waited for: a fork takes
    // milliseconds, so 3 s is a stopped or stuck zygote (runs go cold).
    timeval timeout{3, 0};
    ::setsockopt(z->sock_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (!sendConfig(z->sock_.get(), config, image, z->privateFolder_)) {
        return makeError(ErrorKind::kSandboxUnavailable, std::string("configuring the zygote: ") + std::strerror(errno));
    }
    return z;
}

Zygote::~Zygote() {
    ::kill(pid_, SIGKILL);
    // Reaped here when it goes at once; else later by the runner's reaper
    // (a process stuck in the kernel must not stop the worker).
    for (int i = 0; i < 200 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) ::usleep(1000);
    removePrivateFolder();
}

int removeLeftZygoteFolders(int idleSeconds) {
    int removed = 0;
    time_t now = ::time(nullptr);
    std::error_code err;
    for (std::filesystem::directory_iterator it(kFolderParent, err), end; !err && it != end; it.increment(err)) {
        std::string base = it->path().filename().string();
        if (base.size() != kFolderName.size() + 6 || base.compare(0, kFolderName.size(), kFolderName) != 0) continue;
        struct stat st{};
        std::string path = it->path().string();
        if (!ownPrivateFolder(path, &st) || now - st.st_mtime < idleSeconds) continue;  // not ours, or in use
        std::error_code ignored;
        if (std::filesystem::remove_all(path, ignored) > 0) ++removed;
    }
    return removed;
}

// Gone already when the zygote finished starting; what a zygote killed
// during its imports left (matplotlib's font cache, say) goes here (and
// what a killed worker could not remove, at the master's next start:
// removeLeftZygoteFolders).
void Zygote::removePrivateFolder() {
    if (privateFolder_.empty()) return;
    struct stat st{};
    if (ownPrivateFolder(privateFolder_, &st)) {
        std::error_code ignored;
        std::filesystem::remove_all(privateFolder_, ignored);
    }
    privateFolder_.clear();
}

void Zygote::markBroken(const std::string& why) {
    if (state_ != State::kBroken) log::error("warm zygote " + std::to_string(pid_) + ": " + why + "; runs go cold");
    state_ = State::kBroken;
}

bool Zygote::ready() {
    if (state_ == State::kReady) {
        // A zygote that died hangs its socket up: noticed here, not only
        // when a run of its image next needs it.
        pollfd p{sock_.get(), 0, 0};
        if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0) {
            markBroken("exited");
            return false;
        }
        return true;
    }
    if (state_ != State::kStarting) return false;
    pollfd p{sock_.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    char ok = 0;
    if (::read(sock_.get(), &ok, 1) == 1 && ok == 1) {
        state_ = State::kReady;
        return true;
    }
    markBroken("failed to start its interpreter");
    return false;
}

Result<Zygote::Program> Zygote::spawnProgram(int initPidfd, const std::vector<int>& joinFds,
                                             const sandbox::ChildIo& io, int reportFd, int cpuSeconds,
                                             bool pytestAhead) {
    SpawnRequest req;
    req.cpuSeconds = cpuSeconds;
    req.pytestAhead = pytestAhead ? 1 : 0;
    req.joinCount = static_cast<int32_t>(std::min<size_t>(joinFds.size(), sandbox::Placement::kMaxJoinFds));
    int fds[kMaxFds] = {io.stdinFd, io.stdoutFd, io.stderrFd, io.inputFd, io.resultFd, initPidfd, reportFd};
    size_t n = 7;
    for (int i = 0; i < req.joinCount; ++i) fds[n++] = joinFds[static_cast<size_t>(i)];
    SpawnReply reply;
    std::vector<UniqueFd> got;
    if (!sendWithFds(sock_.get(), &req, sizeof req, fds, n) ||
        !recvWithFds(sock_.get(), &reply, sizeof reply, &got) || reply.magic != kMagic) {
        markBroken(std::string("lost (") + std::strerror(errno) + ")");
        return makeError(ErrorKind::kSandboxUnavailable, "the warm zygote is gone");
    }
    if (reply.err != 0 || got.size() != 1) {
        return makeError(ErrorKind::kSandboxUnavailable,
                         std::string("forking the warm program: ") + std::strerror(reply.err ? reply.err : EIO), {},
                         reply.err);
    }
    return Program{reply.pid, std::move(got[0])};
}

}  // namespace pyexec::runner
