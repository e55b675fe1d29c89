// seccomp: OCI / Docker profile -> libseccomp -> classic BPF, in the master.
//
// The profile means what runc/moby make it mean on this host:
//  - architectures: the native one always (seccomp_init adds it), plus those
//    listed in `architectures`, or, with `archMap`, the entry whose
//    `architecture` is the native one together with its `subArchitectures`
//    (Docker's profile thus gives x86_64 + x86 + x32 on x86-64). Anything
//    else, x32 calls (nr | 0x40000000) included, hits SCMP_FLTATR_ACT_BADARCH,
//    set to kill the process: no second syscall ABI around the filter.
//  - includes/excludes: arches compare with the native architecture's names
//    ("amd64" / "x86_64" / "SCMP_ARCH_X86_64"); the sandbox holds no
//    capability, so a rule that `includes` caps never applies and `excludes`
//    caps never excludes; minKernel compares with uname's release.
//  - args: ANDed within a rule, unless two share an index, in which case
//    every condition becomes its own rule (ORed), as runc does.
//  - syscall names this libseccomp does not know are skipped with a note.
// The compiled BPF is kept, so apply() in the child is a single prctl.
#include "sandbox/seccomp.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <memory>
#include <utility>

#include "common/unique_fd.h"
#include "sandbox/seccomp_json.h"

