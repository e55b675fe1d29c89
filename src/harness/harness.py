# pyexec harness: the Python side of a run (see src/harness/PROTOCOL.md).
# Part 1 of 3: harness.py (set-up, formatting, values, observations),
# exercise.py (files in and out, pytest), run.py (runs the program); the
# Makefile joins them, in that order, into the one source pyexecd embeds.
#
# pyexecd starts it as  /usr/bin/python3 -u -B -s -c "<this source>"  with
# fd 0 = stdin, 1 = stdout, 2 = stderr, 3 = harness input (one JSON document),
# 4 = result pipe (NDJSON records). It runs the program as __main__ under the
# name main.py, prints an uncaught exception the way CPython does for a script
# (no harness frames), then writes the "finished" record, one record per
# observation and an "end" record, and leaves with os._exit(exit code): atexit
# handlers run, non-daemon threads are NOT waited for.
#
# The program shares this process. Everything the harness needs is bound
# before the program runs: the functions below look builtins up in a private
# copy of the builtins (a program that rebinds builtins.len, print, repr, ...
# does not change them), modules and their functions are held in locals and
# JSON goes through the C accelerator (_json) captured at start. This is best
# effort, not a security boundary: verdicts are computed outside the sandbox.
#
# The three files must stay ASCII and must not use the embed delimiter of
# tools/embed.sh.

import builtins as _pyexec_builtins_module

__builtins__ = dict(_pyexec_builtins_module.__dict__)

_PYEXEC_MAX_DEPTH = 64            # nesting levels of a reported value
_PYEXEC_MAX_ELEMENTS = 100000     # container elements in one reported value
_PYEXEC_MAX_CHARS = 1000000       # characters of strings in one reported value
_PYEXEC_REPR_CAP = 10000          # a value over a cap: its repr, cut to this
_PYEXEC_MAX_RECORD = 1 << 20      # bytes of one record
_PYEXEC_TOTAL_BUDGET = 8 << 20    # bytes of all records before values get cut
_PYEXEC_TOTAL_ELEMENTS = 200000   # container elements of all records before values get cut
                                  # (the worker refuses a stream with more: observations.h)
_PYEXEC_SUMMARY_CAP = 300         # characters of a one-line error summary
_PYEXEC_HARNESS_FAILED = 125      # exit status when the harness cannot work


