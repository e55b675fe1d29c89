#include "runner/io_watch.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/clock.h"

namespace pyexec::runner {
namespace {

void drain(IoWatch::Output& o) {
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(o.fd, buf, sizeof buf);
        if (n > 0) {
            size_t room = o.cap > o.sink->size() ? o.cap - o.sink->size() : 0;
            o.sink->append(buf, std::min(room, static_cast<size_t>(n)));
            if (static_cast<size_t>(n) > room) o.overflowed = true;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || errno != EAGAIN) o.open = false;  // EOF, or a pipe that cannot be read
        return;
    }
}

void pump(IoWatch::Input& in) {
    while (in.fd->valid() && in.done < in.data.size()) {
        ssize_t n = ::write(in.fd->get(), in.data.data() + in.done, in.data.size() - in.done);
        if (n > 0) {
            in.done += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return;
        } else {
            in.fd->reset();  // EPIPE: the program stopped reading
        }
    }
    in.fd->reset();  // all written: EOF for the reader
}

}  // namespace

IoWatch::IoWatch(std::vector<Output> outputs, std::vector<Input> inputs)
    : outputs_(std::move(outputs)), inputs_(std::move(inputs)) {}

void IoWatch::addPollFds(std::vector<pollfd>* fds) const {
    for (const Output& o : outputs_)
        if (o.open) fds->push_back({o.fd, POLLIN, 0});
    for (const Input& in : inputs_)
        if (in.fd->valid()) fds->push_back({in.fd->get(), POLLOUT, 0});
}

void IoWatch::service() {
    for (Input& in : inputs_) pump(in);
    for (Output& o : outputs_)
        if (o.open) drain(o);
}

void IoWatch::drainFor(double ms) {
    double until = clock::monotonicMs() + ms;
    for (;;) {
        std::vector<pollfd> fds;
        for (const Output& o : outputs_)
            if (o.open) fds.push_back({o.fd, POLLIN, 0});
        double left = until - clock::monotonicMs();
        if (fds.empty() || left <= 0) return;
        ::poll(fds.data(), fds.size(), static_cast<int>(left) + 1);
        for (Output& o : outputs_)
            if (o.open) drain(o);
    }
}

bool IoWatch::outputsClosed() const {
    return std::none_of(outputs_.begin(), outputs_.end(), [](const Output& o) { return o.open; });
}

}  // namespace pyexec::runner
