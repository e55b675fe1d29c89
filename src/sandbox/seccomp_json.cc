// OCI / Docker seccomp profile parser. RapidJSON in iterative mode (a hostile
// nesting depth cannot recurse), and every GetX() behind its IsX(), so that
// no RAPIDJSON_ASSERT can fire on a bad file.
#include "sandbox/seccomp_json.h"

#include "protocol/rapidjson_config.h"

#include <charconv>
#include <utility>

namespace pyexec::sandbox {
namespace {

using rapidjson::Value;

constexpr unsigned kMaxErrnoRet = 0xffff;  // the 16-bit data of SECCOMP_RET_ERRNO/TRACE
constexpr unsigned kMaxArgIndex = 5;

// Every architecture name of the OCI runtime spec (config-linux.md).
constexpr std::string_view kOciArches[] = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",    "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB",
};

constexpr std::pair<std::string_view, SeccompAction> kActions[] = {
    {"SCMP_ACT_ALLOW", SeccompAction::kAllow},
    {"SCMP_ACT_ERRNO", SeccompAction::kErrno},
    {"SCMP_ACT_KILL", SeccompAction::kKillThread},
    {"SCMP_ACT_KILL_THREAD", SeccompAction::kKillThread},
    {"SCMP_ACT_KILL_PROCESS", SeccompAction::kKillProcess},
    {"SCMP_ACT_TRAP", SeccompAction::kTrap},
    {"SCMP_ACT_TRACE", SeccompAction::kTrace},
    {"SCMP_ACT_LOG", SeccompAction::kLog},
    {"SCMP_ACT_NOTIFY", SeccompAction::kNotify},
};

constexpr std::pair<std::string_view, SeccompOp> kOps[] = {
    {"SCMP_CMP_NE", SeccompOp::kNe},
    {"SCMP_CMP_LT", SeccompOp::kLt},
    {"SCMP_CMP_LE", SeccompOp::kLe},
    {"SCMP_CMP_EQ", SeccompOp::kEq},
    {"SCMP_CMP_GE", SeccompOp::kGe},
    {"SCMP_CMP_GT", SeccompOp::kGt},
    {"SCMP_CMP_MASKED_EQ", SeccompOp::kMaskedEq},
};

Error fieldError(const std::string& field, std::string_view reason) {
    std::string msg = field.empty() ? std::string(reason) : field + ": " + std::string(reason);
    return makeError(ErrorKind::kConfig, std::move(msg), field);
}

std::string_view stringOf(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

const Value* member(const Value& obj, const char* key) {
    auto it = obj.FindMember(key);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string join(const std::string& parent, const char* key) {
    return parent.empty() ? std::string(key) : parent + "." + key;
}

std::string indexed(const std::string& field, size_t i) {
    return field + "[" + std::to_string(i) + "]";
}

// Looks `v` (a string) up in `table`.
template <class T, size_t N>
Result<T> lookup(const Value* v, const std::string& field,
                 const std::pair<std::string_view, T> (&table)[N], std::string_view what) {
    if (v == nullptr) return fieldError(field, "missing (" + std::string(what) + " required)");
    if (!v->IsString()) return fieldError(field, "must be a string");
    for (const auto& [name, value] : table) {
        if (name == stringOf(*v)) return value;
    }
    return fieldError(field,
                      "unknown " + std::string(what) + " \"" + std::string(stringOf(*v)) + "\"");
}

// An optional array of strings; absent and null both give an empty list
// (Go's encoding/json writes empty slices as null).
Status stringArray(const Value* v, const std::string& field, std::vector<std::string>& out) {
    if (v == nullptr || v->IsNull()) return okStatus();
    if (!v->IsArray()) return fieldError(field, "must be an array of strings");
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
        const Value& e = (*v)[i];
        if (!e.IsString()) return fieldError(indexed(field, i), "must be a string");
        // "read\u0000x" must not become "read" when handed to C APIs.
        if (stringOf(e).find('\0') != std::string_view::npos) {
            return fieldError(indexed(field, i), "must not contain NUL");
        }
        out.emplace_back(stringOf(e));
    }
    return okStatus();
}

Status archArray(const Value* v, const std::string& field, std::vector<std::string>& out) {
    if (auto st = stringArray(v, field, out); !st) return st;
    for (size_t i = 0; i < out.size(); ++i) {
        if (!isOciArchName(out[i])) {
            return fieldError(indexed(field, i), "unknown architecture \"" + out[i] + "\"");
        }
    }
    return okStatus();
}

Status optionalErrno(const Value& obj, const char* key, const std::string& field,
                     std::optional<unsigned>& out) {
    const Value* v = member(obj, key);
    if (v == nullptr || v->IsNull()) return okStatus();
    if (!v->IsUint() || v->GetUint() > kMaxErrnoRet) {
        return fieldError(field, "must be an integer from 0 to 65535");
    }
    out = v->GetUint();
    return okStatus();
}

Result<uint64_t> optionalU64(const Value& obj, const char* key, const std::string& field) {
    const Value* v = member(obj, key);
    if (v == nullptr || v->IsNull()) return uint64_t{0};
    if (!v->IsUint64()) return fieldError(field, "must be an unsigned 64-bit integer");
    return v->GetUint64();
}

Result<SeccompArg> parseArg(const Value& v, const std::string& field) {
    if (!v.IsObject()) return fieldError(field, "must be an object");
    SeccompArg arg;
    const Value* index = member(v, "index");
    if (index == nullptr) return fieldError(join(field, "index"), "missing");
    if (!index->IsUint() || index->GetUint() > kMaxArgIndex) {
        return fieldError(join(field, "index"), "must be an integer from 0 to 5");
    }
    arg.index = index->GetUint();
    auto value = optionalU64(v, "value", join(field, "value"));
    if (!value) return value.error();
    auto valueTwo = optionalU64(v, "valueTwo", join(field, "valueTwo"));
    if (!valueTwo) return valueTwo.error();
    auto op = lookup(member(v, "op"), join(field, "op"), kOps, "operator");
    if (!op) return op.error();
    arg.value = value.value();
    arg.valueTwo = valueTwo.value();
    arg.op = op.value();
    return arg;
}

Result<SeccompSelector> parseSelector(const Value* v, const std::string& field) {
    SeccompSelector sel;
    if (v == nullptr || v->IsNull()) return sel;
    if (!v->IsObject()) return fieldError(field, "must be an object");
    if (auto st = stringArray(member(*v, "arches"), join(field, "arches"), sel.arches); !st) {
        return st.error();
    }
    if (auto st = stringArray(member(*v, "caps"), join(field, "caps"), sel.caps); !st) {
        return st.error();
    }
    if (const Value* mk = member(*v, "minKernel"); mk != nullptr && !mk->IsNull()) {
        if (!mk->IsString() || !parseKernelVersion(stringOf(*mk))) {
            return fieldError(join(field, "minKernel"), "must be a kernel version like \"4.8\"");
        }
        sel.minKernel = stringOf(*mk);
    }
    return sel;
}

// "names" (OCI), or the older single "name" of early Docker profiles.
Status ruleNames(const Value& v, const std::string& field, std::vector<std::string>& out) {
    const Value* names = member(v, "names");
    if (names == nullptr) {
        const Value* name = member(v, "name");
        if (name == nullptr) return fieldError(join(field, "names"), "missing");
        if (!name->IsString()) return fieldError(join(field, "name"), "must be a string");
        out.emplace_back(stringOf(*name));
        return okStatus();
    }
    if (!names->IsArray()) return fieldError(join(field, "names"), "must be an array of strings");
    return stringArray(names, join(field, "names"), out);
}

Status ruleArgs(const Value& v, const std::string& field, std::vector<SeccompArg>& out) {
    const Value* args = member(v, "args");
    if (args == nullptr || args->IsNull()) return okStatus();
    if (!args->IsArray()) return fieldError(join(field, "args"), "must be an array");
    for (rapidjson::SizeType i = 0; i < args->Size(); ++i) {
        auto arg = parseArg((*args)[i], indexed(join(field, "args"), i));
        if (!arg) return arg.error();
        out.push_back(arg.value());
    }
    return okStatus();
}

Result<SeccompRule> parseRule(const Value& v, const std::string& field) {
    if (!v.IsObject()) return fieldError(field, "must be an object");
    SeccompRule rule;
    if (auto st = ruleNames(v, field, rule.names); !st) return st.error();
    auto action = lookup(member(v, "action"), join(field, "action"), kActions, "action");
    if (!action) return action.error();
    rule.action = action.value();
    if (auto st = optionalErrno(v, "errnoRet", join(field, "errnoRet"), rule.errnoRet); !st) {
        return st.error();
    }
    if (auto st = ruleArgs(v, field, rule.args); !st) return st.error();
    auto inc = parseSelector(member(v, "includes"), join(field, "includes"));
    if (!inc) return inc.error();
    auto exc = parseSelector(member(v, "excludes"), join(field, "excludes"));
    if (!exc) return exc.error();
    rule.includes = std::move(inc).value();
    rule.excludes = std::move(exc).value();
    return rule;
}

Status parseArchMap(const Value* v, std::vector<SeccompArchMapEntry>& out) {
    if (v == nullptr || v->IsNull()) return okStatus();
    if (!v->IsArray()) return fieldError("archMap", "must be an array");
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
        const std::string field = indexed("archMap", i);
        const Value& e = (*v)[i];
        if (!e.IsObject()) return fieldError(field, "must be an object");
        const Value* arch = member(e, "architecture");
        const std::string archField = join(field, "architecture");
        if (arch == nullptr || !arch->IsString()) return fieldError(archField, "must be a string");
        if (!isOciArchName(stringOf(*arch))) {
            return fieldError(archField,
                              "unknown architecture \"" + std::string(stringOf(*arch)) + "\"");
        }
        SeccompArchMapEntry entry{std::string(stringOf(*arch)), {}};
        auto st = archArray(member(e, "subArchitectures"), join(field, "subArchitectures"),
                            entry.subArchitectures);
        if (!st) return st;
        out.push_back(std::move(entry));
    }
    return okStatus();
}

Status parseSyscalls(const Value* v, std::vector<SeccompRule>& out) {
    if (v == nullptr || v->IsNull()) return okStatus();
    if (!v->IsArray()) return fieldError("syscalls", "must be an array");
    out.reserve(v->Size());
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
        auto rule = parseRule((*v)[i], indexed("syscalls", i));
        if (!rule) return rule.error();
        out.push_back(std::move(rule).value());
    }
    return okStatus();
}