def _pyexec_setup(real_builtins):
    import sys
    import os
    import atexit
    import linecache
    # Compile-time warnings (SyntaxWarning) are shown through the warnings
    # module, which finds main.py's lines in linecache; without it the C
    # fallback reads the line from a file, and there is no main.py file.
    import warnings  # noqa: F401

    H = {}  # the harness's private state, shared by the phases below
    sys_modules = sys.modules
    os_write, os_exit, os_close = os.write, os._exit, os.close
    getpid = os.getpid
    pid = getpid()

    def fail(message):
        try:
            os_write(2, ("pyexec harness: %s\n" % message).encode("utf-8", "replace"))
        finally:
            os_exit(_PYEXEC_HARNESS_FAILED)

    # -- JSON, through the C accelerator, captured now -----------------------
    try:
        import _json

        def _no_default(o):
            raise TypeError("not JSON: %s" % type(o).__name__)

        _encoder = _json.make_encoder(None, _no_default, _json.encode_basestring_ascii,
                                      None, ":", ",", False, False, False)

        def dumps(o):
            return "".join(_encoder(o, 0))

        class _Ctx:
            pass

        ctx = _Ctx()
        ctx.strict = True
        ctx.object_hook = None
        ctx.object_pairs_hook = None
        ctx.parse_float = float
        ctx.parse_int = int
        ctx.parse_constant = float
        ctx.memo = {}
        _scan = _json.make_scanner(ctx)

        def loads(s):
            ws = " \t\n\r"
            i, n = 0, len(s)
            while i < n and s[i] in ws:
                i += 1
            try:
                obj, i = _scan(s, i)
            except StopIteration:
                raise ValueError("invalid JSON at %d" % i)
            while i < n and s[i] in ws:
                i += 1
            if i != n:
                raise ValueError("extra data at %d" % i)
            return obj
    except ImportError:  # not CPython: the pure-Python json module
        import json
        dumps = json.JSONEncoder(ensure_ascii=True, allow_nan=False,
                                 separators=(",", ":")).encode
        loads = json.loads

    # -- warm-up ---------------------------------------------------------------
    # The sandbox is usually set up before its request: this runs while fd 3
    # is still empty. Going once through what every run does (compiling,
    # parsing and writing JSON, formatting output) makes a forked interpreter
    # copy those pages now rather than on the run's clock. Nothing of it stays.
    try:
        compile("print(0)\n", "main.py", "exec")
        loads('{"code": "", "observe": [{"var": "x"}, {"call": "f", "args": [1], "kwargs": {}}]}')
        dumps({"event": "finished", "exitCode": 0, "syntaxError": False, "error": None, "i": 0, "value": [1.5, "a"]})
        "%s %r" % ("x", 1.5)
    except Exception:
        pass

    # -- harness input (fd 3) ------------------------------------------------
    try:
        chunks = []
        if (os.fstat(3).st_mode & 0o170000) == 0o100000:  # memfd / regular file
            offset = 0
            while True:
                chunk = os.pread(3, 1 << 20, offset)
                if not chunk:
                    break
                chunks.append(chunk)
                offset += len(chunk)
        else:  # a pipe
            while True:
                chunk = os.read(3, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        os_close(3)
        doc = loads(b"".join(chunks).decode("utf-8"))
        del chunks
        code = doc["code"]
        observe = doc.get("observe")
        if observe is None:
            observe = []
        files = doc.get("files") or {}
        pytest_modules = doc.get("pytest") or []
        if type(code) is not str or type(observe) is not list or type(files) is not dict:
            raise ValueError("'code' must be a string, 'observe' a list and 'files' an object")
        for m in pytest_modules:
            if type(m) is not dict or type(m.get("i")) is not int or type(m.get("code")) is not str:
                raise ValueError("'pytest' must list objects with an int 'i' and a string 'code'")
        del doc
    except Exception as e:
        fail("cannot read the harness input: %s: %s" % (type(e).__name__, e))

    # -- the request's files, before the program (exercise.py) ------------------
    import binascii
    import stat
    fs = {"open": os.open, "close": os_close, "read": os.read, "write": os.write, "fstat": os.fstat,
          "lstat": os.lstat, "mkdir": os.mkdir, "unlink": os.unlink, "chdir": os.chdir,
          "scandir": os.scandir, "b64": binascii.b2a_base64, "S_ISREG": stat.S_ISREG,
          "S_ISDIR": stat.S_ISDIR}
    for flag in ("O_RDONLY", "O_WRONLY", "O_CREAT", "O_EXCL", "O_NOFOLLOW", "O_CLOEXEC",
                 "O_DIRECTORY", "O_NONBLOCK"):
        fs[flag] = getattr(os, flag)
    H.update(fs=fs, cwd=os.getcwd(), pytest=pytest_modules, environ=os.environ, populate=None)
    if "_pyexec_warm" in sys.builtin_module_names:  # warm mode: the zygote's working sets
        import _pyexec_warm
        H["populate"] = _pyexec_warm.populate
    # The full image's ready pytest session (src/runner/pytest_warm.py), out of
    # sys.modules before the program starts. None: cold, lean, or not made.
    H["pytest_ready"] = getattr(sys.modules.pop("_pyexec_pytest_ready", None), "ready", None)
    try:
        _pyexec_write_files(H, files)
    except Exception as e:
        fail("cannot write the request's files: %s: %s" % (type(e).__name__, e))
    del files
    if "matplotlib" in code:
        _pyexec_write_ahead(H, "matplotlib")
    if "pandas" in code:
        _pyexec_write_ahead(H, "pandas")
    elif "numpy" in code:
        _pyexec_write_ahead(H, "numpy")

    # -- result pipe (fd 4), kept private ------------------------------------
    try:
        result = open(4, "wb", buffering=0, closefd=True)
        os.set_inheritable(4, False)
    except OSError:
        result = None
    H["result"] = result
    H["written"] = 0

    def emit_line(line):
        res = H["result"]
        if res is None or getpid() != pid:
            return
        data = (line + "\n").encode("ascii")
        try:
            view = memoryview(data)
            while view:
                n = res.write(view)
                if n is None or n <= 0:
                    raise OSError("short write")
                view = view[n:]
            H["written"] += len(data)
        except (OSError, ValueError):
            H["result"] = None  # the program closed it, or the reader is gone

    # -- the program's __main__ ----------------------------------------------
    if code.startswith("\ufeff"):  # a UTF-8 BOM, as Python drops it from files
        code = code[1:]
    main_mod = type(sys)("__main__")
    g = main_mod.__dict__
    g["__file__"] = "main.py"
    g["__cached__"] = None
    g["__builtins__"] = real_builtins
    sys_modules["__main__"] = main_mod
    sys.argv = ["main.py"]
    if not sys.path or sys.path[0] != "":
        sys.path.insert(0, "")  # like a script in the working directory

    # The source lines for tracebacks, warnings and inspect, in linecache
    # (mtime None: never checked against a file); the loader lets linecache
    # find them again if the program clears the cache.
    norm = code.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line + "\n" for line in norm.split("\n")]
    if norm.endswith("\n") or not norm:
        lines.pop()

    class MainLoader:
        """__main__.__loader__: gives the program's source to linecache."""
        def get_source(self, fullname):
            return code

    MainLoader.__module__ = "pyexec"
    g["__loader__"] = MainLoader()
    cache_entry = (len(code), None, lines, "main.py")
    linecache.cache["main.py"] = cache_entry

    H.update(sys=sys, main_mod=main_mod, atexit=atexit, linecache=linecache, sys_modules=sys_modules, os_write=os_write,
             os_exit=os_exit, os_close=os_close, os_open=os.open, os_dup2=os.dup2,
             O_WRONLY=os.O_WRONLY, getpid=getpid, pid=pid, dumps=dumps, emit_line=emit_line,
             g=g, observe=observe, cache_entry=cache_entry,
             orig_excepthook=sys.__excepthook__, recursion_limit=sys.getrecursionlimit(),
             harness_globals=globals())

    # Compiled from bytes, as Python compiles a script's file (the same
    # column offsets in syntax errors, coding cookies honoured).
    source = code.encode("utf-8", "surrogatepass")
    try:
        return H, compile(source, "main.py", "exec", dont_inherit=True), None
    except SyntaxError as e:
        return H, None, e
    except ValueError as e:  # NUL bytes (which 3.11 reading a file ignores)
        return H, None, SyntaxError(str(e).replace("source code string", "source code"))


