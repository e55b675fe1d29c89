// The warm image: what every warm program finds imported in its zygote,
// and how each module is warmed up there. The one place that decides what a
// warm run pays for; what matplotlib and pytest cost the zygote and save a
// run was measured for issue 12 (README, Benchmarks). Two images: the full
// one, a lean one (the interpreter and what the harness itself imports)
// for programs that import only the standard library
// (protocol/image_choice.h), which forks several times cheaper, and the lean
// one with pytest for pytest exercises of the standard library.
#pragma once

#include <span>

#include "protocol/image_choice.h"

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
    // The probe of that working set runs warmUp again when this is set ...
    bool probeRepeatsWarmUp = true;
    // ... and then, when this is set, the harness on this input (what the
    // worker sends it), as a run does: the pages the harness itself and the
    // run's kind write.
    const char* probeInput = nullptr;
};

std::span<const WarmModule> warmImage(protocol::Image image);
// "lean", "full" or "pytest", for logs.
const char* imageName(protocol::Image image);

}  // namespace pyexec::runner
