// CgroupManager::create (which backend, once, at start-up) and the helpers
// both backends share: small-file I/O on cgroupfs, parsing of the kernel's
// text files, kill-until-empty and removal of a cgroup folder.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>

#include "common/log.h"
#include "common/unique_fd.h"
#include "sandbox/cgroup_impl.h"

namespace pyexec::sandbox {
namespace cg {
namespace {

constexpr size_t kMaxFileBytes = 4u << 20;

using Clock = std::chrono::steady_clock;

std::string_view trim(std::string_view s) {
    size_t first = s.find_first_not_of(" \t\n");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\n") - first + 1);
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeOctal(std::string_view s) {
    auto isOctal = [](char c) { return c >= '0' && c <= '7'; };
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && isOctal(s[i + 1]) && isOctal(s[i + 2]) &&
            isOctal(s[i + 3])) {
            out.push_back(
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

void unlinkRegularFiles(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return;
    DIR* d = ::fdopendir(fd.get());
    if (d == nullptr) return;
    int dfd = fd.release();  // closedir closes it
    while (dirent* e = ::readdir(d)) {
        if (e->d_type == DT_REG) ::unlinkat(dfd, e->d_name, 0);
    }
    ::closedir(d);
}

}  // namespace

Error sysError(std::string_view what, const std::string& path, int err) {
    std::string msg = "cgroup: ";
    msg.append(what).append(" ").append(path).append(": ").append(std::strerror(err));
    return makeError(ErrorKind::kSandboxUnavailable, std::move(msg), {}, err);
}

Result<std::string> readFile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return sysError("cannot open", path, errno);
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sysError("cannot read", path, errno);
        if (n == 0) return out;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > kMaxFileBytes) return sysError("too large:", path, EFBIG);
    }
}

Status writeFile(const std::string& path, std::string_view data, bool create) {
    int flags = O_WRONLY | O_TRUNC | O_CLOEXEC | (create ? O_CREAT : 0);
    UniqueFd fd(::open(path.c_str(), flags, 0644));
    if (!fd.valid()) return sysError("cannot open", path, errno);
    ssize_t n;
    do {
        n = ::write(fd.get(), data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return sysError("cannot write '" + std::string(data) + "' to", path, errno);
    if (static_cast<size_t>(n) != data.size()) return sysError("short write to", path, EIO);
    return okStatus();
}

std::string join(const std::string& dir, std::string_view name) {
    std::string out = dir;
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    while (!name.empty() && name.front() == '/') name.remove_prefix(1);
    if (name.empty()) return out;
    if (out.empty() || out.back() != '/') out.push_back('/');
    return out.append(name);
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::optional<uint64_t> parseU64(std::string_view s) {
    s = trim(s);
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::optional<uint64_t> keyedValue(std::string_view content, std::string_view key) {
    for (const std::string& line : split(content, '\n')) {
        std::string_view l = line;
        size_t sp = l.find(' ');
        if (sp != std::string_view::npos && l.substr(0, sp) == key) {
            return parseU64(l.substr(sp + 1));
        }
    }
    return std::nullopt;
}

std::vector<pid_t> parsePids(std::string_view content) {
    std::vector<pid_t> pids;
    for (const std::string& tok : split(content, '\n')) {
        auto v = parseU64(tok);
        if (v && *v > 0 && *v <= INT_MAX) pids.push_back(static_cast<pid_t>(*v));
    }
    return pids;
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    while (!s.empty()) {
        size_t i = s.find(sep);
        std::string_view part = s.substr(0, i);
        if (!part.empty()) out.emplace_back(part);
        if (i == std::string_view::npos) break;
        s.remove_prefix(i + 1);
    }
    return out;
}

Result<std::vector<OwnCgroup>> parseProcSelfCgroup(std::string_view content,
                                                   const std::string& source) {
    std::vector<OwnCgroup> out;
    for (const std::string& line : split(content, '\n')) {
        size_t a = line.find(':');
        size_t b = a == std::string::npos ? a : line.find(':', a + 1);
        bool idOk = a != std::string::npos && a > 0 &&
                    std::all_of(line.begin(), line.begin() + a,
                                [](char c) { return c >= '0' && c <= '9'; });
        if (!idOk || b == std::string::npos || b + 1 >= line.size() || line[b + 1] != '/') {
            std::string why = "cgroup: cannot parse " + source + ": line '" + line + "'";
            return makeError(ErrorKind::kSandboxUnavailable, why + " is not 'id:controllers:/path'");
        }
        std::string list = line.substr(a + 1, b - a - 1);
        out.push_back(OwnCgroup{list, split(list, ','), line.substr(b + 1)});
    }
    if (out.empty()) {
        return makeError(ErrorKind::kSandboxUnavailable, "cgroup: " + source + " lists no cgroup");
    }
    return out;
}

std::vector<MountEntry> parseMountinfo(std::string_view content) {
    std::vector<MountEntry> out;
    for (const std::string& line : split(content, '\n')) {
        std::vector<std::string> f = split(line, ' ');
        auto dash = std::find(f.begin(), f.end(), "-");
        if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) continue;
        out.push_back(MountEntry{unescapeOctal(f[3]), unescapeOctal(f[4]), *(dash + 1),
                                 split(*(dash + 3), ',')});
    }
    return out;
}

FsKind fsKind(const std::string& path) {
    struct statfs sf {};
    if (::statfs(path.c_str(), &sf) != 0) return FsKind::kMissing;
    if (sf.f_type == CGROUP_SUPER_MAGIC) return FsKind::kCgroup1;
    if (sf.f_type == CGROUP2_SUPER_MAGIC) return FsKind::kCgroup2;
    return FsKind::kOther;
}

std::vector<std::string> childDirs(const std::string& dir, std::string_view prefix) {
    std::vector<std::string> out;
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return out;
    DIR* d = ::fdopendir(fd.get());
    if (d == nullptr) return out;
    fd.release();  // closedir closes it
    while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == ".." || name.substr(0, prefix.size()) != prefix) continue;
        struct stat st {};
        if (::fstatat(::dirfd(d), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode)) {
            out.emplace_back(name);
        }
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

void sleepMs(int ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

Status removeDir(const std::string& path, bool fake) {
    auto deadline = Clock::now() + std::chrono::seconds(1);
    for (int delay = 1;; delay = std::min(delay * 2, 50)) {
        if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return okStatus();
        int err = errno;
        if (err == ENOTEMPTY && fake) {
            unlinkRegularFiles(path);
            if (::rmdir(path.c_str()) == 0) return okStatus();
            err = errno;
        }
        // EBUSY: processes that were just killed have not all left yet.
        if (err != EBUSY || Clock::now() > deadline) return sysError("cannot remove", path, err);
        sleepMs(delay);
    }
}

Status killUntilEmpty(const std::vector<std::string>& procsFiles, const std::string& freezeFile) {
    auto deadline = Clock::now() + std::chrono::seconds(2);
    for (int delay = 1;; delay = std::min(delay * 2, 20)) {
        if (!freezeFile.empty()) (void)writeFile(freezeFile, "1", false);
        std::set<pid_t> pids;
        for (const std::string& f : procsFiles) {
            Result<std::string> r = readFile(f);
            if (!r.ok() && r.error().err == ENOENT) continue;  // the cgroup is gone: empty
            if (!r.ok()) return r.error();
            for (pid_t p : parsePids(r.value())) pids.insert(p);
        }
        // A pid read here belongs to the cgroup; it could only be reused by
        // an outside process if the whole pid space wrapped within this loop.
        for (pid_t p : pids) ::kill(p, SIGKILL);
        if (!freezeFile.empty()) (void)writeFile(freezeFile, "0", false);
        if (pids.empty()) return okStatus();
        if (Clock::now() > deadline) {
            return sysError(std::to_string(pids.size()) + " processes survive SIGKILL for 2 s in",
                            procsFiles.front(), EBUSY);
        }
        sleepMs(delay);
    }
}

Result<std::string> runDirName(std::string_view name) {
    if (name.empty() || name.size() > 200 || name == "." || name == ".." ||
        name.find_first_of(std::string_view("/\0\n", 3)) != std::string_view::npos) {
        return makeError(ErrorKind::kInternal,
                         "cgroup: invalid run name '" + std::string(name) + "'");
    }
    return "run-" + std::string(name);
}

const MountEntry* findMount(const DetectContext& ctx, const std::string& mountPoint) {
    char real[PATH_MAX];
    if (::realpath(mountPoint.c_str(), real) == nullptr) return nullptr;
    for (const MountEntry& m : ctx.mounts) {
        if (m.mountPoint == real) return &m;
    }
    return nullptr;
}

Result<std::string> pathUnderMount(const DetectContext& ctx, const std::string& mountPoint,
                                   const std::string& ownPath) {
    std::string rel = ownPath;
    const MountEntry* m = findMount(ctx, mountPoint);
    if (m != nullptr && m->root != "/") {
        if (ownPath != m->root && ownPath.rfind(m->root + "/", 0) != 0) {
            return makeError(ErrorKind::kSandboxUnavailable,
                             "cgroup: pyexecd's cgroup " + ownPath +
                                 " is outside the hierarchy mounted at " + mountPoint +
                                 " (its root is " + m->root + ")");
        }
        rel = ownPath.substr(m->root.size());
    }
    std::string dir = join(mountPoint, rel);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return sysError("pyexecd's cgroup is not at", dir, errno);
    return dir;
}

Status requireNoSwap(const std::string& missingFile, const std::string& meminfo) {
    std::string text = meminfo;
    if (text.empty()) {
        Result<std::string> real = readFile("/proc/meminfo");
        if (!real.ok()) return real.error();
        text = real.value();
    }
    // "SwapTotal:       0 kB"
    for (const std::string& line : split(text, '\n')) {
        if (line.rfind("SwapTotal:", 0) != 0) continue;
        std::string value = line.substr(10);
        value.erase(0, value.find_first_not_of(' '));
        value = value.substr(0, value.find(' '));
        if (parseU64(value) == std::optional<uint64_t>(0)) return okStatus();
    }
    return makeError(ErrorKind::kSandboxUnavailable,
                     missingFile + " is missing (the kernel does not account swap) but this host has swap, so a run "
                     "could swap past its memory limit; boot with swapaccount=1 (v1) or turn swap off");
}

}  // namespace cg

namespace {

// mountinfo sits next to the cgroup file (/proc/self/); tests may omit it.
Result<cg::DetectContext> loadContext(const CgroupOptions& options) {
    cg::DetectContext ctx{options, options.self != 0 ? options.self : ::getpid(), {}, {}};
    Result<std::string> text = cg::readFile(options.procSelfCgroup);
    if (!text.ok()) return text.error();
    auto own = cg::parseProcSelfCgroup(text.value(), options.procSelfCgroup);
    if (!own.ok()) return own.error();
    ctx.own = std::move(own.value());
    std::string dir = options.procSelfCgroup.substr(0, options.procSelfCgroup.rfind('/') + 1);
    Result<std::string> mi = cg::readFile(dir + "mountinfo");
    if (mi.ok()) ctx.mounts = cg::parseMountinfo(mi.value());
    return ctx;
}

Result<std::unique_ptr<CgroupManager>> detectAndSetup(const cg::DetectContext& ctx) {
    const std::string& force = ctx.options.forceBackend;
    if (force == "v2" || force.empty()) {
        Result<cg::V2Plan> v2 = cg::detectV2(ctx);
        if (v2.ok()) return cg::setupV2(v2.value());
        if (!force.empty()) return v2.error();
        Result<cg::V1Plan> v1 = cg::detectV1(ctx);
        if (v1.ok()) return cg::setupV1(v1.value(), ctx.self);
        return makeError(ErrorKind::kSandboxUnavailable,
                         "no usable cgroups for cpu, memory and pids: v2: " + v2.error().message +
                             "; v1: " + v1.error().message);
    }
    Result<cg::V1Plan> v1 = cg::detectV1(ctx);
    if (!v1.ok()) return v1.error();
    return cg::setupV1(v1.value(), ctx.self);
}

}  // namespace

Result<std::unique_ptr<CgroupManager>> CgroupManager::create(const CgroupOptions& options) {
    const std::string& force = options.forceBackend;
    if (!force.empty() && force != "v1" && force != "v2") {
        return makeError(ErrorKind::kConfig,
                         "cgroup backend '" + force + "' is not \"v1\" or \"v2\"");
    }
    Result<cg::DetectContext> ctx = loadContext(options);
    if (!ctx.ok()) return ctx.error();
    return detectAndSetup(ctx.value());
}

}  // namespace pyexec::sandbox