def _pyexec_register_source(H):
    """Puts main.py into linecache.cache (the program may have cleared it)."""
    try:
        H["linecache"].cache["main.py"] = H["cache_entry"]
    except BaseException:
        pass


# -- formatting of exceptions -------------------------------------------------

def _pyexec_one_line(text, cap=_PYEXEC_SUMMARY_CAP):
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").strip()
    if len(text) > cap:
        text = text[:cap] + "..."
    return text


def _pyexec_exc_line(e):
    """The last line of Python's report of exception e (without notes)."""
    t = type(e)
    try:
        stype = t.__qualname__
        smod = t.__module__
        if type(smod) is not str:
            smod = "<unknown>"
        if smod not in ("__main__", "builtins"):
            stype = smod + "." + stype
    except BaseException:
        stype = "<unknown exception type>"
    if isinstance(e, SyntaxError):
        msg = e.msg
        try:
            msg = str(msg) if msg else "<no detail available>"
        except BaseException:
            msg = "<exception str() failed>"
        return "%s: %s" % (stype, msg)
    try:
        msg = str(e)
    except BaseException:
        msg = "<exception str() failed>"
    return "%s: %s" % (stype, msg) if msg else stype


def _pyexec_strip(H, e):
    """Removes the harness's frames from the start of the tracebacks of e and
    of the exceptions chained to it; returns e's stripped traceback."""
    hg = H["harness_globals"]
    seen = set()
    top = None
    first = True
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        try:
            tb = e.__traceback__
            while tb is not None and tb.tb_frame.f_globals is hg:
                tb = tb.tb_next
            e.__traceback__ = tb
        except BaseException:
            tb = None
        if first:
            top, first = tb, False
        try:
            e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
        except BaseException:
            e = None
    return top


