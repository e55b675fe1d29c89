// Clocks, in one place: a monotonic one for durations and deadlines, and the
// wall clock for timestamps and for comparing with nginx's $msec.
#pragma once

#include <string>

namespace pyexec::clock {

// CLOCK_MONOTONIC in milliseconds (durations, deadlines).
double monotonicMs();
// Wall-clock time in milliseconds since the epoch.
double wallMs();
// The wall clock as ISO 8601 UTC with milliseconds: 2026-11-21T23:40:05.138Z.
std::string isoNow();

}  // namespace pyexec::clock
