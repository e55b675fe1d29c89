// `pyexecd check-profile FILE`: loads and compiles an OCI/Docker seccomp
// profile the way serve does, and says why when it cannot.
#include <iostream>

#include "cli/cli.h"
#include "sandbox/seccomp.h"

namespace pyexec::cli {

int checkProfileCommand(const std::vector<std::string>& args) {
    constexpr const char* kHelp =
        "usage: pyexecd check-profile FILE\n"
        "Loads and compiles an OCI/Docker seccomp profile as serve would, for this machine.\n"
        "Exit code: 0 when it loads (it prints its rule and BPF instruction counts), 1 when\n"
        "it does not (the message names the field), 2 for bad usage.\n";
    if (wantsHelp(args)) return std::cout << kHelp, 0;
    if (args.size() != 1) return std::cerr << kHelp, 2;
    auto p = sandbox::SeccompProgram::loadFile(args[0]);
    if (!p) return std::cerr << "pyexecd: " << p.error().message << "\n", 1;
    std::cout << args[0] << ": ok (" << p.value().ruleCount() << " rules, " << p.value().instructionCount()
              << " BPF instructions)\n";
    // What was left out (a call this libseccomp does not know is neither
    // allowed nor denied by its rule: the default action applies to it).
    for (const std::string& note : p.value().notes()) std::cout << "note: " << note << "\n";
    return 0;
}

}  // namespace pyexec::cli