def _pyexec_format(H, e, tb):
    """Python's default report of an uncaught exception, as text."""
    _pyexec_register_source(H)
    try:
        import traceback
        return "".join(traceback.format_exception(type(e), e, tb))
    except BaseException:
        try:
            head = "Traceback (most recent call last):\n" if tb is not None else ""
            return head + _pyexec_exc_line(e) + "\n"
        except BaseException:
            return "Error: an exception that cannot be shown\n"


def _pyexec_show_syntax_error(H, e):
    """As Python shows a script's syntax error: its own (C) printer, which
    differs from the traceback module's in places; it cannot read main.py, so
    the line is put into the exception where the compiler left it out."""
    try:
        if e.text is None and type(e.lineno) is int and 0 < e.lineno <= len(H["cache_entry"][2]):
            e.text = H["cache_entry"][2][e.lineno - 1]
        e.__traceback__ = None
        H["orig_excepthook"](type(e), e, None)
    except BaseException:
        _pyexec_write_stderr(H, _pyexec_format(H, e, None))


def _pyexec_write_stderr(H, text):
    sys = H["sys"]
    try:
        err = sys.stderr
        err.write(text)
        err.flush()
    except BaseException:
        try:
            H["os_write"](2, text.encode("utf-8", "backslashreplace"))
        except BaseException:
            pass


def _pyexec_flush(H):
    sys = H["sys"]
    for name in ("stdout", "stderr", "__stdout__", "__stderr__"):
        try:
            getattr(sys, name).flush()
        except BaseException:
            pass


def _pyexec_uncaught(H, e):
    """Reports an uncaught exception like CPython; returns the summary."""
    sys = H["sys"]
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    tb = _pyexec_strip(H, e)
    try:
        hook = sys.excepthook
    except BaseException:
        hook = None
    if hook is not None and hook is not H["orig_excepthook"]:
        try:
            hook(type(e), e, tb)
        except BaseException as hook_error:
            hook_tb = _pyexec_strip(H, hook_error)
            _pyexec_write_stderr(H, "Error in sys.excepthook:\n"
                                 + _pyexec_format(H, hook_error, hook_tb)
                                 + "\nOriginal exception was:\n" + _pyexec_format(H, e, tb))
    else:
        _pyexec_write_stderr(H, _pyexec_format(H, e, tb))
    line = None
    try:
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "main.py":
                line = tb.tb_lineno
            tb = tb.tb_next
    except BaseException:
        pass
    summary = _pyexec_one_line(_pyexec_exc_line(e))
    if type(line) is int and line > 0:
        summary += " (line %d)" % line
    return summary


def _pyexec_exit_code(H, e):
    """The exit status CPython gives an uncaught SystemExit e."""
    try:
        code = e.code
    except BaseException:
        code = None
    if code is None:
        return 0
    if isinstance(code, int):
        v = int.__index__(code)
        if -(1 << 63) <= v < (1 << 63):
            return v & 0xFF  # (int)PyLong_AsLong(code), then exit() keeps 8 bits
        return 255  # PyLong_AsLong overflows: -1
    try:
        H["sys"].stdout.flush()
    except BaseException:
        pass
    try:
        text = str(code)
    except BaseException:
        text = ""
    _pyexec_write_stderr(H, text + "\n")
    return 1


# -- values -----------------------------------------------------------------

class _PyexecOver(Exception):
    pass


def _pyexec_safe_repr(v):
    try:
        return str.__str__(repr(v))
    except BaseException:
        return "<unrepresentable object>"


