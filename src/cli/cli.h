// pyexecd's command line, other than `serve` (server/master.h): `run` (one
// program in the service's sandbox), `bench-setup` (the cost of each sandbox
// set-up step) and `check-profile`. Each command takes the arguments after
// its name and returns the process's exit code; each answers --help with its
// own help on stdout and exit code 0.
#pragma once

#include <string>
#include <vector>

namespace pyexec::cli {

// Exit codes of `pyexecd run` (documented in its help and the README),
// besides the program's own exit code and 128 + N for signal N.
inline constexpr int kExitTestFailed = 1;  // the program exited 0 but a test failed
inline constexpr int kExitTimeout = 124;   // the wall-clock limit (as timeout(1))
inline constexpr int kExitCliError = 125;  // pyexecd could not run it (as timeout(1))

// The help of the whole program, and of each command.
std::string overviewHelp();
std::string serveHelp();

// True when args ask for help (--help or -h anywhere).
bool wantsHelp(const std::vector<std::string>& args);

int runCommand(const std::vector<std::string>& args);
int benchSetupCommand(const std::vector<std::string>& args);
int checkProfileCommand(const std::vector<std::string>& args);

}  // namespace pyexec::cli
