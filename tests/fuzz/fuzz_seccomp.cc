// libFuzzer harness for the seccomp profile loader: the OCI / Docker JSON
// parser (src/sandbox/seccomp_json.h) and its compilation with libseccomp
// (sandbox::SeccompProgram::loadJson). The filter is never applied here.
// Every call checks:
//  - a rejection is a kConfig error with a non-empty message, naming the
//    source when it comes from loadJson;
//  - an accepted profile holds only what the format allows (argument indexes
//    0–5, errno values that fit 16 bits, known architectures, kernel
//    versions that parse, names without NUL) and had no raw NUL byte;
//  - loadJson accepts only what the parser accepts, and a program it builds
//    has 1–4096 BPF instructions and is the same when built again;
//  - no RapidJSON assertion fires.
#include <linux/filter.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "sandbox/seccomp_json.h"
#include "sandbox/seccomp.h"

using namespace pyexec;
using namespace pyexec::sandbox;

namespace {

constexpr std::string_view kSource = "fuzz.json";

bool hasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

void checkSelector(const SeccompSelector& s) {
    for (const auto& a : s.arches) FUZZ_CHECK(!hasNul(a), "a selector arch with a NUL");
    for (const auto& c : s.caps) FUZZ_CHECK(!hasNul(c), "a selector cap with a NUL");
    FUZZ_CHECK(s.minKernel.empty() || parseKernelVersion(s.minKernel), "a minKernel that does not parse");
}

void checkProfile(const SeccompProfile& p, std::string_view json) {
    FUZZ_CHECK(!hasNul(json), "accepted a profile with a raw NUL byte");
    FUZZ_CHECK(!p.defaultErrnoRet || *p.defaultErrnoRet <= 0xffff, "defaultErrnoRet over 16 bits");
    for (const auto& a : p.architectures) FUZZ_CHECK(isOciArchName(a), "an unknown architecture");
    for (const auto& e : p.archMap) {
        FUZZ_CHECK(isOciArchName(e.architecture), "an unknown archMap architecture");
        for (const auto& s : e.subArchitectures) FUZZ_CHECK(isOciArchName(s), "an unknown subArchitecture");
    }
    for (const SeccompRule& r : p.syscalls) {
        for (const auto& n : r.names) FUZZ_CHECK(!hasNul(n), "a syscall name with a NUL");
        FUZZ_CHECK(!r.errnoRet || *r.errnoRet <= 0xffff, "errnoRet over 16 bits");
        for (const SeccompArg& a : r.args) FUZZ_CHECK(a.index <= 5, "an argument index over 5");
        checkSelector(r.includes);
        checkSelector(r.excludes);
    }
}

void checkError(const Error& e, bool fromLoader) {
    FUZZ_CHECK(e.kind == ErrorKind::kConfig, "a profile error that is not kConfig");
    FUZZ_CHECK(!e.message.empty(), "a profile error with an empty message");
    FUZZ_CHECK(!fromLoader || e.message.rfind(std::string(kSource) + ": ", 0) == 0,
               "a loader error that does not name its source");
}

bool sameFilter(const std::vector<sock_filter>& a, const std::vector<sock_filter>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof a[0]) == 0);
}

void checkProgram(const sandbox::SeccompProgram& prog, std::string_view json) {
    FUZZ_CHECK(prog.instructionCount() >= 1 && prog.instructionCount() <= 4096,
               "a program outside 1..4096 instructions");
    FUZZ_CHECK(prog.name() == kSource, "a program that does not carry its source name");
    for (const auto& note : prog.notes()) FUZZ_CHECK(!note.empty(), "an empty note");
    Result<sandbox::SeccompProgram> again = sandbox::SeccompProgram::loadJson(json, kSource);
    FUZZ_CHECK(again.ok() && sameFilter(prog.filter(), again.value().filter()),
               "the same profile compiles to another program");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view json = fuzz::asText(data, size);
    Result<SeccompProfile> profile = parseSeccompProfile(json);
    if (profile.ok()) {
        checkProfile(profile.value(), json);
    } else {
        checkError(profile.error(), false);
    }
    Result<sandbox::SeccompProgram> prog = sandbox::SeccompProgram::loadJson(json, kSource);
    if (prog.ok()) {
        FUZZ_CHECK(profile.ok(), "the loader accepted a profile the parser rejects");
        checkProgram(prog.value(), json);
    } else {
        checkError(prog.error(), true);
    }
    fuzz::checkNoRapidjsonAssert();
    return 0;
}
