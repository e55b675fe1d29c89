#include "common/proc_title.h"

#include <unistd.h>

#include <cstring>

namespace pyexec::proctitle {
namespace {

char* gBegin = nullptr;
char* gEnd = nullptr;

}  // namespace

void remember(int argc, char** argv) {
    if (argc <= 0 || argv[0] == nullptr) return;
    gBegin = argv[0];
    char* end = argv[argc - 1] + std::strlen(argv[argc - 1]) + 1;
    // The kernel lays the environment strings right after the arguments.
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (*e == end) end = *e + std::strlen(*e) + 1;
    }
    gEnd = end;
}

void wipe() noexcept {
    if (gBegin != nullptr && gEnd > gBegin) std::memset(gBegin, 0, static_cast<size_t>(gEnd - gBegin));
}

}  // namespace pyexec::proctitle
