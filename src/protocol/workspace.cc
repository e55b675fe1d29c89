// The workspace path rule and the base64 check (workspace.h). Runs in a
// worker, on client input (request paths) and on the sandbox's records.
#include "protocol/workspace.h"

namespace pyexec::protocol {
namespace {

bool isPathChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool isBase64Char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

std::optional<std::string> workspacePathProblem(std::string_view path) {
    if (path.empty()) return "a path cannot be empty";
    if (path.size() > kMaxPathBytes) return "a path can have at most " + std::to_string(kMaxPathBytes) + " bytes";
    if (path.front() == '/') return "a path must be relative to the working folder (no leading '/')";
    size_t segments = 0;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        std::string_view segment = path.substr(start, end - start);
        if (segment.empty()) return "a path cannot have an empty segment ('//' or a trailing '/')";
        if (segment == "." || segment == "..") return "a path cannot have '.' or '..' segments";
        for (char c : segment) {
            if (!isPathChar(c)) return "a path's segments may only hold A-Z, a-z, 0-9, '.', '_' and '-'";
        }
        if (++segments > kMaxPathSegments) {
            return "a path can be at most " + std::to_string(kMaxPathSegments) + " levels deep (e.g. data/train/x.csv)";
        }
        start = end + 1;
    }
    return std::nullopt;
}

bool isBase64Of(std::string_view text, size_t decodedBytes) {
    if (text.size() % 4 != 0 || text.size() / 4 != (decodedBytes + 2) / 3) return false;
    size_t padding = (3 - decodedBytes % 3) % 3;
    for (size_t k = 0; k < text.size(); ++k) {
        bool pad = k >= text.size() - padding;
        if (pad ? text[k] != '=' : !isBase64Char(text[k])) return false;
    }
    return true;
}

}  // namespace pyexec::protocol
