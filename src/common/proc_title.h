// A sandbox's init is a clone of a worker and, without an exec, shows the
// worker's command line (socket path, state folder, build folder) in
// /proc/1/cmdline, which is readable by any process. main() remembers where
// the argument and environment strings live; the init wipes them.
#pragma once

namespace pyexec::proctitle {

// main(), before anything else: records the [argv[0], end of environ) area.
void remember(int argc, char** argv);

// Zeroes that area in the calling process. Async-signal-safe; allocates nothing.
void wipe() noexcept;

}  // namespace pyexec::proctitle
