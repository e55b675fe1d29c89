// A worker's sign of life for the master's watchdog (server/master.cc): the
// worker points it at its slot of the shared table, and every loop that waits
// (for a connection, a sandbox, a program, a teardown) beats at least once a
// second. A worker whose beat is older than the watchdog's limit is stuck
// somewhere no wait is bounded, and is replaced.
#pragma once

#include <atomic>
#include <cstdint>

namespace pyexec::heartbeat {

// Where beats go (nullptr: nowhere, e.g. `pyexecd run`). Worker, at start.
void attach(std::atomic<int64_t>* slot);
// Now, in CLOCK_MONOTONIC ms. Cheap: one clock read and one store.
void beat();

// Longest a loop may wait between two beats.
inline constexpr int kMaxWaitMs = 1000;

}  // namespace pyexec::heartbeat
