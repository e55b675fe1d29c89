
# -- graded exercises (SPEC 3.1) ---------------------------------------------
# Part 2 of the harness (harness.py, exercise.py, run.py are one source; see
# the Makefile): the request's files, written into the working folder before
# the program; the pytest test modules, run after the observations in this
# same process; and the files the program left in out/, read and reported.
# All of it runs inside the sandbox, as the program's own process: the worker
# validates every record it gets (src/protocol/exercise_records.cc).
#
# The caps below bound what these records can add to the result channel. The
# worker holds the same numbers (exercise_records.h); keep both in step.

_PYEXEC_NAME_CAP = 1024              # bytes (UTF-8) of a pytest test's name
_PYEXEC_MESSAGE_CAP = 8192           # bytes (UTF-8) of one message
_PYEXEC_PYTEST_BUDGET = 2 << 20      # bytes of all pytest records of a run
_PYEXEC_PYTEST_RESULTS = 500         # pytest results listed per run (the rest counted)
_PYEXEC_OUT_FILES = 10               # files of out/ reported
_PYEXEC_OUT_BYTES = 2 << 20          # their content in all
_PYEXEC_PATH_SEGMENTS = 3            # a reported path: out/a/b at the deepest
_PYEXEC_PATH_BYTES = 255             # and at most this long

# pytest's plugins that a graded run does without (src/runner/pytest_warm.py
# makes its ready session with the same options): nothing is cached or
# written next to the tests, no debugger or pastebin, no doctest collection,
# and the fault handler (it takes over stderr's descriptor) is ours to keep.
_PYEXEC_PYTEST_ARGS = ("-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:pastebin",
                       "-p", "no:nose", "-p", "no:doctest", "-p", "no:junitxml",
                       "-p", "no:faulthandler", "-p", "no:setuponly", "-p", "no:setupplan",
                       "-p", "no:debugging", "--tb=short")


def _pyexec_cut(text, cap):
    """text cut to at most cap bytes of UTF-8, on a character boundary;
    returns (text, cut)."""
    text = _pyexec_clean(str.__str__(text) if isinstance(text, str) else _pyexec_safe_repr(text))
    data = text.encode("utf-8")
    if len(data) <= cap:
        return text, False
    return data[:cap].decode("utf-8", "ignore"), True


def _pyexec_segment_ok(name):
    if not name or name in (".", "..") or len(name) > _PYEXEC_PATH_BYTES:
        return False
    for c in name:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "._-"):
            return False
    return True


def _pyexec_write_ahead(H, name):
    """Warm mode: writes ahead, in bulk, the pages of the zygote that this
    kind of run is about to write one fault at a time (the working sets of
    src/runner/working_set.h). Only time is at stake: content is unchanged."""
    try:
        if H["populate"] is not None:
            H["populate"](name)
    except BaseException:
        pass


# -- files in -----------------------------------------------------------------

def _pyexec_write_files(H, files):
    """Writes the request's files (validated by the worker: relative paths
    of safe segments) into the working folder, before the program runs. The
    folder is a fresh empty tmpfs, but nothing is followed or overwritten."""
    fs = H["fs"]
    made = set()
    for path in sorted(files):
        content = files[path]
        if type(path) is not str or type(content) is not str:
            raise ValueError("a file's path and content must be strings")
        parts = path.split("/")
        if len(parts) > _PYEXEC_PATH_SEGMENTS or not all(_pyexec_segment_ok(p) for p in parts):
            raise ValueError("unsafe path %r" % path)
        for k in range(1, len(parts)):
            folder = "/".join(parts[:k])
            if folder not in made:
                try:
                    fs["mkdir"](folder, 0o755)
                except FileExistsError:
                    pass
                made.add(folder)
        fd = fs["open"](path, fs["O_WRONLY"] | fs["O_CREAT"] | fs["O_EXCL"] | fs["O_NOFOLLOW"]
                        | fs["O_CLOEXEC"], 0o644)
        try:
            view = memoryview(content.encode("utf-8", "surrogatepass"))
            while view:
                view = view[fs["write"](fd, view):]
        finally:
            fs["close"](fd)


# -- pytest ---------------------------------------------------------------------

