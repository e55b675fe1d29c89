// Descriptors of one run, on the worker's side: sealed memfds for the
// program's stdin and the harness input, pipes for stdout, stderr and the
// harness's records. The child ends are closed once the sandbox is launched.
#pragma once

#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace pyexec::runner {

struct RunIo {
    UniqueFd stdinChild, inputChild;           // read-only, sealed memfds
    UniqueFd outRead, outChild;                // stdout
    UniqueFd errRead, errChild;                // stderr
    UniqueFd resultRead, resultChild;          // harness records
    void closeChildEnds();
};

// Creates everything; read ends are non-blocking. Worker process.
Result<RunIo> makeRunIo(std::string_view stdinData, std::string_view harnessInput);

}  // namespace pyexec::runner
