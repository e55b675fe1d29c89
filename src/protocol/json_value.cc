// JsonValue: parsing with RapidJSON's iterative SAX reader into a bounded
// tree, and writing with RapidJSON's Writer. See json_value.h.
#include "protocol/json_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numeric>
#include <utility>

#include "protocol/rapidjson_config.h"
#include "protocol/response.h"
#include "protocol/text.h"

namespace pyexec::protocol {
namespace {

namespace rj = rapidjson;

// Numbers arrive as their text (kParseNumbersAsStringsFlag); strings are
// checked for valid UTF-8 by the reader itself.
constexpr unsigned kParseFlags =
    rj::kParseIterativeFlag | rj::kParseValidateEncodingFlag | rj::kParseNumbersAsStringsFlag;

// Keeps the last of each repeated key, in input order of the kept ones.
void dropRepeatedKeys(std::vector<JsonMember>* members) {
    if (members->size() < 2) return;
    std::vector<size_t> order(members->size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return (*members)[a].key < (*members)[b].key; });
    std::vector<bool> keep(members->size(), true);
    for (size_t k = 0; k + 1 < order.size(); ++k) {
        if ((*members)[order[k]].key == (*members)[order[k + 1]].key) keep[order[k]] = false;
    }
    if (std::find(keep.begin(), keep.end(), false) == keep.end()) return;
    std::vector<JsonMember> kept;
    for (size_t k = 0; k < members->size(); ++k) {
        if (keep[k]) kept.push_back(std::move((*members)[k]));
    }
    *members = std::move(kept);
}

// SAX handler that builds the tree with an explicit stack of open containers.
class TreeBuilder : public rj::BaseReaderHandler<rj::UTF8<>, TreeBuilder> {
public:
    TreeBuilder(size_t maxDepth, size_t* nodesLeft) : maxDepth_(maxDepth), nodesLeft_(nodesLeft) {}

    bool Null() { return add(JsonValue{}); }
    bool Bool(bool b) {
        JsonValue v;
        v.kind = JsonValue::Kind::kBool;
        v.boolean = b;
        return add(std::move(v));
    }
    bool RawNumber(const char* s, rj::SizeType n, bool) { return addText(JsonValue::Kind::kNumber, s, n); }
    bool String(const char* s, rj::SizeType n, bool) {
        return isUtf8(s, n) && addText(JsonValue::Kind::kString, s, n);
    }
    bool Key(const char* s, rj::SizeType n, bool) {
        if (!isUtf8(s, n)) return false;
        key_.assign(s, n);
        return true;
    }
    bool StartObject() { return open(JsonValue::Kind::kObject); }
    bool EndObject(rj::SizeType) { return close(); }
    bool StartArray() { return open(JsonValue::Kind::kArray); }
    bool EndArray(rj::SizeType) { return close(); }

    bool tooDeep() const { return tooDeep_; }
    bool tooMany() const { return tooMany_; }
    bool loneSurrogate() const { return loneSurrogate_; }
    JsonValue takeRoot() { return std::move(root_); }

private:
    struct Frame {
        JsonValue value;
        std::string key;  // the key this container will be stored under in its parent
    };

    // The reader checks raw bytes and pairs a \uD800-\uDBFF escape with its
    // partner, but RapidJSON 1.1.0 turns a lone \uDC00-\uDFFF escape into
    // the bytes of a surrogate, which are not UTF-8.
    bool isUtf8(const char* s, rj::SizeType n) {
        loneSurrogate_ = !isValidUtf8(std::string_view(s, n));
        return !loneSurrogate_;
    }
    bool addText(JsonValue::Kind kind, const char* s, rj::SizeType n) {
        JsonValue v;
        v.kind = kind;
        v.text.assign(s, n);
        return add(std::move(v));
    }
    // One more value, within the budget.
    bool count() {
        if (*nodesLeft_ == 0) {
            tooMany_ = true;
            return false;
        }
        --*nodesLeft_;
        return true;
    }
    bool add(JsonValue v) {
        if (!count()) return false;
        if (stack_.empty()) {
            root_ = std::move(v);
        } else if (stack_.back().value.isArray()) {
            stack_.back().value.items.push_back(std::move(v));
        } else {
            stack_.back().value.members.push_back(JsonMember{std::move(key_), std::move(v)});
        }
        return true;
    }
    bool open(JsonValue::Kind kind) {
        if (!count()) return false;
        if (stack_.size() >= maxDepth_) {
            tooDeep_ = true;
            return false;
        }
        stack_.push_back(Frame{});
        stack_.back().value.kind = kind;
        stack_.back().key = std::move(key_);
        return true;
    }
    bool close() {
        if (stack_.empty()) return false;  // the reader never does this
        Frame frame = std::move(stack_.back());
        stack_.pop_back();
        if (frame.value.isObject()) dropRepeatedKeys(&frame.value.members);
        key_ = std::move(frame.key);
        return add(std::move(frame.value));
    }

