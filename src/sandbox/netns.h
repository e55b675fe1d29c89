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

// Whether programs under this profile can rendezvous through AF_UNIX: a
// child applies the profile and tries to bind and connect an abstract unix
// socket (the only kind of address two runs in one network namespace could
// share). True when both calls are refused by the filter (EPERM).
bool blocksUnixRendezvous(const SeccompProgram& profile);

}  // namespace pyexec::sandbox
