// Which warm interpreter a request's program needs (issue 11). Forking the
// interpreter that has numpy, pandas, matplotlib and pytest imported costs
// several times the CPU of forking a bare one (page tables, copy-on-write
// faults, teardown), so programs that import nothing heavy run in a lean
// image: the interpreter and the harness only; pytest exercises whose
// program and test modules import only the standard library and pytest, in
// a third (the lean one with pytest), for the same reason.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol/request.h"

namespace pyexec::protocol {

enum class Image { kLean, kFull, kPytest };

// Lean when everything the code imports by statement is in the standard
// library and it imports nothing dynamically (`__import__`, `importlib`);
// full otherwise, and for every request with a `.py` file (data files alone
// do not matter). A request with a pytest test is pytest, not lean, when its
// code and every test module import only the standard library, pytest and
// `main` (the program's module), by statement; full otherwise.
// Conservative: what is not known to be light is full. A lean program that
// imports pandas anyway (through getattr tricks, say) still works: that
// import is just as slow as in a cold run.
Image imageFor(const RunRequest& request);

// The first component of every module `code` imports by statement (`import
// a.b as c, d` gives a and d; `from e.f import g` gives e; a relative import
// gives ""). A scan, not a parse: an `import` inside a string or comment
// counts too, which can only make the choice more conservative. `dynamic`
// is set when `__import__` or `importlib` appears anywhere.
std::vector<std::string> importedRoots(std::string_view code, bool* dynamic);

// Whether `root` is a standard-library module (stdlib_modules.cc).
bool isStdlibModule(std::string_view root);

}  // namespace pyexec::protocol
