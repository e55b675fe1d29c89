// Settings of the sandbox that every run gets (SPEC §5), fixed at start-up.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "sandbox/cgroup.h"

namespace pyexec::sandbox {

class SeccompProgram;

// The plain values of the settings. Trivially copyable: the warm zygote
// receives them as one block, so a field added here cannot be forgotten on
// the way.
struct SandboxLimits {
    uid_t uid = 1000;
    gid_t gid = 1000;
    uint64_t tmpBytes = 64ull << 20;
    uint64_t tmpInodes = 16384;
    uint64_t fileSizeBytes = 64ull << 20;
    int openFiles = 256;
};
static_assert(std::is_trivially_copyable_v<SandboxLimits>);

struct SandboxConfig : SandboxLimits {
    std::string python = "/usr/bin/python3";
    std::string rootMountPoint = "/run/pyexecd/root";  // empty dir the new root is mounted on
    CgroupLimits cgroup;
    const SeccompProgram* seccomp = nullptr;  // owned by the engine; required
    // An empty network namespace (only a loopback, down) shared by all runs
    // and joined with setns; -1: each run gets a new one (slower: creating
    // and destroying network namespaces serialises in the kernel).
    int sharedNetnsFd = -1;
};

}  // namespace pyexec::sandbox
