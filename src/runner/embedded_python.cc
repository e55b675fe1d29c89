#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "runner/embedded_python.h"

#include <signal.h>
#include <unistd.h>

#include <string_view>

#include "harness_source.h"
#include "runner/working_set.h"

namespace pyexec::runner {
namespace {

// The harness exits with this when the interpreter cannot even start it.
constexpr int kHarnessFailed = 125;

// The harness, compiled once in the zygote (as `python3 -c` would name it).
PyObject* gHarnessCode = nullptr;
// What each program runs first: Python's SIGINT handler, and the working
// folder at the head of sys.path, as `python3 -c` has them.
PyObject* gStartCode = nullptr;
constexpr const char* kStartSource =
    "import signal as _s, sys as _y\n_s.signal(_s.SIGINT, _s.default_int_handler)\n_y.path.insert(0, '')\ndel _s, _y\n";

Error pythonError(const std::string& what) {
    return makeError(ErrorKind::kSandboxUnavailable, "embedded python: " + what);
}

// Before the imports: a private folder (0700, a fresh random name, made by
// the worker: Zygote::start) for what imports and warm-ups write, so that
// the zygote, root on the host's filesystem, writes nowhere else:
// matplotlib's font cache (MPLCONFIGDIR) and pytest's warm-up module.
constexpr const char* kPrivateFolder = R"PY(
import os
os.environ["MPLCONFIGDIR"] = _pyexec_warm_dir
del os
)PY";

// After the imports and warm-ups: the private folder goes, and with it
// MPLCONFIGDIR (no run should see it). matplotlib memoized its config and
// cache folders as the private one: they are forgotten, so that a run finds
// its own when it first asks, as a cold run does ($HOME/.config/matplotlib,
// in the run's /tmp). Nothing in the zygote asks again (it would make them
// on the host).
constexpr const char* kRemovePrivateFolder = R"PY(
import os, shutil, sys
shutil.rmtree(_pyexec_warm_dir, ignore_errors=True)
os.environ.pop("MPLCONFIGDIR", None)
_pyexec_mpl = sys.modules.get("matplotlib")
if _pyexec_mpl is not None and hasattr(_pyexec_mpl, "_logged_cached"):
    for _pyexec_name, _pyexec_log in (("get_configdir", "CONFIGDIR=%s"), ("get_cachedir", "CACHEDIR=%s")):
        _pyexec_get = getattr(_pyexec_mpl, _pyexec_name, None)
        if hasattr(_pyexec_get, "__wrapped__"):
            setattr(_pyexec_mpl, _pyexec_name, _pyexec_mpl._logged_cached(_pyexec_log)(_pyexec_get.__wrapped__))
    del _pyexec_name, _pyexec_log, _pyexec_get
del os, shutil, sys, _pyexec_mpl, _pyexec_warm_dir
)PY";

// A warm-up is worth having, not needed: a failed one leaves the module
// imported and the zygote usable (its error goes to the worker's log).
void warmUp(const char* source) {
    if (PyRun_SimpleString(source) != 0) PyErr_Clear();
}

