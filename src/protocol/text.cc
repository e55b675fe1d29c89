// UTF-8 validation and repair, and the output normalisation of SPEC §3.
#include "protocol/text.h"

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "protocol/json_value.h"
#include "protocol/response.h"

namespace pyexec::protocol {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed sequence starting at `at`, or 0 if it is not one;
// `*bad` is then how many bytes form the maximal invalid prefix (replaced by
// one U+FFFD, as Python's errors="replace" and the Unicode standard do).
size_t sequenceLength(std::string_view s, size_t at, size_t* bad) {
    auto b = [&](size_t k) { return static_cast<uint8_t>(s[at + k]); };
    uint8_t lead = b(0);
    size_t need = 0;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) need = 1;
    else if (lead >= 0xE0 && lead <= 0xEF) need = 2;
    else if (lead >= 0xF0 && lead <= 0xF4) need = 3;
    if (lead == 0xE0) lo = 0xA0;  // overlong 3-byte forms
    if (lead == 0xED) hi = 0x9F;  // UTF-16 surrogates
    if (lead == 0xF0) lo = 0x90;  // overlong 4-byte forms
    if (lead == 0xF4) hi = 0x8F;  // past U+10FFFF
    *bad = 1;
    if (need == 0) return 0;
    for (size_t k = 1; k <= need; ++k) {
        if (at + k >= s.size()) return 0;
        uint8_t c = b(k);
        bool ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
        if (!ok) return 0;
        *bad = k + 1;
    }
    return need + 1;
}

bool isTrailingSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool isAsciiSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

bool isValidUtf8(std::string_view bytes) {
    size_t at = 0;
    while (at < bytes.size()) {
        size_t bad = 0;
        size_t n = sequenceLength(bytes, at, &bad);
        if (n == 0) return false;
        at += n;
    }
    return true;
}

std::string sanitiseUtf8(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    size_t at = 0;
    while (at < bytes.size()) {
        size_t bad = 0;
        size_t n = sequenceLength(bytes, at, &bad);
        if (n == 0) {
            out.append(kReplacement);
            at += bad;
        } else {
            out.append(bytes.substr(at, n));
            at += n;
        }
    }
    return out;
}

// CRLF→LF; each line loses its trailing spaces, tabs and stray CRs; blank
// lines at the start and the end go. The result has no final newline.
std::string normaliseOutput(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        while (!line.empty() && isTrailingSpace(line.back())) line.remove_suffix(1);
        lines.push_back(line);
        start = end + 1;
    }
    size_t first = 0, last = lines.size();
    while (first < last && lines[first].empty()) ++first;
    while (last > first && lines[last - 1].empty()) --last;
    std::string out;
    for (size_t k = first; k < last; ++k) {
        if (k > first) out.push_back('\n');
        out.append(lines[k]);
    }
    return out;
}

std::string_view trimAscii(std::string_view text) {
    while (!text.empty() && isAsciiSpace(text.front())) text.remove_prefix(1);
    while (!text.empty() && isAsciiSpace(text.back())) text.remove_suffix(1);
    return text;
}

std::string excerpt(std::string_view text, size_t maxBytes) {
    if (text.size() <= maxBytes) return sanitiseUtf8(text);
    size_t cut = maxBytes;
    // Step back over continuation bytes so a character is not split.
    while (cut > 0 && (static_cast<uint8_t>(text[cut]) & 0xC0) == 0x80) --cut;
    return sanitiseUtf8(text.substr(0, cut)) + "\xE2\x80\xA6";
}

namespace {

// Bytes of `c`'s escape in a JSON string, as JsonWriter writes it.
size_t escapedSize(unsigned char c) {
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') return 2;
    return c < 0x20 ? 6 : 1;
}

}  // namespace

Echo echoString(std::string_view text, size_t maxBytes) {
    std::string clean = sanitiseUtf8(text);
    // The longest prefix whose escaped form, with its quotes, fits.
    size_t used = 2, cut = 0;
    while (cut < clean.size()) {
        size_t n = escapedSize(static_cast<unsigned char>(clean[cut]));
        if (used + n > maxBytes) break;
        used += n;
        ++cut;
    }
    while (cut < clean.size() && cut > 0 && (static_cast<uint8_t>(clean[cut]) & 0xC0) == 0x80) --cut;
    Echo e{jsonString(std::string_view(clean).substr(0, cut)), cut < clean.size()};
    return e;
}

Echo echoJson(std::string_view json, size_t maxBytes) {
    if (json.size() <= maxBytes) return Echo{std::string(json), false};
    if (!json.empty() && json.front() == '"') {
        Result<JsonValue> parsed = parseJson(json);
        if (parsed && parsed.value().isString()) return echoString(parsed.value().text, maxBytes);
    }
    Echo e = echoString(json, maxBytes);
    e.truncated = true;
    return e;
}

}  // namespace pyexec::protocol
