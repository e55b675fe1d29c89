#include "protocol/image_choice.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "protocol/stdlib_modules.h"

namespace pyexec::protocol {
namespace {

bool identStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool identChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A token stream of identifiers and the few punctuation marks an import
// statement holds; a newline that is not continued or bracketed, and ';',
// end a statement (token "\n").
std::vector<std::string> tokens(std::string_view code) {
    std::vector<std::string> out;
    int depth = 0;
    for (size_t i = 0; i < code.size();) {
        char c = code[i];
        if (identStart(c)) {
            size_t j = i;
            while (j < code.size() && identChar(code[j])) ++j;
            out.emplace_back(code.substr(i, j - i));
            i = j;
            continue;
        }
        if (c == '\\' && i + 1 < code.size() && code[i + 1] == '\n') {
            i += 2;  // a continued line
            continue;
        }
        if (c == '(') ++depth;
        if (c == ')' && depth > 0) --depth;
        if ((c == '\n' && depth == 0) || c == ';') out.emplace_back("\n");
        if (c == '.' || c == ',' || c == '*') out.emplace_back(1, c);
        ++i;
    }
    return out;
}

}  // namespace

std::vector<std::string> importedRoots(std::string_view code, bool* dynamic) {
    std::vector<std::string> t = tokens(code);
    std::vector<std::string> roots;
    *dynamic = false;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == "__import__" || t[i] == "importlib") *dynamic = true;
        if (t[i] == "from") {
            // from [.]*name[.name]* import ...
            size_t j = i + 1;
            bool relative = j < t.size() && t[j] == ".";
            while (j < t.size() && t[j] == ".") ++j;
            if (relative || j >= t.size() || t[j] == "\n") roots.emplace_back("");
            else roots.push_back(t[j]);
            // Skip to this statement's `import` and past its names.
            while (j < t.size() && t[j] != "\n" && t[j] != "import") ++j;
            while (j < t.size() && t[j] != "\n") ++j;
            i = j;
            continue;
        }
        if (t[i] != "import") continue;
        // import a.b as c, d
        bool expectName = true;
        for (size_t j = i + 1; j < t.size() && t[j] != "\n"; ++j) {
            if (t[j] == ",") {
                expectName = true;
            } else if (expectName && t[j] != "." && t[j] != "as") {
                roots.push_back(t[j]);
                expectName = false;
            }
            i = j;
        }
    }
    return roots;
}

namespace {

std::set<std::string, std::less<>> stdlibSet() {
    std::set<std::string, std::less<>> s;
    std::string_view all = kStdlibModules;  // constant-initialised: ready before this runs
    for (size_t at = 0; at < all.size();) {
        size_t sp = all.find(' ', at);
        if (sp == std::string_view::npos) sp = all.size();
        if (sp > at) s.emplace(all.substr(at, sp - at));
        at = sp + 1;
    }
    return s;
}

// Built before main() (not on first use), so that it is never mistaken for a
// leak by a test's allocation checks.
const std::set<std::string, std::less<>> kStdlib = stdlibSet();

}  // namespace

bool isStdlibModule(std::string_view root) { return kStdlib.count(root) > 0; }

namespace {

// Whether everything `code` imports by statement is light: the standard
// library, and with `pytest` pytest itself and the program's module.
bool importsOnlyLight(std::string_view code, bool pytest) {
    bool dynamic = false;
    std::vector<std::string> roots = importedRoots(code, &dynamic);
    if (dynamic) return false;
    return std::all_of(roots.begin(), roots.end(), [pytest](const std::string& r) {
        if (pytest && (r == "pytest" || r == "_pytest" || r == "main")) return true;
        return r != "importlib" && isStdlibModule(r);
    });
}

}  // namespace

Image imageFor(const RunRequest& request) {
    // A Python file may import anything.
    for (const WorkspaceFile& f : request.files) {
        if (f.path.size() >= 3 && f.path.compare(f.path.size() - 3, 3, ".py") == 0) return Image::kFull;
    }
    bool pytest = false;
    for (const TestSpec& t : request.tests) {
        if (t.type != TestType::kPytest) continue;
        pytest = true;
        if (!importsOnlyLight(t.module, true)) return Image::kFull;
    }
    if (!importsOnlyLight(request.code, pytest)) return Image::kFull;
    return pytest ? Image::kPytest : Image::kLean;
}

}  // namespace pyexec::protocol
