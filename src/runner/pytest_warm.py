
# -- pytest in the warm image (issue 12) -------------------------------------
# Run once in the full image's zygote, in __main__, with `_pyexec_warm_dir` a
# private folder (warm_image.cc embeds this file; tools/embed.sh).
#
# 1. One whole pytest session on a small module (parametrised, a fixture, a
#    skip, a failed assertion), with the harness's options: what pytest
#    imports and builds lazily is then in the zygote's pages.
# 2. A session made ready up to its first test module: options parsed,
#    plugins registered and configured, the fixture manager built, a plugin
#    that hands pytest's reports on to the run's own. That is
#    three quarters of a small session's work, the same in every run; a run
#    forked from here only collects and runs its module (ready() below,
#    called by src/harness/exercise.py). Forked, not shared: each run has
#    its own copy, used once. The harness falls back to pytest.main (a whole
#    session) for any run this one does not fit: a configuration file or a
#    conftest.py in the working folder, PYTEST_ADDOPTS, other options, a
#    second module.
#
# What the ready session holds that belongs to this zygote is put right in
# the run: the folder (the zygote's private one; the run's is /tmp), the
# output capture (restarted in the run, on the run's descriptors), the
# assertion rewriting import hook (only in sys.meta_path while a session
# runs), the mark registry's config. Nothing here keeps a descriptor open:
# pytest's terminal and log file write into a sink (a run throws their
# output away in either path).
# The options of the harness's sessions (exercise.py's _PYEXEC_PYTEST_ARGS:
# ready() takes a run only when the harness asks for these).
_PYEXEC_READY_ARGS = ("-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:pastebin",
                      "-p", "no:nose", "-p", "no:doctest", "-p", "no:junitxml",
                      "-p", "no:faulthandler", "-p", "no:setuponly", "-p", "no:setupplan",
                      "-p", "no:debugging", "--tb=short")