Result<SeccompProfile> parseTop(const Value& doc) {
    if (!doc.IsObject()) return fieldError("", "the profile must be a JSON object");
    SeccompProfile p;
    auto def = lookup(member(doc, "defaultAction"), "defaultAction", kActions, "action");
    if (!def) return def.error();
    p.defaultAction = def.value();
    if (auto st = optionalErrno(doc, "defaultErrnoRet", "defaultErrnoRet", p.defaultErrnoRet);
        !st) {
        return st.error();
    }
    if (auto st = archArray(member(doc, "architectures"), "architectures", p.architectures); !st) {
        return st.error();
    }
    if (auto st = parseArchMap(member(doc, "archMap"), p.archMap); !st) return st.error();
    if (auto st = parseSyscalls(member(doc, "syscalls"), p.syscalls); !st) return st.error();
    return p;
}

}  // namespace

bool isOciArchName(std::string_view name) {
    for (std::string_view a : kOciArches) {
        if (a == name) return true;
    }
    return false;
}

std::optional<KernelVersion> parseKernelVersion(std::string_view text) {
    KernelVersion v{0, 0, 0};
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (size_t i = 0; i < v.size(); ++i) {
        auto [next, ec] = std::from_chars(p, end, v[i]);
        if (ec != std::errc{}) return i >= 2 ? std::optional(v) : std::nullopt;
        p = next;
        if (i + 1 < v.size() && (p == end || *p != '.'))
            return i >= 1 ? std::optional(v) : std::nullopt;
        if (i + 1 < v.size()) ++p;
    }
    return v;
}

Result<SeccompProfile> parseSeccompProfile(std::string_view json) {
    // RapidJSON takes a NUL byte for the end of the input: `{...}\0junk`
    // would parse as `{...}`. JSON text never holds a raw NUL.
    if (size_t nul = json.find('\0'); nul != std::string_view::npos) {
        return fieldError("", "not valid JSON: raw NUL byte at offset " + std::to_string(nul));
    }
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(),
                                                                                      json.size());
    if (doc.HasParseError()) {
        return fieldError("", std::string("not valid JSON: ") +
                                  rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                                  std::to_string(doc.GetErrorOffset()));
    }
    return parseTop(doc);
}

}  // namespace pyexec::sandbox
