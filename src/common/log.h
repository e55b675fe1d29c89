// Logging to stderr, one line per event. Request logs are JSON lines built by
// the protocol module; these helpers are for the daemon's own events.
// Never call from a child between fork and exec.
#pragma once

#include <string_view>

namespace pyexec::log {

void info(std::string_view msg);
void warn(std::string_view msg);
void error(std::string_view msg);
// Writes one pre-formatted line (a JSON request record) atomically.
void line(std::string_view text);
// Silences info() (tests and the CLI's `run` use this).
void setQuiet(bool quiet);

}  // namespace pyexec::log
