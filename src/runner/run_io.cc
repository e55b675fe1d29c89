#include "runner/run_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace pyexec::runner {
namespace {

Error ioError(const char* what) {
    return makeError(ErrorKind::kInternal, std::string(what) + ": " + std::strerror(errno), {}, errno);
}

// A pipe whose worker end (the read end, or the write end) is non-blocking.
Status makePipe(UniqueFd* readEnd, UniqueFd* writeEnd, bool workerReads) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return ioError("pipe2");
    readEnd->reset(fds[0]);
    writeEnd->reset(fds[1]);
    if (::fcntl(workerReads ? fds[0] : fds[1], F_SETFL, O_NONBLOCK) != 0) return ioError("fcntl O_NONBLOCK");
    return okStatus();
}

}  // namespace

void RunIo::closeChildEnds() {
    stdinChild.reset();
    inputChild.reset();
    outChild.reset();
    errChild.reset();
    resultChild.reset();
}

Result<RunIo> makeRunIo() {
    RunIo io;
    Status s = makePipe(&io.stdinChild, &io.stdinWrite, false);
    if (s) s = makePipe(&io.inputChild, &io.inputWrite, false);
    if (s) s = makePipe(&io.outRead, &io.outChild, true);
    if (s) s = makePipe(&io.errRead, &io.errChild, true);
    if (s) s = makePipe(&io.resultRead, &io.resultChild, true);
    if (!s) return s.error();
    return io;
}

}  // namespace pyexec::runner
