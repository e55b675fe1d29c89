// Text helpers of the protocol module (private to src/protocol). The public
// ones, sanitiseUtf8 and normaliseOutput, are declared in response.h and
// defined in text.cc too.
#pragma once

#include <string>
#include <string_view>

namespace pyexec::protocol {

// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or code
// points past U+10FFFF).
bool isValidUtf8(std::string_view bytes);

// `text` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
std::string_view trimAscii(std::string_view text);

// How much of a value a test result echoes as `expected` or `actual` (SPEC
// §2): its JSON text, at most this many bytes, escapes included.
inline constexpr size_t kMaxEchoBytes = 8 << 10;

// A value as a test result echoes it: JSON text, and whether it was cut.
struct Echo {
    std::string json;
    bool truncated = false;
};

// `text` (any bytes; invalid UTF-8 repaired) as a JSON string whose JSON form
// is at most maxBytes: the longest prefix that fits, cut on a character
// boundary, truncated when it is not the whole text.
Echo echoString(std::string_view text, size_t maxBytes = kMaxEchoBytes);

// A complete JSON text (built by us, or validated) as it is when it fits in
// maxBytes; else, if it is a string, echoString of that string, and
// otherwise echoString of the JSON text itself (a string holding the first
// part of the value's JSON).
Echo echoJson(std::string_view json, size_t maxBytes = kMaxEchoBytes);

// At most `maxBytes` of `text` (cut on a character boundary, "…" appended when
// cut), for quoting client input inside an error message.
std::string excerpt(std::string_view text, size_t maxBytes = 40);

}  // namespace pyexec::protocol
