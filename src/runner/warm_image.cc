// The warm image (warm_image.h): the modules and their warm-ups.
#include "runner/warm_image.h"

#include <array>
#include <iterator>

#include "pytest_warm_source.h"

namespace pyexec::runner {
namespace {

// A small figure drawn once: what the Agg renderer and the PNG writer
// import and build lazily is done here rather than in every run that plots.
// The fonts it opened are let go: an FT2Font holds its file open, the
// program's set-up closes every descriptor it did not expect, and
// matplotlib drops its font cache after a fork anyway (FreeType objects do
// not survive one), so each run opens the font it draws with.
constexpr const char* kMatplotlibWarmUp = R"PY(
import gc, io, matplotlib.pyplot as _plt
from matplotlib import font_manager as _fm
_fig, _ax = _plt.subplots(figsize=(2, 2))
_ax.plot([0, 1], [1, 0], label="a")
_ax.set_title("t")
_ax.set_xlabel("x")
_ax.legend()
_fig.savefig(io.BytesIO(), format="png")
_plt.close("all")
del _fig, _ax
_fm._get_font.cache_clear()
gc.collect()
del gc, io, _plt, _fm
)PY";

// pytest: one whole session, then one made ready up to its first module
// for the runs (src/runner/pytest_warm.py, embedded by tools/embed.sh).
// Its working set is what a run's ready session writes: the probe runs the
// harness on a small exercise with a pytest module.
constexpr const char* kPytestProbe =
    R"({"code": "def add(a, b):\n    return a + b\n", "pytest": [{"i": 0, "code": )"
    R"("from main import add\n\ndef test_add():\n    assert add(2, 3) == 5\n\n)"
    R"(def test_sub():\n    assert add(2, -3) == -1\n"}]})";

// Every run: a hello world through the harness (the base set).
constexpr const char* kHelloProbe = R"({"code": "print('Hello, World!')\n"})";

// What a small numpy or pandas exercise does: build arrays and a frame,
// sum, average, select, group, and print them. Run once here, it builds
// what numpy and pandas build lazily (their working sets are the pages a
// second time writes: a pandas quest takes some 600 copy-on-write faults
// after its imports without them).
constexpr const char* kNumpyWarmUp = R"PY(
import numpy as _np
_a = _np.array([1, 2, 3, 4, 5])
_b = _np.arange(6, dtype=float).reshape(2, 3)
str(_a.sum()), str(_a.mean()), repr(_b * 2), str(_b.T @ _b), str(_a[_a > 2])
del _np, _a, _b
)PY";

constexpr const char* kPandasWarmUp = R"PY(
import pandas as _pd
_df = _pd.DataFrame({"scores": [85, 90, 78, 92, 88], "name": list("abcde")})
str(_df["scores"].mean()), str(_df["scores"].sum()), repr(_df), str(_df[_df["scores"] > 80])
del _pd, _df
)PY";

// What every run does, roughly: compile and run a small program printing to
// a buffer, a traceback, JSON both ways. The pages of the zygote it writes
// are the base working set, written ahead in every warm run (harness.py).
constexpr const char* kBaseWarmUp = R"PY(
import io, json, sys, traceback
_c = compile("x = [i * 2 for i in range(10)]\nd = {'a': 1}\nprint('Hello, World!', x, d, 1.5)\n", "main.py", "exec")
_g = {"__name__": "__main__"}
_o, sys.stdout = sys.stdout, io.StringIO()
try:
    exec(_c, _g)
finally:
    sys.stdout = _o
try:
    1 / 0
except Exception:
    traceback.format_exc()
json.loads(json.dumps({"event": "finished", "exitCode": 0, "value": [1.5, "a", None, True]}))
"%s %r" % ("x", 1.5)
del io, json, sys, traceback, _c, _g, _o
)PY";

// What the harness imports in every run: the start of every image.
constexpr WarmModule kHarnessModules[] = {
    {"json"}, {"_json"}, {"traceback"}, {"linecache"}, {"io"}, {"atexit"}, {"warnings"}, {"binascii"}, {"stat"}, {"signal"},
};

// An image: the harness's modules, then `extra`, then the base working set
// (learnt last, on the finished zygote).
template <class... Extra>
constexpr auto image(Extra... extra) {
    std::array<WarmModule, std::size(kHarnessModules) + sizeof...(Extra) + 1> out{};
    size_t at = 0;
    for (const WarmModule& m : kHarnessModules) out[at++] = m;
    ((out[at++] = extra), ...);
    out[at] = {"io", kBaseWarmUp, "base", true, kHelloProbe};
    return out;
}

constexpr WarmModule kPytest = {"pytest", gen::kPytestWarmSource.data(), "pytest", false, kPytestProbe};

// numpy and pandas are imported whole: a warm pandas exercise answers in
// milliseconds. matplotlib.pyplot and pytest add about 32 MiB to each zygote
// and to what each warm run's fork copies the page tables of, and save a
// plot or a pytest exercise most of its CPU (README, Benchmarks).
constexpr auto kWarmImage = image(WarmModule{"numpy", kNumpyWarmUp, "numpy"},
                                  WarmModule{"pandas", kPandasWarmUp, "pandas"},
                                  WarmModule{"matplotlib.pyplot", kMatplotlibWarmUp, "matplotlib"}, kPytest);

// The lean image: what the harness imports in every run, nothing more. A
// fork of it copies the page tables of a bare interpreter (measured for
// issue 11: 1.6 ms of CPU per fork against 8.1 ms with numpy and pandas).
constexpr auto kLeanImage = image();

// The pytest image: the lean one with pytest warmed up and its session made
// ready, for pytest exercises of the standard library (image_choice.h). A
// fork of it costs little more than a lean one; a pytest request there used
// about a fifth less CPU than in the full image, measured side by side
// (README, Benchmarks). Started by a worker's first such exercise.
constexpr auto kPytestImage = image(kPytest);

}  // namespace

std::span<const WarmModule> warmImage(protocol::Image image) {
    switch (image) {
    case protocol::Image::kLean: return kLeanImage;
    case protocol::Image::kPytest: return kPytestImage;
    case protocol::Image::kFull: break;
    }
    return kWarmImage;
}

const char* imageName(protocol::Image image) {
    switch (image) {
    case protocol::Image::kLean: return "lean";
    case protocol::Image::kPytest: return "pytest";
    case protocol::Image::kFull: break;
    }
    return "full";
}

}  // namespace pyexec::runner
