// Unit tests of src/runner/working_set.cc: learnt pages are merged into
// ranges and written ahead for real (MADV_POPULATE_WRITE), in a fork like a
// warm program; nothing is asked of what was not learnt.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "runner/working_set.h"

// CppUTest last: its leak-detector macros redefine `new`.
#include <CppUTest/TestHarness.h>

using namespace pyexec::runner;

namespace {

std::string pagesOf(std::initializer_list<uintptr_t> addresses) {
    std::string out;
    for (uintptr_t a : addresses) {
        uint64_t v = a;
        out.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    return out;
}

// How many of `count` pages from `base` are resident.
int resident(char* base, size_t page, int count) {
    unsigned char vec[16] = {};
    if (::mincore(base, page * static_cast<size_t>(count), vec) != 0) return -1;
    int n = 0;
    for (int i = 0; i < count; ++i) n += vec[i] & 1;
    return n;
}

}  // namespace

TEST_GROUP(WorkingSet) {
    void teardown() override { forgetWorkingSets(); }
};

TEST(WorkingSet, UnknownNamesAreNotPopulated) { CHECK_EQUAL(-1L, populateWorkingSet("never learnt")); }

TEST(WorkingSet, LearntPagesAreWrittenAheadInAFork) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    char* base = static_cast<char*>(::mmap(nullptr, page * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    CHECK(base != MAP_FAILED);
    auto at = [&](size_t i) { return reinterpret_cast<uintptr_t>(base + i * page); };
    // Pages 1, 2 (one range) and 5; a misaligned address is ignored.
    learnWorkingSet("test-set", pagesOf({at(1), at(2), at(5), at(6) + 1}));
    CHECK_EQUAL(0, resident(base, page, 8));
    pid_t child = ::fork();
    if (child == 0) {
        long n = populateWorkingSet("test-set");
        // Kernels before 5.14 have no MADV_POPULATE_WRITE: nothing happens.
        bool ok = n == -1 ? resident(base, page, 8) == 0
                          : n == 3 && resident(base, page, 8) == 3 && base[page] == 0 && base[5 * page] == 0;
        ::_exit(ok ? 0 : 1);
    }
    int status = 0;
    CHECK_EQUAL(child, ::waitpid(child, &status, 0));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQUAL(0, resident(base, page, 8));  // the parent's pages are untouched
    ::munmap(base, page * 8);
}

TEST(WorkingSet, UnmappedPagesAreSkipped) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    char* base = static_cast<char*>(::mmap(nullptr, page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    CHECK(base != MAP_FAILED);
    learnWorkingSet("gone", pagesOf({reinterpret_cast<uintptr_t>(base)}));
    ::munmap(base, page * 2);
    long n = populateWorkingSet("gone");
    CHECK(n == 1 || n == -1);
}