    size_t maxDepth_;
    size_t* nodesLeft_;
    bool tooDeep_ = false;
    bool tooMany_ = false;
    bool loneSurrogate_ = false;
    std::vector<Frame> stack_;
    std::string key_;
    JsonValue root_;
};

}  // namespace

const JsonValue* JsonValue::find(std::string_view key) const {
    if (!isObject()) return nullptr;
    for (const JsonMember& m : members) {
        if (m.key == key) return &m.value;
    }
    return nullptr;
}

Result<JsonValue> parseJson(std::string_view text, size_t maxDepth, size_t* nodeBudget) {
    // RapidJSON reads a NUL byte as the end of the input and would silently
    // accept `{}\0anything`; a raw NUL is never valid JSON.
    if (const void* nul = std::memchr(text.data(), '\0', text.size())) {
        size_t at = static_cast<size_t>(static_cast<const char*>(nul) - text.data());
        return makeError(ErrorKind::kInvalidJson,
                         "Raw NUL byte at byte offset " + std::to_string(at) +
                             " (JSON text cannot contain one; write \\u0000 inside a string)");
    }
    rj::MemoryStream memory(text.data(), text.size());
    rj::EncodedInputStream<rj::UTF8<>, rj::MemoryStream> in(memory);
    size_t ownBudget = kDefaultJsonNodes;
    TreeBuilder builder(maxDepth, nodeBudget != nullptr ? nodeBudget : &ownBudget);
    rj::Reader reader;
    rj::ParseResult ok = reader.Parse<kParseFlags>(in, builder);
    if (builder.tooMany()) {
        return makeError(ErrorKind::kInvalidRequest,
                         "holds more JSON values than its budget (arrays, objects and scalars count; at byte offset " +
                             std::to_string(reader.GetErrorOffset()) + ")");
    }
    if (builder.tooDeep()) {
        return makeError(ErrorKind::kInvalidRequest,
                         "is nested deeper than " + std::to_string(maxDepth) + " levels (at byte offset " +
                             std::to_string(reader.GetErrorOffset()) + ")");
    }
    if (builder.loneSurrogate()) {
        return makeError(ErrorKind::kInvalidJson,
                         "Lone surrogate escape (\\uDC00-\\uDFFF) in the string before byte offset " +
                             std::to_string(reader.GetErrorOffset()));
    }
    if (!ok) {
        std::string reason = rj::GetParseError_En(ok.Code());
        if (!reason.empty() && reason.back() == '.') reason.pop_back();
        return makeError(ErrorKind::kInvalidJson, reason + " at byte offset " + std::to_string(ok.Offset()));
    }
    return builder.takeRoot();
}

bool isIntegerNumber(const JsonValue& value) {
    return value.isNumber() && value.text.find_first_of(".eE") == std::string::npos;
}

bool integerValue(const JsonValue& value, int64_t* out) {
    if (!isIntegerNumber(value)) return false;
    const char* end = value.text.data() + value.text.size();
    auto [ptr, ec] = std::from_chars(value.text.data(), end, *out);
    return ec == std::errc() && ptr == end;
}

