// The sandbox's filesystem (SPEC §5 step 3). Runs in the sandbox's init,
// inside its new mount and pid namespaces, as root, before identity changes.
#pragma once

#include "sandbox/sandbox_config.h"

namespace pyexec::sandbox {

// Builds the new root on config.rootMountPoint and pivots into it:
//   /usr, /etc/<curated>            read-only binds (nosuid, nodev)
//   /bin /lib /lib64 /sbin          binds, or symlinks where the host has them (merged /usr)
//   /proc                           fresh, for the new pid namespace; what Docker masks
//                                   is empty or read-only (kProcMasks in mounts.cc)
//   /dev                            tmpfs with null zero full random urandom bound in,
//                                   and shm: a small rw tmpfs (noexec nosuid nodev) of its own
//   /tmp                            empty tmpfs, rw, noexec nosuid nodev, owned by the sandbox uid
//   /                               tmpfs, remounted read-only; the old root detached
// Returns 0, or an errno with *failedItem set to the index of the failing
// item (for the worker's log). Allocates nothing.
int buildRoot(const SandboxConfig& config, int* failedItem) noexcept;

}  // namespace pyexec::sandbox