def _pyexec_brepr(v, limit):
    """repr(v), built for the builtin containers with a size limit (so a huge or
    shared structure costs little); returns (text, cut)."""
    out = []
    size = [0]
    active = set()

    class Stop(Exception):
        pass

    def put(s):
        out.append(s)
        size[0] += len(s)
        if size[0] > limit:
            raise Stop

    def walk(x, depth):
        t = type(x)
        if t is list or t is tuple or t is dict or t is set or t is frozenset:
            if id(x) in active:
                put("[...]" if t is list else "{...}" if t is dict else "(...)")
                return
            if depth >= _PYEXEC_MAX_DEPTH:
                put("...")
                return
            active.add(id(x))
            if t is dict:
                put("{")
                for n, (k, val) in enumerate(list(dict.items(x))):
                    if n:
                        put(", ")
                    walk(k, depth + 1)
                    put(": ")
                    walk(val, depth + 1)
                put("}")
            else:
                items = list(x)
                if t is list:
                    opener, closer = "[", "]"
                elif t is tuple:
                    opener, closer = "(", ",)" if len(items) == 1 else ")"
                elif not items:
                    opener, closer = "set()" if t is set else "frozenset()", ""
                else:
                    opener, closer = ("{", "}") if t is set else ("frozenset({", "})")
                put(opener)
                for n, item in enumerate(items):
                    if n:
                        put(", ")
                    walk(item, depth + 1)
                put(closer)
            active.discard(id(x))
        else:
            put(_pyexec_safe_repr(x))

    cut = False
    try:
        walk(v, 0)
    except Stop:
        cut = True
    except BaseException:  # RecursionError, a container changed under us...
        return "<unrepresentable object>", False
    text = "".join(out)
    if cut or len(text) > limit:
        return text[:limit] + "...", True
    return text, False


def _pyexec_int(v, text):
    if v.bit_length() <= 1024:
        try:
            float(v)
            return v  # a JSON number that every parser can hold (as a double at worst)
        except OverflowError:
            pass
    try:
        return text(int.__repr__(v))
    except ValueError:  # more digits than sys.get_int_max_str_digits()
        b = v.bit_length()
        if b <= 1000000:
            n = int((b - 1) * 0.30102999566398120) + 1
            if abs(v) >= 10 ** n:
                n += 1
            return "<int with %d digits>" % n
        return "<int with about %d digits>" % int(b * 0.30102999566398120)


def _pyexec_float(v):
    if v != v:
        return "NaN"
    if v == float("inf"):
        return "Infinity"
    if v == float("-inf"):
        return "-Infinity"
    return v


def _pyexec_clean(s):
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:  # lone surrogates: not representable in JSON text
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s)


def _pyexec_set_key(x):
    t = type(x)
    if t is bool or t is int or (t is float and x == x):
        return (0, x, "")
    if t is str:
        return (1, 0, x)
    if t is float:
        return (3, 0, "")
    return (2, 0, t.__name__ + ":" + _pyexec_safe_repr(x))


def _pyexec_set_items(v):
    items = list(v)
    try:
        return sorted(items)
    except BaseException:
        pass
    try:
        return sorted(items, key=_pyexec_set_key)
    except BaseException:
        return items


