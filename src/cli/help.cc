// Help texts of the command line. Kept together so that they read as one
// manual and stay consistent with the README's "The command line".
#include <algorithm>

#include "cli/cli.h"
#include "server/settings.h"

namespace pyexec::cli {

std::string overviewHelp() {
    return "usage: pyexecd COMMAND [ARGUMENTS]\n"
           "  serve [OPTIONS]                    run the service (FastCGI, behind nginx)\n"
           "  run FILE|- [RUN OPTIONS] [OPTIONS] run one program in the service's sandbox\n"
           "  check-profile FILE                 validate an OCI/Docker seccomp profile\n"
           "  bench-setup N [--json] [OPTIONS]   median cost of each sandbox set-up step over N runs\n"
           "  --help | --version\n"
           "`pyexecd COMMAND --help` describes one command.\n"
           "\nOPTIONS (the settings of serve; run and bench-setup use the same sandbox)\n" +
           server::settingsHelp();
}

std::string serveHelp() {
    return "usage: pyexecd serve [OPTIONS]\n"
           "Runs the service: a master and its workers answer FastCGI requests (POST /run,\n"
           "GET|HEAD /health) from nginx on --listen. SIGHUP re-reads the settings and the\n"
           "seccomp profile; SIGTERM or SIGINT stop it after in-flight runs (--grace-ms).\n"
           "Exit code: 0 after a stop by signal, 1 when it cannot start (profile, cgroups,\n"
           "socket), 2 for a bad option.\n"
           "\nOPTIONS (or lines \"name = value\" in --config FILE; the command line wins)\n" +
           server::settingsHelp();
}

bool wantsHelp(const std::vector<std::string>& args) {
    return std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "--help" || a == "-h"; });
}

}  // namespace pyexec::cli
