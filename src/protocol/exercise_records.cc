// Reading the harness's exercise records (exercise_records.h). Runs in a
// worker on untrusted bytes: a record with a missing, extra-large or
// mistyped field is refused whole, and the caller marks the stream tampered.
#include "protocol/exercise_records.h"


namespace pyexec::protocol {
namespace {

bool isKnownOutcome(std::string_view outcome) {
    for (std::string_view known : {"passed", "failed", "error", "skipped", "xfailed", "xpassed"}) {
        if (outcome == known) return true;
    }
    return false;
}

// An optional string member of at most maxBytes; false when mistyped or too long.
bool readOptionalText(const JsonValue& record, std::string_view key, size_t maxBytes,
                      std::optional<std::string>* out) {
    const JsonValue* v = record.find(key);
    if (v == nullptr || v->isNull()) return true;
    if (!v->isString() || v->text.size() > maxBytes) return false;
    *out = v->text;
    return true;
}

// An optional non-negative integer member (0 when absent).
bool readCount(const JsonValue& record, std::string_view key, int64_t* out) {
    const JsonValue* v = record.find(key);
    *out = 0;
    if (v == nullptr) return true;
    return integerValue(*v, out) && *out >= 0;
}

bool isTrue(const JsonValue* v) { return v != nullptr && v->isBool() && v->boolean; }

}  // namespace

int64_t pytestIndexOf(const JsonValue& record) {
    const JsonValue* test = record.find("test");
    int64_t i = -1;
    if (test == nullptr || !integerValue(*test, &i) || i < 0) return -1;
    return i;
}

bool isPytestDone(const JsonValue& record) { return record.find("done") != nullptr; }

bool readPytestResult(const JsonValue& record, PytestResult* out) {
    const JsonValue* name = record.find("name");
    const JsonValue* outcome = record.find("outcome");
    if (name == nullptr || !name->isString() || name->text.size() > kPytestNameBytes) return false;
    if (outcome == nullptr || !outcome->isString() || !isKnownOutcome(outcome->text)) return false;
    PytestResult r;
    if (!readOptionalText(record, "message", kPytestMessageBytes, &r.message)) return false;
    const JsonValue* truncated = record.find("messageTruncated");
    if (truncated != nullptr && !truncated->isBool()) return false;
    r.name = name->text;
    r.outcome = outcome->text;
    r.messageTruncated = isTrue(truncated);
    *out = std::move(r);
    return true;
}

bool readPytestDone(const JsonValue& record, PytestDone* out) {
    PytestDone d;
    if (!isTrue(record.find("done")) || !readCount(record, "collected", &d.collected)) return false;
    if (record.find("collected") == nullptr) return false;
    if (!readOptionalText(record, "error", kPytestMessageBytes, &d.error)) return false;
    if (!readCount(record, "unlisted", &d.unlisted) || !readCount(record, "unlistedFailed", &d.unlistedFailed)) {
        return false;
    }
    if (d.unlistedFailed > d.unlisted) return false;
    *out = std::move(d);
    return true;
}

bool readOutFile(const JsonValue& record, uint64_t budgetLeft, OutFile* out) {
    const JsonValue* path = record.find("file");
    const JsonValue* bytes = record.find("bytes");
    const JsonValue* base64 = record.find("base64");
    int64_t size = -1;
    if (path == nullptr || !path->isString() || workspacePathProblem(path->text)) return false;
    if (path->text.rfind("out/", 0) != 0) return false;
    if (bytes == nullptr || !integerValue(*bytes, &size) || size < 0) return false;
    OutFile f;
    f.path = path->text;
    f.bytes = static_cast<uint64_t>(size);
    if (base64 == nullptr) {
        if (!isTrue(record.find("truncated"))) return false;
    } else {
        if (record.find("truncated") != nullptr || !base64->isString()) return false;
        if (f.bytes > budgetLeft || !isBase64Of(base64->text, f.bytes)) return false;
        f.base64 = base64->text;
    }
    *out = std::move(f);
    return true;
}

bool pytestOutcomePasses(std::string_view outcome) {
    return outcome == "passed" || outcome == "skipped" || outcome == "xfailed" || outcome == "xpassed";
}

}  // namespace pyexec::protocol