class _PyexecPytestReports:
    """A pytest plugin: one record per test as it finishes (outcome of its
    setup, call and teardown together), and what collection found."""

    def __init__(self, H, i, state):
        self.H, self.i, self.state = H, i, state
        self.collected = 0
        self.errors = []
        self.tests = {}

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append(_pyexec_report_text(report))

    def pytest_collection_finish(self, session):
        self.collected = len(session.items)

    def pytest_internalerror(self, excrepr, excinfo):
        self.errors.append("pytest internal error: " + str(excrepr))

    def pytest_runtest_logreport(self, report):
        t = self.tests.setdefault(report.nodeid, [None, None])
        wasxfail = hasattr(report, "wasxfail")
        if report.when == "call":
            if report.passed:
                outcome = "xpassed" if wasxfail else "passed"
            elif report.failed:
                outcome = "failed"
            else:
                outcome = "xfailed" if wasxfail else "skipped"
        elif report.failed:  # setup or teardown
            outcome = "error"
            if t[0] in ("failed", "error"):
                return  # the first failure is the one to show
        elif report.skipped and report.when == "setup":
            outcome = "xfailed" if wasxfail else "skipped"
        else:
            return
        t[0] = outcome
        if outcome in ("failed", "error"):
            t[1] = _pyexec_report_text(report)
        elif outcome == "skipped":
            longrepr = report.longrepr
            t[1] = str(longrepr[2]) if type(longrepr) is tuple and len(longrepr) == 3 else str(longrepr)
        else:
            t[1] = str(report.wasxfail) if wasxfail and report.wasxfail else None

    def pytest_runtest_logfinish(self, nodeid, location):
        outcome, message = self.tests.pop(nodeid, [None, None])
        if outcome is None:
            outcome = "passed"
        name = nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
        _pyexec_emit_pytest_result(self.H, self.state, self.i, name, outcome, message)


def _pyexec_report_text(report):
    try:
        return str(report.longreprtext)
    except BaseException as e:
        return "(pytest's report could not be shown: %s)" % _pyexec_one_line(_pyexec_exc_line(e))


def _pyexec_emit_pytest_result(H, state, i, name, outcome, message):
    """One result record, within the run's budgets: past the count, the test
    is only counted; past the bytes, it is listed without its message."""
    bad = outcome in ("failed", "error")
    if state["results"] >= _PYEXEC_PYTEST_RESULTS:
        state["unlisted"][i] = state["unlisted"].get(i, 0) + 1
        if bad:
            state["unlisted_failed"][i] = state["unlisted_failed"].get(i, 0) + 1
        return
    rec = {"test": i, "name": _pyexec_cut(name, _PYEXEC_NAME_CAP)[0], "outcome": outcome}
    if message:
        rec["message"], cut = _pyexec_cut(message, _PYEXEC_MESSAGE_CAP)
        if cut:
            rec["messageTruncated"] = True
    state["results"] += 1
    H["emit_line"](_pyexec_pytest_line(H, state, rec, "message"))


def _pyexec_pytest_line(H, state, rec, key):
    """rec as a line, within the run's pytest budget: past it, rec[key] (the
    long text) is replaced by a short notice. The last 32 KiB are kept for
    the modules' "done" records (100 modules with a notice each)."""
    line = H["dumps"](rec)
    reserve = 0 if rec.get("done") else 32768
    if state["bytes"] + len(line) > _PYEXEC_PYTEST_BUDGET - reserve and rec.get(key):
        rec.pop("messageTruncated", None)
        rec[key] = "(not shown: this run's pytest reports passed their size limit)"
        line = H["dumps"](rec)
    state["bytes"] += len(line) + 1
    return line


def _pyexec_pytest_module(H, i, code, state, syntax_error):
    """Runs one test module; always ends with its "done" record."""
    done = {"test": i, "done": True, "collected": 0, "error": None}
    try:
        if syntax_error:
            done["error"] = "the program has a syntax error, so it did not run"
        else:
            _pyexec_pytest_session(H, i, code, state, done)
    except BaseException as e:
        done["error"] = "pytest could not run the module: " + _pyexec_one_line(_pyexec_exc_line(e))
    if done["error"] is not None:
        done["error"] = _pyexec_cut(done["error"], _PYEXEC_MESSAGE_CAP)[0]
    unlisted = state["unlisted"].pop(i, 0)
    if unlisted:
        done["unlisted"] = unlisted
        done["unlistedFailed"] = state["unlisted_failed"].pop(i, 0)
    H["emit_line"](_pyexec_pytest_line(H, state, done, "error"))


def _pyexec_pytest_session(H, i, code, state, done):
    fs = H["fs"]
    path = "%s/test_pyexec_%d.py" % (H["cwd"], i)
    try:
        fs["unlink"](path)  # the program may have left something there
    except OSError:
        pass
    fd = fs["open"](path, fs["O_WRONLY"] | fs["O_CREAT"] | fs["O_EXCL"] | fs["O_NOFOLLOW"]
                    | fs["O_CLOEXEC"], 0o644)
    try:
        view = memoryview(code.encode("utf-8", "surrogatepass"))
        while view:
            view = view[fs["write"](fd, view):]
    finally:
        fs["close"](fd)
    plugin = _PyexecPytestReports(H, i, state)
    # Warm, the zygote's ready session (src/runner/pytest_warm.py) runs the
    # first module that fits it; it answers None to any other.
    status = None
    if H["pytest_ready"] is not None:
        status = H["pytest_ready"](path, H["cwd"], plugin, _PYEXEC_PYTEST_ARGS)
    if status is None:
        import pytest
        status = pytest.main([path, "--rootdir", H["cwd"], *_PYEXEC_PYTEST_ARGS], plugins=[plugin])
    done["collected"] = plugin.collected if type(plugin.collected) is int else 0
    if plugin.errors:
        done["error"] = "\n".join(str(e) for e in plugin.errors)
    elif done["collected"] == 0:
        if int(status) in (0, 5):  # OK, NO_TESTS_COLLECTED
            done["error"] = ("no test was collected from this module (pytest collects functions "
                             "named test_* and methods of classes named Test*)")
        else:
            done["error"] = "pytest could not run the module (exit status %d)" % int(status)