def _pyexec_pytest_warm_up(warm_dir):
    import os, sys
    import pytest
    path = os.path.join(warm_dir, "test_pyexec_warmup.py")
    with open(path, "w") as f:
        f.write("import pytest\n"
                "@pytest.mark.parametrize('a', [1, 2])\n"
                "def test_a(a, capsys):\n"
                "    print(a)\n"
                "    assert capsys.readouterr().out == str(a) + '\\n'\n"
                "@pytest.mark.skip(reason='r')\n"
                "def test_s():\n"
                "    pass\n"
                "def test_f():\n"
                "    assert [1, 2] == [1, 3]\n")
    sys_path, saved = list(sys.path), [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
    out, err = sys.stdout, sys.stderr
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        pytest.main([path, "--rootdir", warm_dir, "--basetemp", os.path.join(warm_dir, "tmp"),
                     *_PYEXEC_READY_ARGS])
    finally:
        sys.stdout, sys.stderr = out, err
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        sys.path[:] = sys_path
        sys.modules.pop("test_pyexec_warmup", None)


class _PyexecReadySink:
    """Where the ready session's terminal and log file write: nowhere."""
    encoding = "utf-8"
    errors = "strict"

    def write(self, s):
        return len(s)

    def flush(self):
        pass

    def isatty(self):
        return False

    def close(self):
        pass


class _PyexecReadyReports:
    """Registered once with the ready session: hands every report on to the
    run's own plugin (exercise.py's _PyexecPytestReports), so that a run
    does not pay for registering one (pluggy inspects each hook's
    signature). Its hooks are that plugin's: ready() registers the run's
    plugin itself when their names differ."""
    target = None

    def pytest_collectreport(self, report):
        if self.target is not None:
            self.target.pytest_collectreport(report)

    def pytest_collection_finish(self, session):
        if self.target is not None:
            self.target.pytest_collection_finish(session)

    def pytest_internalerror(self, excrepr, excinfo):
        if self.target is not None:
            self.target.pytest_internalerror(excrepr, excinfo)

    def pytest_runtest_logreport(self, report):
        if self.target is not None:
            self.target.pytest_runtest_logreport(report)

    def pytest_runtest_logfinish(self, nodeid, location):
        if self.target is not None:
            self.target.pytest_runtest_logfinish(nodeid, location)


def _pyexec_hook_names(cls):
    return sorted(name for name in dir(cls) if name.startswith("pytest_"))


def _pyexec_pytest_ready(warm_dir):
    """Makes a session ready (2. above); returns ready(), or None when this
    pytest is not the one it was written for or a step failed (every run then
    takes the whole session)."""
    import os, sys
    from pathlib import Path
    import pytest
    if not pytest.__version__.startswith("7.") or "PYTEST_ADDOPTS" in os.environ:
        return None
    from _pytest.assertion import assertstate_key
    from _pytest.config import Config, UsageError, _prepareconfig
    from _pytest.main import ExitCode, Session, _bestrelpath_cache, _main
    from _pytest.mark import old_mark_config_key
    from _pytest.mark.structures import MARK_GEN
    from _pytest.outcomes import exit as pytest_exit

    sink = _PyexecReadySink()
    out, sys_path, meta_path, cwd = sys.stdout, list(sys.path), list(sys.meta_path), os.getcwd()
    config = None
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        os.chdir(warm_dir)
        sys.stdout = sink  # the terminal reporter keeps what sys.stdout is at configure
        config = _prepareconfig([warm_dir, "--rootdir", warm_dir, *_PYEXEC_READY_ARGS])
        if config.inipath is not None:  # a configuration file above the private folder: not ours
            raise RuntimeError("a configuration file was found: " + str(config.inipath))
        capman = config.pluginmanager.getplugin("capturemanager")
        capman.stop_global_capturing()
        hook = config.stash[assertstate_key].hook
        sys.meta_path.remove(hook)
        session = Session.from_config(config)
        config._do_configure()
        config.hook.pytest_sessionstart(session=session)
        config.pluginmanager.get_plugin("logging-plugin").log_file_handler.setStream(sink).close()
        reports = _PyexecReadyReports()
        config.pluginmanager.register(reports, "pyexec-reports")
        report_hooks = _pyexec_hook_names(_PyexecReadyReports)
        hook_names = _pyexec_hook_names
        MARK_GEN._config = config.stash[old_mark_config_key]
        reporter = config.pluginmanager.get_plugin("terminalreporter")
    except BaseException:
        if config is not None:
            try:
                config._ensure_unconfigure()
            except BaseException:
                pass
        return None
    finally:
        sys.stdout = out
        sys.path[:], sys.meta_path[:] = sys_path, meta_path
        os.chdir(cwd)
        del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
    ready_args = _PYEXEC_READY_ARGS
    config_files = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", "conftest.py")
    used = []

    def ready(path, folder, plugin, args):
        """Runs the test module at `path` (in `folder`, the working folder)
        with `plugin` registered; returns pytest's exit status, or None when
        this run does not fit the ready session (nothing was done)."""
        if used or tuple(args) != ready_args or os.environ.get("PYTEST_ADDOPTS"):
            return None
        for name in config_files:
            if os.path.lexists(os.path.join(folder, name)):
                return None
        used.append(True)
        root = Path(folder)
        config.args = [path]
        config.option.file_or_dir = config.known_args_namespace.file_or_dir = [path]
        config.option.rootdir = config.known_args_namespace.rootdir = folder
        config.known_args_namespace.confcutdir = folder
        config.invocation_params = Config.InvocationParams(
            args=(path, "--rootdir", folder, *args), plugins=(plugin,), dir=root)
        config._rootpath = root
        config.pluginmanager._confcutdir = root
        session.path = root
        session._bestrelpathcache = _bestrelpath_cache(root)
        if hasattr(reporter, "startpath"):
            reporter.startpath = root
        MARK_GEN._config = config
        sys.meta_path.insert(0, hook)
        try:
            if hook_names(type(plugin)) == report_hooks:
                reports.target = plugin
            else:
                config.pluginmanager.register(plugin)
            capman.start_global_capturing()
            capman.suspend_global_capture()
            return _pyexec_ready_session(config, session)
        except UsageError:
            return ExitCode.USAGE_ERROR
        finally:
            config._ensure_unconfigure()

    def _pyexec_ready_session(config, session):
        # What pytest.main goes on to do after the session started (7.2's
        # wrap_session): collect, run, finish, with its exit statuses.
        session.exitstatus = ExitCode.OK
        try:
            session.exitstatus = _main(config, session) or 0
        except UsageError:
            session.exitstatus = ExitCode.USAGE_ERROR
            raise
        except session.Failed:
            session.exitstatus = ExitCode.TESTS_FAILED
        except (KeyboardInterrupt, pytest_exit.Exception) as e:
            from _pytest._code import ExceptionInfo
            excinfo = ExceptionInfo.from_current()
            status = ExitCode.INTERRUPTED
            if isinstance(e, pytest_exit.Exception) and e.returncode is not None:
                status = e.returncode
            config.hook.pytest_keyboard_interrupt(excinfo=excinfo)
            session.exitstatus = status
        except BaseException:
            from _pytest._code import ExceptionInfo
            session.exitstatus = ExitCode.INTERNAL_ERROR
            try:
                config.notify_exception(ExceptionInfo.from_current(), config.option)
            except pytest_exit.Exception as e:
                if e.returncode is not None:
                    session.exitstatus = e.returncode
        finally:
            os.chdir(session.startpath)
            try:
                config.hook.pytest_sessionfinish(session=session, exitstatus=session.exitstatus)
            except pytest_exit.Exception as e:
                if e.returncode is not None:
                    session.exitstatus = e.returncode
        return session.exitstatus

    return ready


def _pyexec_pytest_warm(warm_dir):
    import sys, types
    _pyexec_pytest_warm_up(warm_dir)
    ready = _pyexec_pytest_ready(warm_dir)
    if ready is not None:  # the harness takes it out of sys.modules before the program starts
        module = types.ModuleType("_pyexec_pytest_ready")
        module.ready = ready
        sys.modules["_pyexec_pytest_ready"] = module


_pyexec_pytest_warm(_pyexec_warm_dir)
del _pyexec_pytest_warm, _pyexec_pytest_warm_up, _pyexec_pytest_ready, _PyexecReadySink, _PYEXEC_READY_ARGS
del _PyexecReadyReports, _pyexec_hook_names
