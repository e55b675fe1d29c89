// A small JSON tree for the protocol module (private to src/protocol).
//
// Built by RapidJSON's iterative SAX reader (no recursion on hostile input)
// with a cap on nesting, so every later walk over a tree (writing, comparing,
// destroying) is bounded. Numbers keep their exact text: a Python int of any
// size compares and echoes exactly, which RapidJSON's DOM (64-bit integers,
// then doubles) cannot do. Object keys are unique: a repeated key keeps its
// last value, as Python's and JavaScript's parsers do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pyexec::protocol {

// Deepest nesting of arrays/objects accepted anywhere (request bodies and
// harness records). The harness reports values up to 64 levels deep.
inline constexpr size_t kMaxJsonDepth = 100;

struct JsonMember;

struct JsonValue {
    enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

    Kind kind = Kind::kNull;
    bool boolean = false;
    std::string text;                 // a string's value, or a number's exact JSON text
    std::vector<JsonValue> items;     // kArray
    std::vector<JsonMember> members;  // kObject, keys unique, in input order

    bool isNull() const { return kind == Kind::kNull; }
    bool isBool() const { return kind == Kind::kBool; }
    bool isNumber() const { return kind == Kind::kNumber; }
    bool isString() const { return kind == Kind::kString; }
    bool isArray() const { return kind == Kind::kArray; }
    bool isObject() const { return kind == Kind::kObject; }

    // The member named `key`, or nullptr (also when this is not an object).
    const JsonValue* find(std::string_view key) const;
};

struct JsonMember {
    std::string key;
    JsonValue value;
};

// Most values (scalars, arrays, objects, each one) a parse may build when
// its caller sets no budget: about 90 bytes each, so a tree stays near 20 MiB
// however its text is shaped (a 2 MiB body of `[0,0,0,...]` is a million).
inline constexpr size_t kDefaultJsonNodes = 256 * 1024;

// Parses one JSON text. Errors: kInvalidJson ("<RapidJSON's reason> at byte
// offset N"; raw NUL bytes and invalid UTF-8 included) or kInvalidRequest when
// the nesting is deeper than maxDepth or the text holds more values than
// *nodeBudget. The budget is decremented by the values built (so one budget
// can span several texts); nullptr: kDefaultJsonNodes for this text alone.
Result<JsonValue> parseJson(std::string_view text, size_t maxDepth = kMaxJsonDepth, size_t* nodeBudget = nullptr);

// True when the number's text has no fraction or exponent (an int in Python).
bool isIntegerNumber(const JsonValue& value);
// The value of an integer number that fits in int64_t; false otherwise.
bool integerValue(const JsonValue& value, int64_t* out);
// The value of any number as a double (±inf past the range); false when not a number.
bool numberValue(const JsonValue& value, double* out);

// The value re-serialised as compact JSON (numbers as written).
std::string toJson(const JsonValue& value);

// A compact JSON writer over RapidJSON's Writer. Strings are sanitised to
// valid UTF-8 on the way out, so the output is always valid JSON.
class JsonWriter {
public:
    JsonWriter();
    ~JsonWriter();
    JsonWriter(const JsonWriter&) = delete;
    JsonWriter& operator=(const JsonWriter&) = delete;

    JsonWriter& key(std::string_view name);
    JsonWriter& string(std::string_view text);
    JsonWriter& null();
    JsonWriter& boolean(bool b);
    JsonWriter& integer(int64_t n);
    JsonWriter& unsignedInteger(uint64_t n);
    JsonWriter& number(double d);            // shortest round-trip form; null if not finite
    JsonWriter& fixed1(double d);            // one decimal, e.g. 3.1; null if not finite
    JsonWriter& raw(std::string_view json);  // pre-serialised JSON (trusted: built by us)
    JsonWriter& value(const JsonValue& v);
    JsonWriter& beginObject();
    JsonWriter& endObject();
    JsonWriter& beginArray();
    JsonWriter& endArray();

    std::string str() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pyexec::protocol
