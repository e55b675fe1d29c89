// The embedded interpreter of warm mode (the only file that includes
// Python.h). Used in a worker's zygote process only: the interpreter is
// initialised once, with the same settings as the cold command line
// (`python3 -u -B -s`) and the fixed environment, and the modules of the
// warm image (warm_image.h) are imported and warmed up; every run's
// program process is then a fork of it, and runs the harness without an exec.
#pragma once

#include <span>
#include <string>

#include "common/result.h"
#include "runner/warm_image.h"

namespace pyexec::runner {

// Zygote: initialises the interpreter, imports `modules` and warms up those
// that have a warm-up (matplotlib draws a figure, pytest runs a small
// session), writing only into `privateFolder` (an empty folder of its own),
// which it removes, then learns their working sets (working_set.h). The
// environment must already be the sandbox's fixed one.
Status initEmbeddedPython(std::span<const WarmModule> modules, const std::string& privateFolder);

// Program process, after fork and with every sandbox step applied: runs the
// embedded harness; the harness leaves with os._exit. Never returns.
[[noreturn]] void runEmbeddedHarness() noexcept;
// Zygote, before it forks a program: whether that program writes pytest's
// working set ahead too (after the base set), for a sandbox kept for pytest
// exercises (runner.h).
void setPytestWriteAhead(bool on) noexcept;

}  // namespace pyexec::runner