def _pyexec_run_pytest(H, syntax_error):
    """Every pytest test module, after the observations. The program's module
    is importable as `main`; fds 1 and 2 already lead to /dev/null."""
    modules = H["pytest"]
    if not modules:
        return
    sys = H["sys"]
    if not syntax_error:
        H["sys_modules"]["main"] = H["main_mod"]
    state = {"results": 0, "bytes": 0, "unlisted": {}, "unlisted_failed": {}}
    H["environ"]["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    _pyexec_write_ahead(H, "pytest")
    for m in modules:
        saved = [getattr(sys, "stdout", None), getattr(sys, "stderr", None)]
        try:
            H["fs"]["chdir"](H["cwd"])
            sys.stdout = sys.stderr = _PyexecSink(1)
            _pyexec_pytest_module(H, m["i"], m["code"], state, syntax_error)
        except BaseException:
            pass
        finally:
            try:
                sys.stdout, sys.stderr = saved
            except BaseException:
                pass


# -- files out --------------------------------------------------------------------

def _pyexec_out_entries(fs, dirfd, prefix, depth, walk):
    """Collects the regular files below dirfd into walk["files"] as (path,
    parent fd, name) and counts what it leaves out; follows no symlink."""
    try:
        names = sorted(e.name for e in fs["scandir"](dirfd))
    except OSError:
        return
    for name in names:
        path = prefix + "/" + name
        if not _pyexec_segment_ok(name) or len(path) > _PYEXEC_PATH_BYTES:
            walk["omitted"] += 1
            continue
        try:
            mode = fs["lstat"](name, dir_fd=dirfd).st_mode
            if fs["S_ISDIR"](mode) and depth < _PYEXEC_PATH_SEGMENTS:
                sub = fs["open"](name, fs["O_RDONLY"] | fs["O_DIRECTORY"] | fs["O_NOFOLLOW"]
                                 | fs["O_CLOEXEC"], dir_fd=dirfd)
                walk["fds"].append(sub)
                _pyexec_out_entries(fs, sub, path, depth + 1, walk)
                continue
        except OSError:
            mode = 0
        if fs["S_ISREG"](mode):
            walk["files"].append((path, dirfd, name))
        else:
            walk["omitted"] += 1  # a symlink, a folder too deep, a fifo, a socket...


def _pyexec_read_out_file(fs, dirfd, name, room):
    """(size, data or None): data when the whole file fits in room bytes."""
    fd = fs["open"](name, fs["O_RDONLY"] | fs["O_NOFOLLOW"] | fs["O_NONBLOCK"] | fs["O_CLOEXEC"],
                    dir_fd=dirfd)
    try:
        st = fs["fstat"](fd)
        if not fs["S_ISREG"](st.st_mode):
            return None
        if st.st_size > room:
            return st.st_size, None
        chunks, got = [], 0
        while got <= room:
            chunk = fs["read"](fd, room + 1 - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > room:  # it grew while we read: a writer is still at work
            return max(got, st.st_size), None
        return got, b"".join(chunks)
    finally:
        fs["close"](fd)


def _pyexec_report_out_files(H):
    """One record per file in out/ (sorted by path, at most _PYEXEC_OUT_FILES,
    content while it fits in _PYEXEC_OUT_BYTES); returns how many files of
    out/ were left out."""
    fs = H["fs"]
    try:
        top = fs["open"](H["cwd"] + "/out", fs["O_RDONLY"] | fs["O_DIRECTORY"] | fs["O_NOFOLLOW"]
                         | fs["O_CLOEXEC"])
    except OSError:
        return 0
    walk = {"files": [], "fds": [top], "omitted": 0}
    try:
        _pyexec_out_entries(fs, top, "out", 2, walk)
        files = walk["files"]
        omitted = walk["omitted"] + max(0, len(files) - _PYEXEC_OUT_FILES)
        room = _PYEXEC_OUT_BYTES
        for path, dirfd, name in files[:_PYEXEC_OUT_FILES]:
            try:
                got = _pyexec_read_out_file(fs, dirfd, name, room)
            except OSError:
                got = None
            if got is None:
                omitted += 1
                continue
            size, data = got
            rec = {"file": path, "bytes": size}
            if data is None:
                rec["truncated"] = True
            else:
                rec["base64"] = fs["b64"](data, newline=False).decode("ascii")
                room -= size
            H["emit_line"](H["dumps"](rec))
        return omitted
    finally:
        for fd in walk["fds"]:
            try:
                fs["close"](fd)
            except OSError:
                pass
