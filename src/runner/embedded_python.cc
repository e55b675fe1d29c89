#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "runner/embedded_python.h"

#include <signal.h>
#include <unistd.h>

#include "harness_source.h"

namespace pyexec::runner {
namespace {

// The harness exits with this when the interpreter cannot even start it.
constexpr int kHarnessFailed = 125;

// The harness, compiled once in the zygote (as `python3 -c` would name it).
PyObject* gHarnessCode = nullptr;

Error pythonError(const std::string& what) {
    return makeError(ErrorKind::kSandboxUnavailable, "embedded python: " + what);
}

bool listed(const std::vector<std::string>& modules, const std::string& name) {
    for (const std::string& m : modules) {
        if (m == name || m.rfind(name + ".", 0) == 0) return true;
    }
    return false;
}

// Before the imports: a private folder (mkdtemp: 0700, a fresh random name)
// for what imports and warm-ups write, so that the zygote, root on the
// host's filesystem, writes nowhere else: matplotlib's font cache
// (MPLCONFIGDIR) and pytest's warm-up module.
constexpr const char* kPrivateFolder = R"PY(
import os, tempfile
_pyexec_warm_dir = tempfile.mkdtemp(prefix="pyexec-zygote-")
os.environ["MPLCONFIGDIR"] = _pyexec_warm_dir
del os, tempfile
)PY";

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

// One pytest session on a small module (parametrised, a fixture, a skip, a
// failed assertion), with the options of src/harness/exercise.py, so that
// what pytest imports and builds lazily is in the zygote's pages. Its output
// goes nowhere; what it leaves in sys.path and sys.modules is taken back.
constexpr const char* kPytestWarmUp = R"PY(
import os, sys, pytest
_p = os.path.join(_pyexec_warm_dir, "test_pyexec_warmup.py")
with open(_p, "w") as _f:
    _f.write("import pytest\n"
             "@pytest.mark.parametrize('a', [1, 2])\n"
             "def test_a(a, capsys):\n"
             "    print(a)\n"
             "    assert capsys.readouterr().out == str(a) + '\\n'\n"
             "@pytest.mark.skip(reason='r')\n"
             "def test_s():\n"
             "    pass\n"
             "def test_f():\n"
             "    assert [1, 2] == [1, 3]\n")
_path, _saved = list(sys.path), [os.dup(1), os.dup(2)]
_null = os.open(os.devnull, os.O_WRONLY)
os.dup2(_null, 1)
os.dup2(_null, 2)
os.close(_null)
_out, _err = sys.stdout, sys.stderr
os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
try:
    pytest.main([_p, "--rootdir", _pyexec_warm_dir, "--basetemp", os.path.join(_pyexec_warm_dir, "tmp"),
                 "-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:pastebin", "-p", "no:nose",
                 "-p", "no:doctest", "-p", "no:junitxml", "-p", "no:faulthandler", "-p", "no:setuponly",
                 "-p", "no:setupplan", "-p", "no:debugging", "--tb=short"])
finally:
    sys.stdout, sys.stderr = _out, _err
    os.dup2(_saved[0], 1)
    os.dup2(_saved[1], 2)
    os.close(_saved[0])
    os.close(_saved[1])
    del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
    sys.path[:] = _path
    sys.modules.pop("test_pyexec_warmup", None)
del os, sys, pytest, _p, _f, _path, _saved, _out, _err
)PY";

// After the imports and warm-ups: the private folder goes, and with it
// MPLCONFIGDIR (no run should see it).
constexpr const char* kRemovePrivateFolder = R"PY(
import os, shutil
shutil.rmtree(_pyexec_warm_dir, ignore_errors=True)
os.environ.pop("MPLCONFIGDIR", None)
del os, shutil, _pyexec_warm_dir
)PY";

// A warm-up is worth having, not needed: a failed one leaves the module
// imported and the zygote usable (its error goes to the worker's log).
void warmUp(const char* source) {
    if (PyRun_SimpleString(source) != 0) PyErr_Clear();
}

}  // namespace

Status initEmbeddedPython(const std::vector<std::string>& modules) {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.buffered_stdio = 0;        // -u
    config.write_bytecode = 0;        // -B
    config.user_site_directory = 0;   // -s
    config.parse_argv = 0;
    config.install_signal_handlers = 1;
    PyStatus st = PyConfig_SetString(&config, &config.program_name, L"/usr/bin/python3");
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) return pythonError(st.err_msg ? st.err_msg : "initialisation failed");
    if (PyRun_SimpleString(kPrivateFolder) != 0) return pythonError("cannot make a private folder");
    for (const std::string& name : modules) {
        PyObject* m = PyImport_ImportModule(name.c_str());
        if (m == nullptr) {
            PyErr_Print();
            PyRun_SimpleString(kRemovePrivateFolder);
            return pythonError("cannot import " + name);
        }
        Py_DECREF(m);
    }
    if (listed(modules, "matplotlib")) warmUp(kMatplotlibWarmUp);
    if (listed(modules, "pytest")) warmUp(kPytestWarmUp);
    if (PyRun_SimpleString(kRemovePrivateFolder) != 0) return pythonError("cannot remove the private folder");
    std::string source(gen::kHarnessSource);
    gHarnessCode = Py_CompileString(source.c_str(), "<string>", Py_file_input);
    if (gHarnessCode == nullptr) {
        PyErr_Print();
        return pythonError("cannot compile the harness");
    }
    // Every fork (each run, and a program's own os.fork) draws fresh seeds:
    // `random` registers that itself; numpy's global RandomState would
    // otherwise repeat the zygote's sequence in every run. Its whole
    // MT19937 state comes from the kernel: as much entropy as seed() would
    // give, for a fifth of the pages seed()'s code touches (0.2 ms, not 1 ms).
    if (PyRun_SimpleString("import os, sys\n"
                           "def _pyexec_reseed(_np=sys.modules.get('numpy'), _u=os.urandom):\n"
                           "    _np.random.set_state(('MT19937', _np.frombuffer(_u(2496), dtype=_np.uint32), 624))\n"
                           "if 'numpy.random' in sys.modules:\n"
                           "    os.register_at_fork(after_in_child=_pyexec_reseed)\n"
                           "del os, sys, _pyexec_reseed\n") != 0) {
        return pythonError("cannot register the reseeding of numpy.random");
    }
    // Everything imported so far moves to the permanent generation: the
    // collector will not walk (and so copy-on-write) those pages in every run.
    if (PyRun_SimpleString("import gc\ngc.collect()\ngc.freeze()\ndel gc\n") != 0) {
        return pythonError("gc.freeze failed");
    }
    return okStatus();
}

void runEmbeddedHarness() noexcept {
    // What `python3` sets up at start-up for a script, and the init reset.
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGXFSZ, SIG_IGN);
    PyOS_AfterFork_Child();
    // And as `python3 -c`, the working directory (/tmp) heads sys.path.
    PyRun_SimpleString("import signal as _s, sys as _y\n_s.signal(_s.SIGINT, _s.default_int_handler)\n"
                       "_y.path.insert(0, '')\ndel _s, _y\n");
    // As `python3 -c`: the code runs in __main__, its frames named "<string>".
    PyObject* main = PyImport_AddModule("__main__");  // borrowed
    PyObject* globals = main != nullptr ? PyModule_GetDict(main) : nullptr;
    PyObject* result = globals != nullptr ? PyEval_EvalCode(gHarnessCode, globals, globals) : nullptr;
    if (result == nullptr) PyErr_Print();
    ::_exit(result != nullptr ? 0 : kHarnessFailed);
}

}  // namespace pyexec::runner