// The probe of a working set (working_set.h), in the finished zygote: a
// child (os.fork, so the at-fork hooks run as in a program) runs the
// warm-up again (when asked), then reports the pages of the zygote's
// writable memory it now holds alone (pagemap: present, exclusively
// mapped); they are learnt under the working set's name. With an input:
// the child then goes on as a run does, the start code and the harness
// itself on that input (on fd 3, everything else to /dev/null, in the empty
// private folder), and reports when the harness leaves through os._exit.
constexpr const char* kLearnWorkingSet = R"PY(
def _pyexec_learn(name, source, harness_input):
    import os, struct, _pyexec_warm
    page = os.sysconf("SC_PAGE_SIZE")
    regions = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            f = line.split()
            if f[1] == "rw-p":  # anonymous, heap, stack, and the data of the binary and libraries
                regions.append([int(x, 16) for x in f[0].split("-")])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        real_exit = os._exit

        def report(*_):  # the harness leaves through here (os._exit)
            try:
                out = bytearray()
                with open("/proc/self/pagemap", "rb", buffering=0) as pm:
                    for lo, hi in regions:
                        pm.seek(lo // page * 8)
                        data = pm.read((hi - lo) // page * 8)
                        for k, (e,) in enumerate(struct.iter_unpack("<Q", data)):
                            if e >> 63 & 1 and e >> 56 & 1:
                                out += struct.pack("=Q", lo + k * page)
                view = memoryview(out)
                while view:
                    view = view[os.write(w, view):]
            finally:
                real_exit(0)
        try:
            os.close(r)
            if source is not None:
                exec(source, {"__name__": "_pyexec_probe", "_pyexec_warm_dir": _pyexec_warm_dir})
            if harness_input is not None:
                import __main__
                g = __main__.__dict__
                os.chdir(_pyexec_warm_dir)  # empty: no files in, none out
                w = os.dup2(w, 63)
                null = os.open(os.devnull, os.O_RDWR)
                data = os.memfd_create("input")
                os.write(data, harness_input.encode())
                for fd in (0, 1, 2, 4):
                    os.dup2(null, fd)
                os.dup2(data, 3)
                os.closerange(5, 63)
                os._exit = report
                exec(g["_pyexec_probe_start"], g)
                exec(g["_pyexec_probe_harness"], g)
        finally:
            if harness_input is not None:
                real_exit(1)  # the harness did not finish: learn nothing
            report()
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    if os.waitpid(pid, 0)[1] == 0:
        _pyexec_warm.learn(name, b"".join(chunks))
)PY";

void probeWorkingSet(const WarmModule& m) {
    PyObject* main = PyImport_AddModule("__main__");  // borrowed
    PyObject* learn = main != nullptr ? PyObject_GetAttrString(main, "_pyexec_learn") : nullptr;
    // "z": None for a null pointer.
    PyObject* result = learn != nullptr ? PyObject_CallFunction(learn, "szz", m.workingSet,
                                                                m.probeRepeatsWarmUp ? m.warmUp : nullptr,
                                                                m.probeInput)
                                        : nullptr;
    if (result == nullptr) PyErr_Clear();  // worth having, not needed
    Py_XDECREF(result);
    Py_XDECREF(learn);
}

// _pyexec_warm: what the harness asks of the zygote's interpreter. Only in
// warm mode (the cold interpreter has no such module).
PyObject* warmLearn(PyObject*, PyObject* args) {
    const char* name = nullptr;
    const char* pages = nullptr;
    Py_ssize_t length = 0;
    if (!PyArg_ParseTuple(args, "sy#", &name, &pages, &length)) return nullptr;
    pyexec::runner::learnWorkingSet(name, std::string_view(pages, static_cast<size_t>(length)));
    Py_RETURN_NONE;
}

PyObject* warmPopulate(PyObject*, PyObject* args) {
    const char* name = nullptr;
    if (!PyArg_ParseTuple(args, "s", &name)) return nullptr;
    return PyLong_FromLong(populateWorkingSet(name));
}

PyObject* warmPopulated(PyObject*, PyObject* args) {
    const char* name = nullptr;
    if (!PyArg_ParseTuple(args, "s", &name)) return nullptr;
    return PyLong_FromLong(populatedPages(name));
}

PyMethodDef kWarmMethods[] = {
    {"learn", warmLearn, METH_VARARGS, "learn(name, pages): remember a working set (zygote)"},
    {"populate", warmPopulate, METH_VARARGS, "populate(name): write a working set's pages ahead; pages or -1"},
    {"populated", warmPopulated, METH_VARARGS, "populated(name): pages this process wrote ahead under name"},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef kWarmModule = {PyModuleDef_HEAD_INIT, "_pyexec_warm", nullptr, -1, kWarmMethods,
                           nullptr, nullptr, nullptr, nullptr};

PyObject* initWarmModule() { return PyModule_Create(&kWarmModule); }

}  // namespace

Status initEmbeddedPython(std::span<const WarmModule> modules, const std::string& privateFolder) {
    if (PyImport_AppendInittab("_pyexec_warm", &initWarmModule) != 0) return pythonError("cannot add _pyexec_warm");
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
    PyObject* main = PyImport_AddModule("__main__");  // borrowed
    PyObject* folder = PyUnicode_FromStringAndSize(privateFolder.data(), static_cast<Py_ssize_t>(privateFolder.size()));
    bool named = main != nullptr && folder != nullptr && PyModule_AddObject(main, "_pyexec_warm_dir", folder) == 0;
    if (!named) Py_XDECREF(folder);
    if (!named || PyRun_SimpleString(kPrivateFolder) != 0) return pythonError("cannot use the private folder");
    for (const WarmModule& m : modules) {
        PyObject* module = PyImport_ImportModule(m.name);
        if (module == nullptr) {
            PyErr_Print();
            PyRun_SimpleString(kRemovePrivateFolder);
            return pythonError(std::string("cannot import ") + m.name);
        }
        Py_DECREF(module);
    }
    for (const WarmModule& m : modules) {
        if (m.warmUp != nullptr) warmUp(m.warmUp);
    }
    std::string source(gen::kHarnessSource);
    gStartCode = Py_CompileString(kStartSource, "<string>", Py_file_input);
    gHarnessCode = Py_CompileString(source.c_str(), "<string>", Py_file_input);
    if (gHarnessCode == nullptr || gStartCode == nullptr) {
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
    // The zygote is final: learn the working sets from forks of it (the
    // probe that runs the harness finds its code in __main__ meanwhile).
    PyObject* mainModule = PyImport_AddModule("__main__");  // borrowed
    PyObject* mainGlobals = mainModule != nullptr ? PyModule_GetDict(mainModule) : nullptr;
    if (mainGlobals != nullptr && PyDict_SetItemString(mainGlobals, "_pyexec_probe_start", gStartCode) == 0 &&
        PyDict_SetItemString(mainGlobals, "_pyexec_probe_harness", gHarnessCode) == 0 &&
        PyRun_SimpleString(kLearnWorkingSet) == 0) {
        for (const WarmModule& m : modules) {
            if (m.warmUp != nullptr && m.workingSet != nullptr) probeWorkingSet(m);
        }
        PyRun_SimpleString("del _pyexec_learn\n");
    }
    PyErr_Clear();
    if (mainGlobals != nullptr) {
        PyDict_DelItemString(mainGlobals, "_pyexec_probe_start");
        PyDict_DelItemString(mainGlobals, "_pyexec_probe_harness");
        PyErr_Clear();
    }
    if (PyRun_SimpleString(kRemovePrivateFolder) != 0) return pythonError("cannot remove the private folder");
    return okStatus();
}

namespace {
bool gPytestWriteAhead = false;
}  // namespace

void setPytestWriteAhead(bool on) noexcept { gPytestWriteAhead = on; }

void runEmbeddedHarness() noexcept {
    // First the pages a run writes anyway, in bulk rather than one
    // copy-on-write fault at a time (working_set.h): the after-fork hooks
    // and the harness write most of them. A sandbox kept for pytest
    // exercises writes pytest's set too, before its request (the harness
    // writes it again on the request's clock, which then costs next to nothing).
    populateWorkingSet("base");
    if (gPytestWriteAhead) populateWorkingSet("pytest");
    // What `python3` sets up at start-up for a script, and the init reset.
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGXFSZ, SIG_IGN);
    PyOS_AfterFork_Child();
    // And as `python3 -c`, the working directory (/tmp) heads sys.path
    // (compiled in the zygote).
    PyObject* main = PyImport_AddModule("__main__");  // borrowed
    PyObject* globals = main != nullptr ? PyModule_GetDict(main) : nullptr;
    PyObject* start = globals != nullptr && gStartCode != nullptr ? PyEval_EvalCode(gStartCode, globals, globals) : nullptr;
    if (start == nullptr) PyErr_Print();
    Py_XDECREF(start);
    // As `python3 -c`: the code runs in __main__, its frames named "<string>".
    PyObject* result = globals != nullptr ? PyEval_EvalCode(gHarnessCode, globals, globals) : nullptr;
    if (result == nullptr) PyErr_Print();
    ::_exit(result != nullptr ? 0 : kHarnessFailed);
}

}  // namespace pyexec::runner
