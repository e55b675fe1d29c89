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
    for (const std::string& name : modules) {
        PyObject* m = PyImport_ImportModule(name.c_str());
        if (m == nullptr) {
            PyErr_Print();
            return pythonError("cannot import " + name);
        }
        Py_DECREF(m);
    }
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
