// Why a curated /etc: Python needs only a few files from it (the dynamic
// loader's cache, time zone, Debian's python config, the BLAS alternatives
// that numpy's libraries resolve through); binding all of /etc would show
// the host's configuration to hostile code. passwd/group/hosts are written
// fresh so the sandbox uid has a name and "localhost" resolves.
#include "sandbox/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pyexec::sandbox {
namespace {

constexpr unsigned long kRoBind = MS_BIND | MS_REC;
constexpr unsigned long kRoRemount = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;

// Top-level directories that are either bound read-only or, on merged-/usr
// hosts, symlinks into /usr (recreated as symlinks).
constexpr const char* kTopDirs[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"};
// Entries of /etc that are bound read-only when the host has them.
constexpr const char* kEtcEntries[] = {"ld.so.cache", "localtime", "timezone", "alternatives",
                                       "python3", "python3.11", "mime.types", "nsswitch.conf",
                                       "matplotlibrc", "fonts"};
constexpr const char* kDevNodes[] = {"null", "zero", "full", "random", "urandom"};
// /dev/shm: multiprocessing's locks (sem_open) and shared memory live there.
// Each run gets its own, small, and gone with the run's mount namespace; its
// pages are charged to the memory cgroup of the process that writes them
// (the run's), like /tmp's, so they count against the run's memory limit.
constexpr const char* kShmOptions = "size=16m,nr_inodes=1024,mode=1777";

// What /proc shows of the host, hidden as Docker's defaults hide it (SPEC
// S10), plus the two files that tell one boot (or one host) from another.
// Masks inside /proc/sys come before /proc/sys turns read-only, which then
// carries them along (a recursive bind).
enum class ProcMask { kEmptyFile, kEmptyDir, kReadOnly };
constexpr struct {
    const char* path;
    ProcMask how;
} kProcMasks[] = {
    {"kcore", ProcMask::kEmptyFile},       {"keys", ProcMask::kEmptyFile},
    {"timer_list", ProcMask::kEmptyFile},  {"sched_debug", ProcMask::kEmptyFile},
    {"latency_stats", ProcMask::kEmptyFile}, {"timer_stats", ProcMask::kEmptyFile},
    {"cmdline", ProcMask::kEmptyFile},     {"sys/kernel/random/boot_id", ProcMask::kEmptyFile},
    {"acpi", ProcMask::kEmptyDir},         {"scsi", ProcMask::kEmptyDir},
    {"asound", ProcMask::kEmptyDir},
    {"sys", ProcMask::kReadOnly},          {"sysrq-trigger", ProcMask::kReadOnly},
    {"irq", ProcMask::kReadOnly},          {"bus", ProcMask::kReadOnly},
    {"fs", ProcMask::kReadOnly},
};

struct Path {
    char buf[512];
};

bool join(Path* out, const char* a, const char* b) {
    int n = std::snprintf(out->buf, sizeof out->buf, "%s/%s", a, b);
    return n > 0 && static_cast<size_t>(n) < sizeof out->buf;
}

int makeFile(const char* path, mode_t mode) {
    int fd = ::open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return errno;
    ::close(fd);
    return 0;
}

int writeFile(const char* path, const char* text) {
    int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return errno;
    size_t len = std::strlen(text);
    ssize_t w = ::write(fd, text, len);
    int err = (w == static_cast<ssize_t>(len)) ? 0 : (w < 0 ? errno : EIO);
    ::close(fd);
    return err;
}

// Binds src read-only (nosuid, nodev) onto dst, creating dst like src.
int bindReadOnly(const char* src, const char* dst) {
    struct stat st{};
    if (::stat(src, &st) != 0) return errno;
    int err = S_ISDIR(st.st_mode) ? (::mkdir(dst, 0755) == 0 ? 0 : errno) : makeFile(dst, 0644);
    if (err != 0 && err != EEXIST) return err;
    if (::mount(src, dst, nullptr, kRoBind, nullptr) != 0) return errno;
    if (::mount(nullptr, dst, nullptr, kRoRemount, nullptr) != 0) return errno;
    return 0;
}

// Recreates a host symlink (such as /bin -> usr/bin) inside the new root.
int copySymlink(const char* src, const char* dst) {
    char target[256];
    ssize_t n = ::readlink(src, target, sizeof target - 1);
    if (n < 0) return errno;
    target[n] = '\0';
    return ::symlink(target, dst) == 0 ? 0 : errno;
}

int addTopDirs(const char* root, int* item) {
    for (const char* name : kTopDirs) {
        Path src, dst;
        if (!join(&src, "", name) || !join(&dst, root, name)) return ENAMETOOLONG;
        struct stat st{};
        if (::lstat(src.buf, &st) != 0) continue;  // e.g. no /lib32 on this host
        int err = S_ISLNK(st.st_mode) ? copySymlink(src.buf, dst.buf) : bindReadOnly(src.buf, dst.buf);
        if (err != 0) return err;
        ++*item;
    }
    return 0;
}

int addEtc(const SandboxConfig& config, const char* root, int* item) {
    Path etc;
    if (!join(&etc, root, "etc") || ::mkdir(etc.buf, 0755) != 0) return errno ? errno : ENAMETOOLONG;
    for (const char* name : kEtcEntries) {
        Path src, dst;
        if (!join(&src, "/etc", name) || !join(&dst, etc.buf, name)) return ENAMETOOLONG;
        struct stat st{};
        if (::lstat(src.buf, &st) != 0) continue;
        int err = S_ISLNK(st.st_mode) ? copySymlink(src.buf, dst.buf) : bindReadOnly(src.buf, dst.buf);
        if (err != 0) return err;
        ++*item;
    }
    char text[256];
    Path p;
    std::snprintf(text, sizeof text, "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:%u:%u:sandbox:/tmp:/usr/sbin/nologin\n",
                  config.uid, config.gid);
    if (!join(&p, etc.buf, "passwd")) return ENAMETOOLONG;
    if (int err = writeFile(p.buf, text)) return err;
    std::snprintf(text, sizeof text, "root:x:0:\nsandbox:x:%u:\n", config.gid);
    if (!join(&p, etc.buf, "group")) return ENAMETOOLONG;
    if (int err = writeFile(p.buf, text)) return err;
    if (!join(&p, etc.buf, "hosts")) return ENAMETOOLONG;
    return writeFile(p.buf, "127.0.0.1 localhost\n::1 localhost\n");
}

int addDev(const char* root, int* item) {
    Path dev;
    if (!join(&dev, root, "dev") || ::mkdir(dev.buf, 0755) != 0) return errno ? errno : ENAMETOOLONG;
    if (::mount("tmpfs", dev.buf, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") != 0) return errno;
    for (const char* name : kDevNodes) {
        Path src, dst;
        if (!join(&src, "/dev", name) || !join(&dst, dev.buf, name)) return ENAMETOOLONG;
        if (int err = makeFile(dst.buf, 0666)) return err;
        // A bind keeps the device usable although the tmpfs is not nodev.
        if (::mount(src.buf, dst.buf, nullptr, MS_BIND, nullptr) != 0) return errno;
        ++*item;
    }
    Path shm;
    if (!join(&shm, dev.buf, "shm") || ::mkdir(shm.buf, 0755) != 0) return errno ? errno : ENAMETOOLONG;
    if (::mount("tmpfs", shm.buf, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, kShmOptions) != 0) return errno;
    ++*item;
    const char* links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                              {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
    for (auto& l : links) {
        Path dst;
        if (!join(&dst, dev.buf, l[1]) || ::symlink(l[0], dst.buf) != 0) return errno ? errno : ENAMETOOLONG;
    }
    return ::mount(nullptr, dev.buf, nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") == 0
               ? 0 : errno;
}

int maskProc(const char* proc, int* item) {
    constexpr unsigned long kRo = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    for (const auto& m : kProcMasks) {
        Path p;
        if (!join(&p, proc, m.path)) return ENAMETOOLONG;
        ++*item;
        if (::access(p.buf, F_OK) != 0) continue;  // not in this kernel
        switch (m.how) {
            case ProcMask::kEmptyFile:  // the host's /dev/null (so not nodev): reads as empty
                if (::mount("/dev/null", p.buf, nullptr, MS_BIND, nullptr) != 0) return errno;
                if (::mount(nullptr, p.buf, nullptr, kRo & ~MS_NODEV, nullptr) != 0) return errno;
                break;
            case ProcMask::kEmptyDir:
                if (::mount("tmpfs", p.buf, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                            "size=4k,nr_inodes=1,mode=0555") != 0) {
                    return errno;
                }
                break;
            case ProcMask::kReadOnly:
                if (::mount(p.buf, p.buf, nullptr, MS_BIND | MS_REC, nullptr) != 0) return errno;
                if (::mount(nullptr, p.buf, nullptr, kRo, nullptr) != 0) return errno;
                break;
        }
    }
    return 0;
}

int addProcAndTmp(const SandboxConfig& config, const char* root, int* item) {
    Path proc, tmp;
    if (!join(&proc, root, "proc") || !join(&tmp, root, "tmp")) return ENAMETOOLONG;
    if (::mkdir(proc.buf, 0555) != 0 || ::mkdir(tmp.buf, 0755) != 0) return errno;
    // hidepid: the init (not dumpable) vanishes from the program's /proc
    // altogether; "invisible" needs Linux 5.8, "2" is the older spelling.
    constexpr unsigned long kProcFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (::mount("proc", proc.buf, "proc", kProcFlags, "hidepid=invisible") != 0 &&
        (errno != EINVAL || ::mount("proc", proc.buf, "proc", kProcFlags, "hidepid=2") != 0)) {
        return errno;
    }
    if (int err = maskProc(proc.buf, item)) return err;
    char opts[128];
    std::snprintf(opts, sizeof opts, "size=%llu,nr_inodes=%llu,mode=0700,uid=%u,gid=%u",
                  static_cast<unsigned long long>(config.tmpBytes),
                  static_cast<unsigned long long>(config.tmpInodes), config.uid, config.gid);
    if (::mount("tmpfs", tmp.buf, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0) return errno;
    return 0;
}

// pivot_root(".", ".") stacks the old root under the new one; detaching it
// leaves only the new root (the trick documented in pivot_root(2)).
int pivotInto(const char* root) {
    if (::chdir(root) != 0) return errno;
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return errno;
    if (::umount2(".", MNT_DETACH) != 0) return errno;
    if (::chdir("/") != 0) return errno;
    if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) return errno;
    return ::chdir("/tmp") == 0 ? 0 : errno;
}

}  // namespace

int buildRoot(const SandboxConfig& config, int* failedItem) noexcept {
    const char* root = config.rootMountPoint.c_str();
    *failedItem = 0;
    // Nothing we mount may propagate back to the host.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
    *failedItem = 1;
    if (::mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") != 0) return errno;
    int item = 100;
    if (int err = addTopDirs(root, &item)) return *failedItem = item, err;
    item = 200;
    if (int err = addEtc(config, root, &item)) return *failedItem = item, err;
    item = 300;
    if (int err = addDev(root, &item)) return *failedItem = item, err;
    item = 400;
    if (int err = addProcAndTmp(config, root, &item)) return *failedItem = item, err;
    *failedItem = 500;
    return pivotInto(root);
}

}  // namespace pyexec::sandbox
