// The I/O of one run on the worker's side, and nothing else: capped reads of
// the program's output pipes, and writes of its inputs as it reads them. It
// knows no process, deadline or sandbox: the runner's watch loop polls its
// descriptors beside its own and calls service() when poll returns. Every
// descriptor is non-blocking (run_io.h), so service() never blocks.
#pragma once

#include <poll.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"

namespace pyexec::runner {

class IoWatch {
public:
    // One output pipe read into `sink`, at most `cap` bytes kept; more
    // marks it overflowed (the bytes past the cap are read and dropped).
    struct Output {
        int fd;
        std::string* sink;
        size_t cap;
        bool open = true;
        bool overflowed = false;
    };
    // One input written into its pipe as the reader takes it, then closed
    // (EOF). `fd` is owned by the caller; it is reset when done or when the
    // reader is gone (EPIPE: SIGPIPE must be ignored).
    struct Input {
        UniqueFd* fd;
        std::string_view data;
        size_t done = 0;
    };

    IoWatch(std::vector<Output> outputs, std::vector<Input> inputs);

    // Appends what this watch waits on (open outputs: POLLIN; unfinished
    // inputs: POLLOUT) to `fds`.
    void addPollFds(std::vector<pollfd>* fds) const;
    // Reads every open output and writes every pending input, as far as
    // each can go now.
    void service();
    // After the run: reads what is left until every output is at EOF, or
    // `ms` have passed (a leftover process may hold a pipe open).
    void drainFor(double ms);

    bool outputsClosed() const;
    const Output& output(size_t i) const { return outputs_[i]; }

private:
    std::vector<Output> outputs_;
    std::vector<Input> inputs_;
};

}  // namespace pyexec::runner
