// The working folder's files as the protocol sees them (SPEC §3.1): the path
// rule shared by the request's `files` and the files a program leaves in
// out/, and the base64 check of what comes back. Private to src/protocol.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pyexec::protocol {

inline constexpr size_t kMaxPathSegments = 3;   // "data/train/x.csv" at the deepest
inline constexpr size_t kMaxPathBytes = 255;

// Why `path` is not a workspace path, or nothing when it is one: relative,
// [A-Za-z0-9._-]+ segments joined by '/', none "." or "..", at most
// kMaxPathSegments of them and kMaxPathBytes in all.
std::optional<std::string> workspacePathProblem(std::string_view path);

// True when `text` is standard base64 (RFC 4648, padded, no line breaks) of
// exactly `decodedBytes` bytes.
bool isBase64Of(std::string_view text, size_t decodedBytes);

}  // namespace pyexec::protocol