def _pyexec_convert(H, v):
    """v as plain JSON data (SPEC section 3); raises _PyexecOver past a cap."""
    sys_modules = H["sys_modules"]
    left = H.get("elements_left", _PYEXEC_TOTAL_ELEMENTS)
    budget = [min(_PYEXEC_MAX_ELEMENTS, left), _PYEXEC_MAX_CHARS]

    def text(s):
        budget[1] -= len(s)
        if budget[1] < 0:
            raise _PyexecOver
        return _pyexec_clean(s)

    def count(n):
        budget[0] -= n
        if budget[0] < 0:
            raise _PyexecOver

    def conv(x, depth):
        t = type(x)
        if x is None or t is bool:
            return x
        if t is int:
            return _pyexec_int(x, text)
        if t is float:
            return _pyexec_float(x)
        if t is str:
            return text(x)
        if depth >= _PYEXEC_MAX_DEPTH:
            raise _PyexecOver
        np = sys_modules.get("numpy")
        if np is not None:
            try:
                is_array = isinstance(x, np.ndarray)
                is_scalar = not is_array and isinstance(x, np.generic)
            except BaseException:
                is_array = is_scalar = False
            if is_array:
                if x.size > budget[0]:
                    raise _PyexecOver
                return conv(x.tolist(), depth)
            if is_scalar:
                y = x.tolist()
                return conv(y, depth) if type(y) is not t else text(_pyexec_safe_repr(x))
        pd = sys_modules.get("pandas")
        if pd is not None:
            try:
                is_series = isinstance(x, pd.Series)
            except BaseException:
                is_series = False
            if is_series:
                if len(x) > budget[0]:
                    raise _PyexecOver
                return conv(x.tolist(), depth)
        if isinstance(x, (list, tuple)):
            items = list(x)
            count(len(items))
            return [conv(item, depth + 1) for item in items]
        if isinstance(x, dict):
            items = list(dict.items(x))
            for k, _ in items:
                if not isinstance(k, str):
                    s, cut = _pyexec_brepr(x, budget[1] + 1)
                    if cut:
                        raise _PyexecOver
                    return text(s)
            count(len(items))
            out = {}
            for k, val in items:
                out[text(str.__str__(k))] = conv(val, depth + 1)
            return out
        if isinstance(x, (set, frozenset)):
            items = _pyexec_set_items(x)
            count(len(items))
            return [conv(item, depth + 1) for item in items]
        if isinstance(x, int):
            return _pyexec_int(int.__index__(x), text)
        if isinstance(x, float):
            return _pyexec_float(float.__float__(x))
        if isinstance(x, str):
            return text(str.__str__(x))
        return text(_pyexec_safe_repr(x))

    out = conv(v, 0)
    H["elements_left"] = left - (min(_PYEXEC_MAX_ELEMENTS, left) - budget[0])
    return out


def _pyexec_value_line(H, rec, v):
    """Serialises rec with "value" set to v converted, within the caps."""
    truncated = False
    try:
        value = _pyexec_convert(H, v)
    except (_PyexecOver, RecursionError, MemoryError):
        value, truncated = _pyexec_brepr(v, _PYEXEC_REPR_CAP)[0], True
    except BaseException:
        value, truncated = _pyexec_brepr(v, _PYEXEC_REPR_CAP)
    rec["value"] = value
    if truncated:
        rec["truncated"] = True
    line = H["dumps"](rec)
    if len(line) > _PYEXEC_MAX_RECORD or H["written"] + len(line) > _PYEXEC_TOTAL_BUDGET:
        rec["value"] = _pyexec_brepr(v, _PYEXEC_REPR_CAP)[0]
        rec["truncated"] = True
        line = H["dumps"](rec)
    return line


def _pyexec_len(v):
    try:
        n = len(v)
        return n if type(n) is int else None
    except BaseException:
        return None


def _pyexec_type_name(v):
    try:
        return str.__str__(type(v).__name__)
    except BaseException:
        return "<unknown>"


# -- observations -----------------------------------------------------------

class _PyexecSink:
    """What sys.stdout / sys.stderr are while observations (and pytest) run:
    discards. With fd, fileno() gives it (a descriptor leading to /dev/null)."""
    encoding = "utf-8"
    errors = "strict"
    newlines = None
    closed = False
    line_buffering = False

    def __init__(self, fd=None):
        self.buffer = self
        self.fd = fd

    def write(self, data):
        return len(data)

    def writelines(self, lines):
        for _ in lines:
            pass

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def fileno(self):
        if self.fd is None:
            raise OSError("no file descriptor while results are collected")
        return self.fd


def _pyexec_observe_var(H, i, name):
    g = H["g"]
    if type(name) is not str or not dict.__contains__(g, name):
        return H["dumps"]({"i": i, "exists": False})
    v = dict.__getitem__(g, name)
    rec = {"i": i, "exists": True, "type": _pyexec_type_name(v), "value": None,
           "len": _pyexec_len(v)}
    return _pyexec_value_line(H, rec, v)


