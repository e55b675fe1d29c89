// The warm image: what every warm program finds imported in its zygote,
// and how each module is warmed up there. The one place that decides what a
// warm run pays for; what matplotlib and pytest cost the zygote and save a
// run was measured for issue 12 (README, Benchmarks). A lean and a full
// image would be two such tables.
#pragma once

#include <span>

namespace pyexec::runner {

struct WarmModule {
    const char* name;                  // imported in the zygote
    // Python run once after all the imports, in __main__, with
    // `_pyexec_warm_dir` a private folder it may write into; nothing else of
    // it stays (no open file: the program's set-up closes every descriptor
    // it does not know). nullptr: none.
    const char* warmUp = nullptr;
    // When set, the pages of the zygote that running warmUp again writes are
    // learnt under this name, and a run that will need them writes them
    // ahead in bulk (working_set.h). nullptr: none.
    const char* workingSet = nullptr;
};

std::span<const WarmModule> warmImage();

}  // namespace pyexec::runner
