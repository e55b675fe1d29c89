// Working sets of the warm image. A warm program is a fork of its zygote:
// each page of the zygote's heap it writes (CPython writes reference counts
// even when it only reads an object) is copied on a page fault, one at a
// time. A pytest session writes about 1,900 such pages, a first plot about
// as many; on the VMs measured a fault costs 30-70 us, and writing the same
// pages ahead with one madvise(MADV_POPULATE_WRITE) per range costs a
// fraction of that. So the zygote learns, once, which pages a kind of run
// writes (a probe child runs its warm-up and reads /proc/self/pagemap), and
// a run that will need them writes them ahead (issue 12). Every warm run
// writes the base set (a small program and the harness itself), a program
// naming pandas or numpy their sets too (issue 11).
//
// The ranges live in the zygote's memory; every program inherits them.
#pragma once

#include <cstddef>
#include <string_view>

namespace pyexec::runner {

// Zygote: remembers `pages` (page addresses, 8 bytes each, native order, as
// the probe wrote them) under `name`, merged into ranges.
void learnWorkingSet(std::string_view name, std::string_view pages);

// Program process: writes ahead the pages learnt under `name`. Returns how
// many pages were asked for, or -1 when the kernel has no
// MADV_POPULATE_WRITE (before 5.14) or nothing was learnt. Pages that are no
// longer mapped are skipped; content is never changed.
long populateWorkingSet(std::string_view name);

// How many pages this process wrote ahead under `name` (0: none yet). A
// program's count starts at 0 whatever its zygote did (the zygote never
// populates).
long populatedPages(std::string_view name);

// Forgets every working set (a zygote never does; tests do).
void forgetWorkingSets();

}  // namespace pyexec::runner