namespace pyexec::sandbox {
namespace {

constexpr size_t kMaxProfileBytes = 4 << 20;
constexpr size_t kMaxInstructions = 4096;  // BPF_MAXINSNS: the kernel refuses more

struct CtxRelease {
    void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxRelease>;

// The native architectures pyexec knows how to name: OCI, Go (Docker's
// includes/excludes) and libseccomp spellings.
struct NativeArch {
    uint32_t token;
    std::string_view oci;
    std::string_view goName;
    std::string_view seccompName;
};

constexpr NativeArch kNativeArches[] = {
    {SCMP_ARCH_X86_64, "SCMP_ARCH_X86_64", "amd64", "x86_64"},
    {SCMP_ARCH_AARCH64, "SCMP_ARCH_AARCH64", "arm64", "aarch64"},
    {SCMP_ARCH_PPC64LE, "SCMP_ARCH_PPC64LE", "ppc64le", "ppc64le"},
    {SCMP_ARCH_S390X, "SCMP_ARCH_S390X", "s390x", "s390x"},
    {SCMP_ARCH_RISCV64, "SCMP_ARCH_RISCV64", "riscv64", "riscv64"},
};

// What the profile is compared with on this host.
struct Host {
    const NativeArch* arch = nullptr;
    KernelVersion kernel{0, 0, 0};
};

// Field-level compile error; loadJson() prefixes the source.
Error compileError(const std::string& field, const std::string& reason, int err = 0) {
    return makeError(ErrorKind::kConfig, field + ": " + reason, field, err);
}

Result<Host> probeHost() {
    Host h;
    for (const NativeArch& a : kNativeArches) {
        if (a.token == seccomp_arch_native()) h.arch = &a;
    }
    if (h.arch == nullptr) {
        return makeError(ErrorKind::kConfig, "seccomp: unsupported native architecture");
    }
    utsname u{};
    // An unreadable release counts as 0.0.0: minKernel rules are then skipped.
    if (uname(&u) == 0) h.kernel = parseKernelVersion(u.release).value_or(h.kernel);
    return h;
}

// libseccomp's token for an OCI name ("SCMP_ARCH_X86_64" -> "x86_64"), 0 if
// this libseccomp does not support it.
uint32_t archToken(std::string_view oci) {
    std::string name(oci.substr(std::string_view("SCMP_ARCH_").size()));
    for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return seccomp_arch_resolve_name(name.c_str());
}

Result<uint32_t> actionValue(SeccompAction a, std::optional<unsigned> ret, unsigned defaultErrno,
                             const std::string& field) {
    switch (a) {
        case SeccompAction::kAllow:
            return uint32_t{SCMP_ACT_ALLOW};
        case SeccompAction::kKillThread:
            return uint32_t{SCMP_ACT_KILL_THREAD};
        case SeccompAction::kKillProcess:
            return uint32_t{SCMP_ACT_KILL_PROCESS};
        case SeccompAction::kTrap:
            return uint32_t{SCMP_ACT_TRAP};
        case SeccompAction::kLog:
            return uint32_t{SCMP_ACT_LOG};
        case SeccompAction::kTrace:
            return uint32_t{SCMP_ACT_TRACE(ret.value_or(0))};
        case SeccompAction::kNotify:
            return compileError(field, "SCMP_ACT_NOTIFY is not supported");
        case SeccompAction::kErrno:
            break;
    }
    unsigned e = ret.value_or(defaultErrno);
    if (e > 4095)
        return compileError(field, "errno " + std::to_string(e) + " is out of range 0..4095");
    return uint32_t{SCMP_ACT_ERRNO(e)};
}

// One architecture to add: its OCI name and the field that asked for it.
struct ArchWanted {
    std::string name;
    std::string field;
};

Result<std::vector<ArchWanted>> wantedArches(const SeccompProfile& p, const Host& host) {
    if (!p.architectures.empty() && !p.archMap.empty()) {
        return compileError("archMap", "use either \"architectures\" or \"archMap\", not both");
    }
    std::vector<ArchWanted> out;
    for (size_t i = 0; i < p.architectures.size(); ++i) {
        out.push_back({p.architectures[i], "architectures[" + std::to_string(i) + "]"});
    }
    for (size_t i = 0; i < p.archMap.size(); ++i) {
        const auto& e = p.archMap[i];
        if (e.architecture != host.arch->oci) continue;  // maps for other hosts
        const std::string field = "archMap[" + std::to_string(i) + "].subArchitectures[";
        for (size_t j = 0; j < e.subArchitectures.size(); ++j) {
            out.push_back({e.subArchitectures[j], field + std::to_string(j) + "]"});
        }
    }
    return out;
}

Status addArches(void* ctx, const SeccompProfile& p, const Host& host) {
    auto wanted = wantedArches(p, host);
    if (!wanted) return wanted.error();
    for (const ArchWanted& a : wanted.value()) {
        uint32_t token = archToken(a.name);
        if (token == 0) {
            return compileError(a.field, a.name + " is not supported by this libseccomp");
        }
        if (token == host.arch->token) continue;  // seccomp_init added it
        int rc = seccomp_arch_add(ctx, token);
        if (rc < 0 && rc != -EEXIST) {
            return compileError(a.field, "seccomp_arch_add: " + std::string(strerror(-rc)), -rc);
        }
    }
    return okStatus();
}

bool matchesHostArch(const std::vector<std::string>& arches, const Host& host) {
    for (const std::string& a : arches) {
        if (a == host.arch->oci || a == host.arch->goName || a == host.arch->seccompName)
            return true;
    }
    return false;
}

// Whether a rule applies on this host (see the top of the file).
bool ruleApplies(const SeccompRule& r, const Host& host) {
    if (!r.includes.caps.empty()) return false;  // the sandbox holds no capability
    if (!r.includes.arches.empty() && !matchesHostArch(r.includes.arches, host)) return false;
    if (!r.includes.minKernel.empty() &&
        host.kernel < parseKernelVersion(r.includes.minKernel).value_or(host.kernel)) {
        return false;
    }
    if (matchesHostArch(r.excludes.arches, host)) return false;
    if (!r.excludes.minKernel.empty() &&
        !(host.kernel < parseKernelVersion(r.excludes.minKernel).value_or(host.kernel))) {
        return false;
    }
    return true;  // excludes.caps: we hold none of them, so never excluded
}

scmp_arg_cmp toCmp(const SeccompArg& a) {
    // In SeccompOp's order.
    constexpr scmp_compare kCompare[] = {SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE,       SCMP_CMP_EQ,
                                         SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ};
    static_assert(static_cast<size_t>(SeccompOp::kMaskedEq) + 1 == std::size(kCompare));
    return scmp_arg_cmp{a.index, kCompare[static_cast<size_t>(a.op)], a.value, a.valueTwo};
}

// The condition sets to add for a rule: one set (ANDed), or, when two
// conditions share an argument index, one set per condition (ORed), as runc.
std::vector<std::vector<scmp_arg_cmp>> conditionSets(const SeccompRule& r) {
    bool seen[6] = {};
    bool repeated = false;
    std::vector<scmp_arg_cmp> all;
    for (const auto& a : r.args) {
        repeated = repeated || seen[a.index];
        seen[a.index] = true;
        all.push_back(toCmp(a));
    }
    if (!repeated) return {all};
    std::vector<std::vector<scmp_arg_cmp>> sets;
    for (const auto& c : all) sets.push_back({c});
    return sets;
}

// Adds a profile's rules to a libseccomp context, counting them and noting
// what it skipped.
struct SeccompCompiler {
    const Host& host;
    void* ctx;
    uint32_t defaultAction;
    unsigned defaultErrno;
    size_t rules = 0;
    std::vector<std::string> notes;