def _pyexec_observe_call(H, i, ob):
    g = H["g"]
    name = ob.get("call")
    args = ob.get("args")
    kwargs = ob.get("kwargs")
    args = [] if args is None else args
    kwargs = {} if kwargs is None else kwargs
    if type(name) is not str or not dict.__contains__(g, name):
        if type(name) is not str:
            name = _pyexec_safe_repr(name)
        return H["dumps"]({"i": i, "ok": False,
                           "error": _pyexec_one_line("NameError: name '%s' is not defined" % name)})
    fn = dict.__getitem__(g, name)
    try:
        if type(args) is not list or type(kwargs) is not dict:
            raise TypeError("the harness input has malformed arguments")
        value = fn(*args, **kwargs)
    except BaseException as e:
        return H["dumps"]({"i": i, "ok": False, "error": _pyexec_one_line(_pyexec_exc_line(e))})
    rec = {"i": i, "ok": True, "type": _pyexec_type_name(value), "value": None}
    return _pyexec_value_line(H, rec, value)


def _pyexec_finish(H, exc):
    """After the program: report, observe, exit. Never returns."""
    H["exit_code"] = 1
    try:
        _pyexec_report(H, exc)
    except BaseException:
        pass
    finally:
        H["os_exit"](H["exit_code"])


def _pyexec_report(H, exc):
    sys = H["sys"]
    exit_code, syntax_error, summary = 0, False, None
    try:
        if exc is None:
            pass
        elif H.get("syntax"):
            syntax_error, exit_code = True, 1
            _pyexec_show_syntax_error(H, exc)
            lineno = getattr(exc, "lineno", None)
            summary = _pyexec_one_line(_pyexec_exc_line(exc))
            if type(lineno) is int and lineno > 0:
                summary += " (line %d)" % lineno
        elif isinstance(exc, SystemExit):
            exit_code = _pyexec_exit_code(H, exc)
        else:
            exit_code = 1
            summary = _pyexec_uncaught(H, exc)
    except BaseException:
        exit_code = 1
    H["exit_code"] = exit_code
    exc = None
    try:
        if sys.getrecursionlimit() < H["recursion_limit"]:
            sys.setrecursionlimit(H["recursion_limit"])
    except BaseException:
        pass
    try:
        H["atexit"]._run_exitfuncs()  # as Python does at exit (threads are not joined)
    except BaseException:
        pass
    _pyexec_flush(H)
    if H["getpid"]() != H["pid"]:  # a forked child of the program ended here
        return

    emit_line, dumps = H["emit_line"], H["dumps"]
    # the leading newline ends a partial line the program may have left
    emit_line("\n" + dumps({"event": "finished", "exitCode": exit_code,
                            "syntaxError": syntax_error, "error": summary}))

    # Whatever runs from now on (repr, len, tolist, called functions, the
    # program's threads) must not add to the run's output.
    try:
        devnull = H["os_open"]("/dev/null", H["O_WRONLY"])
        H["os_dup2"](devnull, 1)
        H["os_dup2"](devnull, 2)
        H["os_close"](devnull)
    except BaseException:
        pass
    sink = _PyexecSink()
    for i, ob in enumerate(H["observe"]):
        if type(ob) is not dict or not ("var" in ob or "call" in ob):
            continue
        saved = [getattr(sys, "stdout", None), getattr(sys, "stderr", None)]
        try:
            sys.stdout = sys.stderr = sink
            if "var" in ob:
                line = _pyexec_observe_var(H, i, ob["var"])
            else:
                line = _pyexec_observe_call(H, i, ob)
        except BaseException as e:
            try:
                what = _pyexec_one_line(_pyexec_exc_line(e))
            except BaseException:
                what = "error"
            # neither "exists" nor "ok": the observation is unavailable
            line = dumps({"i": i, "error": "observation failed: " + what})
        finally:
            try:
                sys.stdout, sys.stderr = saved
            except BaseException:
                pass
        emit_line(line)
    _pyexec_run_pytest(H, syntax_error)
    omitted = _pyexec_report_out_files(H)
    emit_line(dumps({"event": "end", "filesOmitted": omitted}) if omitted else '{"event":"end"}')
    try:
        if H["result"] is not None:
            H["result"].close()
    except BaseException:
        pass