bool numberValue(const JsonValue& value, double* out) {
    if (!value.isNumber()) return false;
    const char* end = value.text.data() + value.text.size();
    auto [ptr, ec] = std::from_chars(value.text.data(), end, *out);
    if (ec == std::errc::result_out_of_range) {
        // from_chars leaves *out untouched here; tell overflow from underflow.
        size_t e = value.text.find_first_of("eE");
        bool tiny = e != std::string::npos && value.text.compare(e + 1, 1, "-") == 0;
        bool negative = value.text[0] == '-';
        *out = tiny ? (negative ? -0.0 : 0.0) : (negative ? -HUGE_VAL : HUGE_VAL);
        return true;
    }
    return ec == std::errc() && ptr == end;
}

std::string toJson(const JsonValue& value) {
    JsonWriter w;
    w.value(value);
    return w.str();
}

// ---------------------------------------------------------------------------

struct JsonWriter::Impl {
    rj::StringBuffer buffer;
    rj::Writer<rj::StringBuffer> writer{buffer};
};

JsonWriter::JsonWriter() : impl_(std::make_unique<Impl>()) {}
JsonWriter::~JsonWriter() = default;

JsonWriter& JsonWriter::key(std::string_view name) {
    std::string clean = sanitiseUtf8(name);
    impl_->writer.Key(clean.data(), static_cast<rj::SizeType>(clean.size()), true);
    return *this;
}

JsonWriter& JsonWriter::string(std::string_view text) {
    if (isValidUtf8(text)) {
        impl_->writer.String(text.data(), static_cast<rj::SizeType>(text.size()), true);
    } else {
        std::string clean = sanitiseUtf8(text);
        impl_->writer.String(clean.data(), static_cast<rj::SizeType>(clean.size()), true);
    }
    return *this;
}

JsonWriter& JsonWriter::null() {
    impl_->writer.Null();
    return *this;
}

JsonWriter& JsonWriter::boolean(bool b) {
    impl_->writer.Bool(b);
    return *this;
}

JsonWriter& JsonWriter::integer(int64_t n) {
    impl_->writer.Int64(n);
    return *this;
}

JsonWriter& JsonWriter::unsignedInteger(uint64_t n) {
    impl_->writer.Uint64(n);
    return *this;
}

JsonWriter& JsonWriter::number(double d) {
    if (!std::isfinite(d)) return null();
    impl_->writer.Double(d);
    return *this;
}

JsonWriter& JsonWriter::fixed1(double d) {
    if (!std::isfinite(d)) return null();
    char text[64];
    int n = std::snprintf(text, sizeof text, "%.1f", d);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof text) return number(d);
    return raw(std::string_view(text, static_cast<size_t>(n)));
}

JsonWriter& JsonWriter::raw(std::string_view json) {
    impl_->writer.RawValue(json.data(), json.size(), rj::kNumberType);
    return *this;
}

JsonWriter& JsonWriter::value(const JsonValue& v) {
    switch (v.kind) {
        case JsonValue::Kind::kNull: return null();
        case JsonValue::Kind::kBool: return boolean(v.boolean);
        case JsonValue::Kind::kNumber: return raw(v.text);
        case JsonValue::Kind::kString: return string(v.text);
        case JsonValue::Kind::kArray:
            beginArray();
            for (const JsonValue& item : v.items) value(item);
            return endArray();
        case JsonValue::Kind::kObject:
            beginObject();
            for (const JsonMember& m : v.members) key(m.key).value(m.value);
            return endObject();
    }
    return null();
}

JsonWriter& JsonWriter::beginObject() {
    impl_->writer.StartObject();
    return *this;
}

JsonWriter& JsonWriter::endObject() {
    impl_->writer.EndObject();
    return *this;
}

JsonWriter& JsonWriter::beginArray() {
    impl_->writer.StartArray();
    return *this;
}

JsonWriter& JsonWriter::endArray() {
    impl_->writer.EndArray();
    return *this;
}

std::string JsonWriter::str() const {
    return std::string(impl_->buffer.GetString(), impl_->buffer.GetSize());
}

}  // namespace pyexec::protocol
