#include "http/fcgi.h"

#include <fcgiapp.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>

#include "common/clock.h"

namespace pyexec::http {
namespace {

Error listenError(const std::string& what, int err) {
    return makeError(ErrorKind::kConfig, what + ": " + std::strerror(err), {}, err);
}

Result<UniqueFd> listenUnix(const std::string& path, const std::string& group) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return listenError("socket path too long: " + path, ENAMETOOLONG);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return listenError("socket", errno);
    ::unlink(path.c_str());  // a stale socket from a previous run
    // Create it private, then open it to nginx's group only.
    mode_t old = ::umask(0177);
    int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::umask(old);
    if (rc != 0) return listenError("bind " + path, errno);
    if (!group.empty()) {
        struct group* g = ::getgrnam(group.c_str());
        if (g == nullptr) return listenError("unknown group '" + group + "' for " + path, ENOENT);
        if (::chown(path.c_str(), 0, g->gr_gid) != 0) return listenError("chown " + path, errno);
        if (::chmod(path.c_str(), 0660) != 0) return listenError("chmod " + path, errno);
    }
    if (::listen(fd.get(), 256) != 0) return listenError("listen " + path, errno);
    return fd;
}

std::string param(FCGX_Request& r, const char* name) {
    const char* v = FCGX_GetParam(name, r.envp);
    return v ? std::string(v) : std::string();
}

bool validRequestId(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
    return true;
}

const char* reason(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 413: return "Payload Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "";
    }
}

}  // namespace

// Non-blocking: every worker polls the shared socket and accepts what it
// can; the ones that lose the race go back to waiting (and beating).
Result<UniqueFd> listen(const std::string& spec, const std::string& group) {
    Result<UniqueFd> fd = makeError(ErrorKind::kConfig, "not opened");
    if (spec.find('/') != std::string::npos) {
        fd = listenUnix(spec, group);
    } else {
        FCGX_Init();
        int raw = FCGX_OpenSocket(spec.c_str(), 256);
        if (raw < 0) return listenError("listen on " + spec, errno ? errno : EINVAL);
        ::fcntl(raw, F_SETFD, FD_CLOEXEC);
        fd = UniqueFd(raw);
    }
    if (fd) ::fcntl(fd.value().get(), F_SETFL, ::fcntl(fd.value().get(), F_GETFL) | O_NONBLOCK);
    return fd;
}

std::string newRequestId() {
    unsigned char raw[16];
    if (::getrandom(raw, sizeof raw, 0) != sizeof raw) std::memset(raw, 0, sizeof raw);
    char hex[33];
    for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return std::string(hex, 32);
}

struct Server::Impl {
    FCGX_Request req{};
    bool active = false;
    int listenFd = -1;
    ServerPolicy policy;
    double deadlineMs = 0;  // of the request being read
};

namespace {

// Reads on `fd` block at most until `deadlineMs` (at least 1 ms).
void readUntil(int fd, double deadlineMs) {
    double left = std::max(1.0, deadlineMs - clock::monotonicMs());
    timeval tv{static_cast<time_t>(left / 1000), static_cast<suseconds_t>(std::fmod(left, 1000.0) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

// libfcgi accepts on the request's listen socket itself, and only checks
// IPv4 peers against exact addresses. The worker accepts instead: the
// request is initialised with no listen socket, and each accepted connection
// is handed over in req.ipcFd with keepConnection set, because
// FCGX_Accept_r starts by finishing the previous request, which would close
// it otherwise (libfcgi 2.4, fcgiapp.c). A connection libfcgi then gives up
// on (a protocol error, a read timeout) it closes, and its own accept on no
// socket fails, so control comes back here.
Server::Server(int listenFd, ServerPolicy policy) : impl_(new Impl) {
    FCGX_Init();
    FCGX_InitRequest(&impl_->req, -1, FCGI_FAIL_ACCEPT_ON_INTR);
    impl_->listenFd = listenFd;
    impl_->policy = std::move(policy);
}

Server::~Server() {
    impl_->req.detached = 1;
    if (impl_->active) FCGX_Finish_r(&impl_->req);
    delete impl_;
}

// The next connection from an allowed peer, its head read (params).
bool Server::acceptConnection() {
    for (;;) {
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        int fd = ::accept4(impl_->listenFd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EPROTO) continue;
            return false;  // EAGAIN (taken by another worker), EINTR (shutdown), or an error
        }
        if (!impl_->policy.peers.allows(peer)) {
            ::close(fd);
            continue;
        }
        impl_->deadlineMs = clock::monotonicMs() + impl_->policy.readTimeoutMs;
        readUntil(fd, impl_->deadlineMs);
        impl_->req.ipcFd = fd;
        impl_->req.keepConnection = 1;
        impl_->req.detached = 1;  // if libfcgi drops it, closed without draining what the peer sends
        if (FCGX_Accept_r(&impl_->req) == 0) return true;
        impl_->req.detached = 1;
        FCGX_Free(&impl_->req, 1);  // libfcgi gave up on it (and closed it, or we do now)
    }
}

bool Server::accept(Request* out, size_t maxBody) {
    if (!acceptConnection()) return false;
    impl_->active = true;
    FCGX_Request& r = impl_->req;
    *out = Request{};
    out->method = param(r, "REQUEST_METHOD");
    out->path = param(r, "DOCUMENT_URI");
    if (out->path.empty()) out->path = param(r, "REQUEST_URI");
    out->path = out->path.substr(0, out->path.find('?'));
    out->requestId = param(r, "REQUEST_ID");
    if (!validRequestId(out->requestId)) out->requestId = newRequestId();
    std::string start = param(r, "REQUEST_START");  // nginx's $msec: "1732240000.123"
    if (!start.empty()) out->queuedMs = std::max(0.0, clock::wallMs() - std::atof(start.c_str()) * 1e3);
    char buf[65536];
    for (;;) {
        readUntil(r.ipcFd, impl_->deadlineMs);
        int n = FCGX_GetStr(buf, sizeof buf, r.in);
        if (n <= 0) break;
        if (out->body.size() + static_cast<size_t>(n) > maxBody) {
            // Not read further: the answer closes the connection (nginx
            // opens one per request), so nothing is left out of sync.
            out->bodyTooLarge = true;
            impl_->req.keepConnection = 0;
            break;
        }
        out->body.append(buf, static_cast<size_t>(n));
    }
    if (!out->bodyTooLarge && (FCGX_GetError(r.in) != 0 || !FCGX_HasSeenEOF(r.in))) out->bodyIncomplete = true;
    readUntil(r.ipcFd, clock::monotonicMs() + impl_->policy.readTimeoutMs);  // for the answer's writes
    return true;
}

void Server::respond(const Response& response) {
    FCGX_Request& r = impl_->req;
    std::string head = "Status: " + std::to_string(response.status) + " " + reason(response.status) + "\r\n";
    bool haveType = false;
    for (auto& [k, v] : response.headers) {
        head += k + ": " + v + "\r\n";
        if (strcasecmp(k.c_str(), "Content-Type") == 0) haveType = true;
    }
    if (!haveType) head += "Content-Type: application/json\r\n";
    head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n";
    FCGX_PutStr(head.data(), static_cast<int>(head.size()), r.out);
    if (!response.omitBody) FCGX_PutStr(response.body.data(), static_cast<int>(response.body.size()), r.out);
    // Closed at once: libfcgi would otherwise read whatever the peer still
    // sends, for as long as it sends (a body past its cap). nginx has sent
    // everything by now.
    r.detached = 1;
    FCGX_Finish_r(&r);
    impl_->active = false;
}

}  // namespace pyexec::http
