// Identity, capabilities and rlimits of a sandbox (SPEC §5 steps 4–6). Each
// runs in the sandbox's init, in this order, and returns 0 or an errno.
#pragma once

#include "sandbox/sandbox_config.h"

namespace pyexec::sandbox {

// Clears the bounding and ambient sets while still root (libcap-ng), then
// becomes config.uid/gid with no supplementary groups.
int changeIdentity(const SandboxConfig& config) noexcept;

// Empties the remaining capability sets (libcap-ng) and sets
// PR_SET_NO_NEW_PRIVS, so no exec can gain privileges again.
int dropCapabilities() noexcept;

// core 0, open files, file size, and CPU seconds as a backstop to the wall
// timeout (the worker's timer is the real limit).
int applyRlimits(const SandboxConfig& config, int cpuSeconds) noexcept;

}  // namespace pyexec::sandbox
