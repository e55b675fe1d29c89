// Unit tests of src/protocol/image_choice.cc: which interpreter image a
// request gets (lean: nothing heavy imported; pytest: the same, with pytest
// tests; full otherwise).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "protocol/image_choice.h"
#include "protocol/stdlib_modules.h"

#include <CppUTest/TestHarness.h>

using namespace pyexec;
using namespace pyexec::protocol;

namespace {

std::string roots(const char* code, bool* dynamic = nullptr) {
    bool d = false;
    std::string out;
    for (const std::string& r : importedRoots(code, &d)) out += (out.empty() ? "" : " ") + (r.empty() ? "<rel>" : r);
    if (dynamic) *dynamic = d;
    return out;
}

Image imageOf(const char* code) {
    RunRequest r;
    r.code = code;
    return imageFor(r);
}

}  // namespace

TEST_GROUP(Image){};

TEST(Image, ImportStatementsGiveTheirRoots) {
    STRCMP_EQUAL("os numpy json", roots("import os\nimport numpy.linalg as la, json\n").c_str());
    STRCMP_EQUAL("collections pandas", roots("from collections import Counter\nfrom pandas.api import types\n").c_str());
    STRCMP_EQUAL("math", roots("if True: import math").c_str());
    STRCMP_EQUAL("sys os", roots("import sys; import os").c_str());
    STRCMP_EQUAL("typing", roots("from typing import (\n  List,\n  Dict)\nx = 1\n").c_str());
    STRCMP_EQUAL("os pandas", roots("import os, \\\n  pandas\n").c_str());
    STRCMP_EQUAL("<rel>", roots("from . import helper\n").c_str());
    STRCMP_EQUAL("", roots("print('hello')\nx = [i for i in range(3)]\n").c_str());
}

TEST(Image, DynamicImportsAreNoticed) {
    bool dynamic = false;
    roots("m = __import__('pan' + 'das')", &dynamic);
    CHECK_TRUE(dynamic);
    roots("import importlib\nimportlib.import_module('numpy')", &dynamic);
    CHECK_TRUE(dynamic);
    roots("import math\nprint(math.pi)", &dynamic);
    CHECK_FALSE(dynamic);
}

TEST(Image, LeanOnlyForTheStandardLibrary) {
    CHECK(Image::kLean == imageOf("print('Hello, World!')"));
    CHECK(Image::kLean == imageOf("import math, random\nfrom collections import Counter\nprint(math.pi)"));
    CHECK(Image::kFull == imageOf("import numpy as np\nprint(np.arange(3).sum())"));
    CHECK(Image::kFull == imageOf("import pandas as pd"));
    CHECK(Image::kFull == imageOf("from matplotlib import pyplot"));
    CHECK(Image::kFull == imageOf("import helper"));  // a module of its own files, or anything unknown
    CHECK(Image::kFull == imageOf("from . import x"));
    CHECK(Image::kFull == imageOf("x = __import__('os')"));
    CHECK(Image::kFull == imageOf("s = 'import pandas'"));  // a string counts: only more conservative
}

TEST(Image, PythonFilesAreFull) {
    RunRequest r;
    r.code = "def add(a, b):\n    return a + b\n";
    r.files = {{"data.csv", "a,b\n1,2\n"}, {"notes/readme.txt", "x"}};
    CHECK(Image::kLean == imageFor(r));  // data files alone: what the code imports decides
    r.files.push_back({"helper.py", "import pandas\n"});
    CHECK(Image::kFull == imageFor(r));
}

TEST(Image, PytestExercisesOfTheStandardLibraryArePytest) {
    RunRequest r;
    r.code = "import math\ndef add(a, b):\n    return a + b\n";
    r.files = {{"data.csv", "a,b\n1,2\n"}};
    TestSpec t;
    t.type = TestType::kPytest;
    t.module = "import pytest\nfrom main import add\nfrom _pytest.outcomes import fail\n"
               "def test_a():\n    assert add(1, 2) == 3\n";
    r.tests.push_back(t);
    TestSpec out;
    out.type = TestType::kOutput;
    r.tests.push_back(out);
    CHECK(Image::kPytest == imageFor(r));
    // pytest and main are light only beside a pytest test
    CHECK(Image::kFull == imageOf("import pytest"));
    CHECK(Image::kFull == imageOf("import main"));
    // anything heavy, in the program or in any module, a dynamic import, or
    // a Python file: full
    r.tests.push_back(t);
    r.tests.back().module = "import numpy as np\ndef test_b():\n    assert np.int64(1) == 1\n";
    CHECK(Image::kFull == imageFor(r));
    r.tests.back().module = "def test_c():\n    __import__('os')\n";
    CHECK(Image::kFull == imageFor(r));
    r.tests.pop_back();
    CHECK(Image::kPytest == imageFor(r));
    r.code = "import pandas\n";
    CHECK(Image::kFull == imageFor(r));
    r.code = "x = 1\n";
    r.files.push_back({"helper.py", "x = 2\n"});
    CHECK(Image::kFull == imageFor(r));
}

// The table must be the interpreter's own standard library.
TEST(Image, TheStdlibTableMatchesTheInterpreter) {
    std::unique_ptr<FILE, int (*)(FILE*)> p(
        ::popen("/usr/bin/python3 -c \"import sys; print(' '.join(sorted(n for n in sys.stdlib_module_names "
                "if not n.startswith('_') or n == '__future__')) + ' ')\"",
                "r"),
        ::pclose);
    CHECK_TRUE(p != nullptr);
    std::string got;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p.get())) > 0;) got.append(buf, n);
    while (!got.empty() && got.back() == '\n') got.pop_back();
    STRCMP_EQUAL(got.c_str(), kStdlibModules);
    CHECK_TRUE(isStdlibModule("json"));
    CHECK_FALSE(isStdlibModule("numpy"));
    CHECK_FALSE(isStdlibModule("js"));
}
