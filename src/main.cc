// pyexecd: the command line. `serve` runs the service (server/master.h); the
// other commands are in src/cli/. Every command answers --help.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.h"
#include "common/log.h"
#include "common/proc_title.h"
#include "runner/zygote.h"
#include "server/engine.h"
#include "server/master.h"

using namespace pyexec;

int main(int argc, char** argv) {
    if (argc >= 1 && std::string_view(argv[0]) == "pyexec-zygote") return runner::zygoteProcessMain();
    std::vector<std::string> args(argv + 1, argv + argc);  // copied before the area can be wiped
    proctitle::remember(argc, argv);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        (args.empty() ? std::cerr : std::cout) << cli::overviewHelp();
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") return std::cout << "pyexecd " << server::kVersion << "\n", 0;
    const std::string& command = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (command == "serve") {
        if (cli::wantsHelp(rest)) return std::cout << cli::serveHelp(), 0;
        return server::serve(rest);
    }
    if (command == "check-profile") return cli::checkProfileCommand(rest);
    if (command == "run" || command == "bench-setup") {
        log::setQuiet(true);
        return command == "run" ? cli::runCommand(rest) : cli::benchSetupCommand(rest);
    }
    std::cerr << "pyexecd: unknown command '" << command << "'\n" << cli::overviewHelp();
    return 2;
}
