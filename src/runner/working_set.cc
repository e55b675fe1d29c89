// Working sets of the warm image (working_set.h).
#include "runner/working_set.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

namespace pyexec::runner {
namespace {

struct Range {
    uintptr_t start;
    size_t length;
};

struct WorkingSet {
    std::string name;
    std::vector<Range> ranges;
    size_t pages = 0;
    long populated = 0;  // by this process
};

// Few sets, learnt once in the zygote: a vector is enough.
std::vector<WorkingSet>& sets() {
    static std::vector<WorkingSet> all;
    return all;
}

}  // namespace

void learnWorkingSet(std::string_view name, std::string_view pages) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    WorkingSet set{std::string(name), {}, 0};
    for (size_t at = 0; at + sizeof(uint64_t) <= pages.size(); at += sizeof(uint64_t)) {
        uint64_t address = 0;
        std::memcpy(&address, pages.data() + at, sizeof address);
        if (address % page != 0) continue;
        if (!set.ranges.empty() && set.ranges.back().start + set.ranges.back().length == address) {
            set.ranges.back().length += page;
        } else {
            set.ranges.push_back({static_cast<uintptr_t>(address), page});
        }
        ++set.pages;
    }
    sets().push_back(std::move(set));
}

long populateWorkingSet(std::string_view name) {
    for (WorkingSet& set : sets()) {
        if (set.name != name) continue;
        for (const Range& r : set.ranges) {
            // ENOMEM/EFAULT: no longer mapped (the program unmapped it); skip.
            if (::madvise(reinterpret_cast<void*>(r.start), r.length, MADV_POPULATE_WRITE) != 0 && errno == EINVAL) {
                return -1;
            }
        }
        set.populated += static_cast<long>(set.pages);
        return static_cast<long>(set.pages);
    }
    return -1;
}

long populatedPages(std::string_view name) {
    for (const WorkingSet& set : sets()) {
        if (set.name == name) return set.populated;
    }
    return 0;
}

void forgetWorkingSets() { std::vector<WorkingSet>().swap(sets()); }

}  // namespace pyexec::runner
