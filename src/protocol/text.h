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

// At most `maxBytes` of `text` (cut on a character boundary, "…" appended when
// cut), for quoting client input inside an error message.
std::string excerpt(std::string_view text, size_t maxBytes = 40);

}  // namespace pyexec::protocol
