// Descriptors of one run, on the worker's side: a pipe each for the
// program's stdin and the harness input (written by the worker once the
// request has arrived, which may be long after the sandbox was set up), and
// for stdout, stderr and the harness's records. The child ends are closed
// once the sandbox is launched. Nothing travels through a path (SPEC S8).
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

namespace pyexec::runner {

struct RunIo {
    UniqueFd stdinChild, stdinWrite;    // stdin
    UniqueFd inputChild, inputWrite;    // harness input (fd 3)
    UniqueFd outRead, outChild;         // stdout
    UniqueFd errRead, errChild;         // stderr
    UniqueFd resultRead, resultChild;   // harness records
    void closeChildEnds();
};

// Creates everything; the worker's ends are non-blocking. Worker process.
Result<RunIo> makeRunIo();

}  // namespace pyexec::runner