    Status addRule(const SeccompRule& r, size_t i);
    Status addName(const std::string& name, const std::string& field, uint32_t action,
                   const std::vector<std::vector<scmp_arg_cmp>>& sets);
};

Status SeccompCompiler::addName(const std::string& name, const std::string& field, uint32_t action,
                                const std::vector<std::vector<scmp_arg_cmp>>& sets) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) {
        notes.push_back(field + ": \"" + name + "\" is unknown to this libseccomp; skipped");
        return okStatus();
    }
    for (const auto& set : sets) {
        int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(set.size()),
                                        set.empty() ? nullptr : set.data());
        if (rc < 0) {
            return compileError(field, "cannot add a rule for \"" + name + "\": " + strerror(-rc),
                                -rc);
        }
        ++rules;
    }
    return okStatus();
}

Status SeccompCompiler::addRule(const SeccompRule& r, size_t i) {
    const std::string field = "syscalls[" + std::to_string(i) + "]";
    if (!ruleApplies(r, host)) return okStatus();
    auto action = actionValue(r.action, r.errnoRet, defaultErrno, field + ".action");
    if (!action) return action.error();
    // libseccomp refuses a rule that repeats the default action; it is a no-op anyway.
    if (action.value() == defaultAction) return okStatus();
    const auto sets = conditionSets(r);
    for (size_t j = 0; j < r.names.size(); ++j) {
        const std::string nameField = field + ".names[" + std::to_string(j) + "]";
        if (auto st = addName(r.names[j], nameField, action.value(), sets); !st) return st;
    }
    return okStatus();
}

Result<std::vector<sock_filter>> exportBpf(void* ctx) {
    UniqueFd fd(memfd_create("pyexec-seccomp", MFD_CLOEXEC));
    if (!fd.valid())
        return makeError(ErrorKind::kConfig, "seccomp: memfd_create failed", {}, errno);
    int rc = seccomp_export_bpf(ctx, fd.get());
    if (rc < 0) return makeError(ErrorKind::kConfig, "seccomp_export_bpf failed", {}, -rc);
    off_t size = lseek(fd.get(), 0, SEEK_END);
    if (size <= 0 || size % sizeof(sock_filter) != 0) {
        return makeError(ErrorKind::kConfig, "seccomp: exported BPF has a bad size");
    }
    std::vector<sock_filter> prog(static_cast<size_t>(size) / sizeof(sock_filter));
    if (prog.size() > kMaxInstructions) {
        return makeError(ErrorKind::kConfig,
                         "seccomp: the filter has " + std::to_string(prog.size()) +
                             " BPF instructions; the kernel takes at most 4096");
    }
    if (pread(fd.get(), prog.data(), static_cast<size_t>(size), 0) != size) {
        return makeError(ErrorKind::kConfig, "seccomp: cannot read the exported BPF", {}, errno);
    }
    return prog;
}

