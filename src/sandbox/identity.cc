#include "sandbox/identity.h"

#include <cap-ng.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

namespace pyexec::sandbox {

int changeIdentity(const SandboxConfig& config) noexcept {
    if (config.uid == 0 || config.gid == 0) return EPERM;  // never run user code as root
    // The bounding set can only be dropped while we hold CAP_SETPCAP, so it
    // goes first; the uid change below then clears permitted and effective.
    capng_clear(CAPNG_SELECT_ALL);
    if (capng_apply(CAPNG_SELECT_BOUNDS) != 0) return EPERM;
    // Without CAP_SETPCAP libcap-ng leaves the bounding set as it is and
    // still returns 0 (found by tests/e2e/test_deploy.py): read it back, and
    // fail the step rather than run a program with a bounding set.
    for (int cap = 0; cap < 64; ++cap)
        if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) return EPERM;
    if (capng_apply(CAPNG_SELECT_AMBIENT) != 0) return EPERM;
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return errno;
    if (::setgroups(0, nullptr) != 0) return errno;
    if (::setresgid(config.gid, config.gid, config.gid) != 0) return errno;
    if (::setresuid(config.uid, config.uid, config.uid) != 0) return errno;
    return 0;
}

int dropCapabilities() noexcept {
    // Inheritable survives a uid change; clear it (and anything left) explicitly.
    capng_clear(CAPNG_SELECT_BOTH);
    if (capng_apply(CAPNG_SELECT_CAPS) != 0) return EPERM;
    // Keep /proc/<init>/ unreadable to the program (same uid); exec of the
    // program resets this for the program itself.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return errno;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    return 0;
}

int applyRlimits(const SandboxConfig& config, int cpuSeconds) noexcept {
    const struct {
        int resource;
        rlim_t value;
    } limits[] = {
        {RLIMIT_CORE, 0},
        {RLIMIT_NOFILE, static_cast<rlim_t>(config.openFiles)},
        {RLIMIT_FSIZE, static_cast<rlim_t>(config.fileSizeBytes)},
        {RLIMIT_CPU, static_cast<rlim_t>(cpuSeconds)},
    };
    for (const auto& l : limits) {
        rlimit r{l.value, l.value};
        if (::setrlimit(l.resource, &r) != 0) return errno;
    }
    return 0;
}

}  // namespace pyexec::sandbox
