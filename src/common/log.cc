// Writes each message with a single write(2) so lines from the master and its
// workers, which share stderr, do not interleave.
#include "common/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "common/clock.h"

namespace pyexec::log {
namespace {

bool gQuiet = false;

void emit(std::string_view level, std::string_view msg) {
    std::string s;
    s.reserve(msg.size() + 64);
    s.append(clock::isoNow()).append(" pyexecd[").append(std::to_string(getpid())).append("] ");
    s.append(level).append(": ").append(msg).push_back('\n');
    line(s);
}

}  // namespace

void info(std::string_view msg) {
    if (!gQuiet) emit("info", msg);
}
void warn(std::string_view msg) { emit("warn", msg); }
void error(std::string_view msg) { emit("error", msg); }
void setQuiet(bool quiet) { gQuiet = quiet; }

void line(std::string_view text) {
    std::string s(text);
    if (s.empty() || s.back() != '\n') s.push_back('\n');
    ssize_t r = ::write(STDERR_FILENO, s.data(), s.size());
    (void)r;  // nothing sensible to do if stderr is gone
}

}  // namespace pyexec::log
