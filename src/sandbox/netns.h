// The network namespace runs share (SPEC §5 step 2 allows one empty
// namespace joined with setns instead of a new one per run, provided runs
// cannot reach each other through it).
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"
#include "sandbox/seccomp.h"

namespace pyexec::sandbox {

// Creates a network namespace holding only its loopback interface, left
// down, and returns an fd that keeps it alive. Master, as root.
Result<UniqueFd> createEmptyNetns();

// Whether programs under this profile cannot rendezvous through AF_UNIX
// (abstract socket names are per network namespace, the one thing two runs
// in a shared namespace could meet through): a child applies the profile and
// tries bind, connect, and the kernel's autobind (SO_PASSCRED then a send).
// True when none of them gives the socket a name.
bool blocksUnixRendezvous(const SeccompProgram& profile);

}  // namespace pyexec::sandbox
