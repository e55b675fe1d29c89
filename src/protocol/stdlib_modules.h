// The top-level module names of the interpreter's standard library, for the
// image choice (image_choice.h).
#pragma once

namespace pyexec::protocol {

// Space-separated, sorted.
extern const char* const kStdlibModules;

}  // namespace pyexec::protocol
