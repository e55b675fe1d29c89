// Unit tests of src/runner/io_watch.cc and reaper.cc with real pipes and
// children: capped reads, paced writes, EOF and EPIPE, the bounded drain, and
// reaping without blocking (run under the sanitizers by make sanitize).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/unique_fd.h"
#include "runner/io_watch.h"
#include "runner/reaper.h"

#include <CppUTest/TestHarness.h>

using namespace pyexec;
using pyexec::runner::IoWatch;
using pyexec::runner::Reaper;

namespace {

struct Pipe {
    UniqueFd read, write;
};

Pipe nonBlockingPipe() {
    int fds[2];
    CHECK_EQUAL(0, ::pipe2(fds, O_CLOEXEC | O_NONBLOCK));
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Runs the watch until its outputs are closed and its inputs done, or `ms`.
void runFor(IoWatch& w, double ms) {
    double end = clock::monotonicMs() + ms;
    for (;;) {
        std::vector<pollfd> fds;
        w.addPollFds(&fds);
        if (fds.empty() || clock::monotonicMs() > end) return;
        ::poll(fds.data(), fds.size(), 50);
        w.service();
    }
}

}  // namespace

TEST_GROUP(IoWatch){};

TEST(IoWatch, ReadsAnOutputToEof) {
    Pipe p = nonBlockingPipe();
    std::string sink;
    IoWatch w({{p.read.get(), &sink, 1 << 20}}, {});
    std::thread writer([&] {
        int fd = p.write.release();
        ::fcntl(fd, F_SETFL, 0);
        std::string chunk(100000, 'x');
        for (int i = 0; i < 5; ++i) CHECK_EQUAL(100000, ::write(fd, chunk.data(), chunk.size()));
        ::close(fd);
    });
    runFor(w, 10000);
    writer.join();
    CHECK_TRUE(w.outputsClosed());
    CHECK_EQUAL(500000u, sink.size());
    CHECK_FALSE(w.output(0).overflowed);
}

TEST(IoWatch, KeepsAtMostTheCapAndSaysItOverflowed) {
    Pipe p = nonBlockingPipe();
    std::string sink;
    IoWatch w({{p.read.get(), &sink, 1000}}, {});
    std::thread writer([&] {
        int fd = p.write.release();
        ::fcntl(fd, F_SETFL, 0);
        std::string chunk(65536, 'y');
        for (int i = 0; i < 20; ++i) CHECK_EQUAL(65536, ::write(fd, chunk.data(), chunk.size()));
        ::close(fd);
    });
    runFor(w, 10000);
    writer.join();
    CHECK_EQUAL(1000u, sink.size());
    CHECK_TRUE(w.output(0).overflowed);
    CHECK_TRUE(w.outputsClosed());  // the rest was read and dropped, to EOF
}

TEST(IoWatch, WritesAnInputAsItIsReadThenClosesIt) {
    Pipe p = nonBlockingPipe();
    std::string data(3 << 20, 'z');  // far more than a pipe holds
    IoWatch w({}, {{&p.write, data}});
    std::string got;
    std::thread reader([&] {
        int fd = p.read.release();
        ::fcntl(fd, F_SETFL, 0);
        char buf[65536];
        for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
        ::close(fd);
    });
    runFor(w, 10000);
    reader.join();
    CHECK_FALSE(p.write.valid());  // closed: the reader saw EOF
    CHECK_EQUAL(data.size(), got.size());
}

TEST(IoWatch, AReaderThatGoesAwayEndsTheInput) {
    ::signal(SIGPIPE, SIG_IGN);
    Pipe p = nonBlockingPipe();
    std::string data(1 << 20, 'q');
    IoWatch w({}, {{&p.write, data}});
    p.read.reset();  // EPIPE on the first write
    runFor(w, 2000);
    CHECK_FALSE(p.write.valid());
}

TEST(IoWatch, TheDrainAfterARunIsBounded) {
    Pipe p = nonBlockingPipe();  // the write end stays open: a leftover holds it
    std::string sink;
    IoWatch w({{p.read.get(), &sink, 1 << 20}}, {});
    CHECK_EQUAL(3, ::write(p.write.get(), "abc", 3));
    double t0 = clock::monotonicMs();
    w.drainFor(100);
    double took = clock::monotonicMs() - t0;
    STRCMP_EQUAL("abc", sink.c_str());
    CHECK_FALSE(w.outputsClosed());
    CHECK_TRUE(took >= 90 && took < 5000);
}

TEST_GROUP(Reaper){};

TEST(Reaper, KeepsTheStatusOfExpectedChildrenAndReapsTheRest) {
    Reaper reaper;
    pid_t expected = ::fork();
    if (expected == 0) ::_exit(7);
    pid_t other = ::fork();
    if (other == 0) ::_exit(9);
    reaper.expect(expected);
    double end = clock::monotonicMs() + 5000;
    std::optional<int> status;
    while (!status && clock::monotonicMs() < end) {
        ::usleep(10000);
        reaper.reapExited();
        status = reaper.take(expected);
    }
    CHECK_TRUE(status.has_value());
    CHECK_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 7);
    CHECK_FALSE(reaper.take(expected).has_value());  // taken once
    // The unexpected one was reaped too: no zombie is left.
    end = clock::monotonicMs() + 5000;
    while (::waitpid(other, nullptr, WNOHANG) == 0 && clock::monotonicMs() < end) reaper.reapExited();
    CHECK_EQUAL(-1, ::waitpid(other, nullptr, WNOHANG));
    CHECK_EQUAL(ECHILD, errno);
}

TEST(Reaper, NeverBlocksOnARunningChild) {
    Reaper reaper;
    pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    reaper.expect(child);
    double t0 = clock::monotonicMs();
    reaper.reapExited();
    CHECK_TRUE(clock::monotonicMs() - t0 < 1000);
    CHECK_FALSE(reaper.take(child).has_value());
    ::kill(child, SIGKILL);
    double end = clock::monotonicMs() + 5000;
    std::optional<int> status;
    while (!status && clock::monotonicMs() < end) {
        reaper.reapExited();
        status = reaper.take(child);
    }
    CHECK_TRUE(status.has_value() && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
}