Result<Ctx> newContext(const SeccompProfile& p, const Host& host, uint32_t& defaultAction,
                       unsigned& defaultErrno) {
    defaultErrno = p.defaultErrnoRet.value_or(EPERM);
    auto def = actionValue(p.defaultAction, p.defaultErrnoRet, defaultErrno, "defaultAction");
    if (!def) return def.error();
    defaultAction = def.value();
    Ctx ctx(seccomp_init(defaultAction));
    if (!ctx) return compileError("defaultAction", "seccomp_init failed");
    // A foreign ABI (x86, x32 on x86-64) not in the profile ends the process.
    if (seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
        seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0) < 0) {
        return makeError(ErrorKind::kConfig, "seccomp: cannot set filter attributes");
    }
    // A binary tree of syscall numbers: fewer instructions run per call.
    (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (auto st = addArches(ctx.get(), p, host); !st) return st.error();
    return ctx;
}

Error withSource(Error e, std::string_view source) {
    e.message = std::string(source) + ": " + e.message;
    e.kind = ErrorKind::kConfig;
    return e;
}

}  // namespace

Result<SeccompProgram> SeccompProgram::loadJson(std::string_view json, std::string_view source) {
    auto profile = parseSeccompProfile(json);
    if (!profile) return withSource(profile.error(), source);
    auto host = probeHost();
    if (!host) return withSource(host.error(), source);
    uint32_t defaultAction = 0;
    unsigned defaultErrno = 0;
    auto ctx = newContext(profile.value(), host.value(), defaultAction, defaultErrno);
    if (!ctx) return withSource(ctx.error(), source);
    SeccompCompiler c{host.value(), ctx.value().get(), defaultAction, defaultErrno, 0, {}};
    const auto& rules = profile.value().syscalls;
    for (size_t i = 0; i < rules.size(); ++i) {
        if (auto st = c.addRule(rules[i], i); !st) return withSource(st.error(), source);
    }
    auto bpf = exportBpf(ctx.value().get());
    if (!bpf) return withSource(bpf.error(), source);
    SeccompProgram prog;
    prog.name_ = source;
    prog.ruleCount_ = c.rules;
    prog.notes_ = std::move(c.notes);
    prog.filter_ = std::move(bpf).value();
    return prog;
}

Result<SeccompProgram> SeccompProgram::loadFile(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    struct stat st {};
    if (!fd.valid() || fstat(fd.get(), &st) != 0) {
        int e = errno;
        return makeError(ErrorKind::kConfig, path + ": cannot open: " + strerror(e), {}, e);
    }
    if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) > kMaxProfileBytes) {
        return makeError(ErrorKind::kConfig, path + ": not a regular file of at most 4 MiB");
    }
    std::string text(static_cast<size_t>(st.st_size), '\0');
    ssize_t n = pread(fd.get(), text.data(), text.size(), 0);
    if (n != st.st_size) {
        return makeError(ErrorKind::kConfig, path + ": short read", {}, n < 0 ? errno : 0);
    }
    auto prog = loadJson(text, path);
    if (!prog) return prog.error();
    size_t slash = path.rfind('/');
    prog.value().name_ = slash == std::string::npos ? path : path.substr(slash + 1);
    return prog;
}

int SeccompProgram::apply() const noexcept {
    if (filter_.empty()) return EINVAL;
    // The kernel copies the program; it only reads through this pointer.
    sock_fprog prog{static_cast<unsigned short>(filter_.size()),
                    const_cast<sock_filter*>(filter_.data())};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) return errno;
    return 0;
}

}  // namespace pyexec::sandbox
