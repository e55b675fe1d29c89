// Parsing of OCI / Docker seccomp profiles (SPEC §5, "Profiles") into plain
// structs. Only the format is checked here (types, names of actions, ops and
// architectures, argument indexes); what the profile means on this machine
// (which rules apply, libseccomp compilation) is sandbox/seccomp.cc's job.
// It lives beside the compiler it feeds; RapidJSON still enters only through
// protocol/rapidjson_config.h (its assertion guard).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pyexec::sandbox {

enum class SeccompAction {
    kAllow,
    kErrno,
    kKillThread,  // SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD
    kKillProcess,
    kTrap,
    kTrace,
    kLog,
    kNotify,  // parsed so that the compiler can say "unsupported"
};

enum class SeccompOp { kNe, kLt, kLe, kEq, kGe, kGt, kMaskedEq };

struct SeccompArg {
    unsigned index = 0;     // 0..5
    uint64_t value = 0;     // for kMaskedEq: the mask
    uint64_t valueTwo = 0;  // for kMaskedEq: the value compared after masking
    SeccompOp op = SeccompOp::kEq;
};

// `includes` / `excludes` of a rule.
struct SeccompSelector {
    std::vector<std::string> arches;  // free-form (Docker uses Go names: "amd64", "arm64", ...)
    std::vector<std::string> caps;    // e.g. "CAP_SYS_ADMIN"
    std::string minKernel;            // "" or "major.minor[.patch]" (validated)
};

struct SeccompRule {
    std::vector<std::string> names;  // syscall names, unresolved
    SeccompAction action = SeccompAction::kAllow;
    std::optional<unsigned> errnoRet;
    std::vector<SeccompArg> args;
    SeccompSelector includes;
    SeccompSelector excludes;
};

struct SeccompArchMapEntry {
    std::string architecture;                   // "SCMP_ARCH_X86_64"
    std::vector<std::string> subArchitectures;  // "SCMP_ARCH_X86", ...
};

// One profile. Rule i of `syscalls` came from "syscalls[i]" in the JSON, so
// callers can name fields in their own errors.
struct SeccompProfile {
    SeccompAction defaultAction = SeccompAction::kErrno;
    std::optional<unsigned> defaultErrnoRet;
    std::vector<std::string> architectures;  // "SCMP_ARCH_*", each a known OCI name
    std::vector<SeccompArchMapEntry> archMap;
    std::vector<SeccompRule> syscalls;
};

// Parses a profile. Errors are kConfig; `field` names the JSON path at fault
// (e.g. "syscalls[12].args[0].op") and the message gives the reason.
// Unknown keys (e.g. "comment") are ignored.
Result<SeccompProfile> parseSeccompProfile(std::string_view json);

// Whether `name` is an OCI architecture name ("SCMP_ARCH_X86_64", ...).
bool isOciArchName(std::string_view name);

// {major, minor, patch}; compares lexicographically.
using KernelVersion = std::array<unsigned, 3>;

// Parses "major.minor[.patch]" followed by anything (as in "6.1.0-18-amd64");
// nullopt when there is no leading "N.N".
std::optional<KernelVersion> parseKernelVersion(std::string_view text);

}  // namespace pyexec::sandbox
