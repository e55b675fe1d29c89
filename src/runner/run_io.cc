#include "runner/run_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace pyexec::runner {
namespace {

Error ioError(const char* what) {
    return makeError(ErrorKind::kInternal, std::string(what) + ": " + std::strerror(errno), {}, errno);
}

// A memfd holding `data`, sealed against any change, reopened read-only so
// the program cannot write to it either: it is only ever an input.
Result<UniqueFd> sealedMemfd(const char* name, std::string_view data) {
    UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd.valid()) return ioError("memfd_create");
    size_t done = 0;
    while (done < data.size()) {
        ssize_t w = ::write(fd.get(), data.data() + done, data.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return ioError("write memfd");
        done += static_cast<size_t>(w);
    }
    int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
    if (::fcntl(fd.get(), F_ADD_SEALS, seals) != 0) return ioError("seal memfd");
    std::string path = "/proc/self/fd/" + std::to_string(fd.get());
    UniqueFd ro(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ro.valid()) return ioError("reopen memfd");
    return ro;
}

Status makePipe(UniqueFd* readEnd, UniqueFd* writeEnd) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return ioError("pipe2");
    readEnd->reset(fds[0]);
    writeEnd->reset(fds[1]);
    if (::fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) return ioError("fcntl O_NONBLOCK");
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

Result<RunIo> makeRunIo(std::string_view stdinData, std::string_view harnessInput) {
    RunIo io;
    auto in = sealedMemfd("pyexec-stdin", stdinData);
    if (!in) return in.error();
    io.stdinChild = std::move(in.value());
    auto input = sealedMemfd("pyexec-input", harnessInput);
    if (!input) return input.error();
    io.inputChild = std::move(input.value());
    for (auto [r, w] : {std::pair{&io.outRead, &io.outChild}, std::pair{&io.errRead, &io.errChild},
                        std::pair{&io.resultRead, &io.resultChild}}) {
        if (Status s = makePipe(r, w); !s) return s.error();
    }
    return io;
}

}  // namespace pyexec::runner
