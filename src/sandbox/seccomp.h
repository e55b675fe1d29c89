// seccomp: profiles in the OCI / Docker JSON format, compiled once with
// libseccomp in the master and applied last in each sandboxed child.
//
// loadFile() parses and compiles; the compiled BPF program is kept in
// memory so that apply() in the child needs no allocation and no libseccomp
// call: just prctl(PR_SET_SECCOMP). The child must have set
// PR_SET_NO_NEW_PRIVS before apply().
#pragma once

#include <linux/filter.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pyexec::sandbox {

class SeccompProgram {
public:
    // Reads, validates and compiles a profile file. Errors (kConfig) name the
    // file, the field (e.g. "syscalls[12].args[0].op") and the reason.
    static Result<SeccompProgram> loadFile(const std::string& path);
    // Same, from JSON text; `source` names it in errors.
    static Result<SeccompProgram> loadJson(std::string_view json, std::string_view source);

    // An already compiled program (the warm zygote receives its worker's).
    static SeccompProgram fromFilter(std::vector<sock_filter> filter, std::string name) {
        SeccompProgram p;
        p.filter_ = std::move(filter);
        p.name_ = std::move(name);
        return p;
    }
    const std::vector<sock_filter>& filter() const { return filter_; }

    // Child side, async-signal-safe. Returns 0 or an errno.
    int apply() const noexcept;

    std::string_view name() const { return name_; }  // file name, e.g. "python.json"
    size_t ruleCount() const { return ruleCount_; }   // syscall rules added
    size_t instructionCount() const { return filter_.size(); }
    // What the loader skipped and an operator may want to know, one line
    // each (e.g. a syscall name this libseccomp does not know).
    const std::vector<std::string>& notes() const { return notes_; }

private:
    std::string name_;
    size_t ruleCount_ = 0;
    std::vector<std::string> notes_;
    std::vector<sock_filter> filter_;
};

}  // namespace pyexec::sandbox
