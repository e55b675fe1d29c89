"""The kinds of run the soak (tests/soak/soak.py) sends, and what the answer
of each must be. A kind is a list of variants; each variant builds one Case
from a Ctx: a token unique to the run (printed by most programs, so that an
answer that belongs to another run is caught), a marker for processes that
try to outlive their run, and a seeded random generator."""
import json
import random

from checks import MIB, refused, ran


class Case:
    def __init__(self, body, check, method="POST", path="/run"):
        self.body, self.check, self.method, self.path = body, check, method, path


class Ctx:
    def __init__(self, rng, token, marker):
        self.rng, self.token, self.marker = rng, token, marker

    def code(self, text):
        """Program text with TOKEN and MARKER replaced by Python literals."""
        return text.replace("TOKEN", repr(self.token)).replace("MARKER", repr(self.marker))


def heavy(variant):
    """Marks a variant whose request, output or answer is among the largest a
    worker handles: the warm-up sends it to every worker (soak.py)."""
    variant.heavy = True
    return variant


def run(code, tests=None, **fields):
    """A /run body. timeoutMs is 10 s unless given (None: the server's default
    of 2 s): a loaded machine may give a run a small share of its 0.5 CPU."""
    fields.setdefault("timeoutMs", 10000)
    body = {"code": code, **{k: v for k, v in fields.items() if v is not None}}
    if tests is not None:
        body["tests"] = tests
    return json.dumps(body).encode()


def line(c):
    return c.token + "\n"


def starts(prefix):
    return lambda s: isinstance(s, str) and s.startswith(prefix)


# ------------------------------------------------------------ ordinary runs

def hello_world(c):
    code = c.code("print('Hello, World!')\nprint(TOKEN)\n")
    tests = [{"type": "output", "expected": "Hello, World!\n" + c.token},
             {"type": "output", "expected": "Hello, World!"}]
    return Case(run(code, tests, timeoutMs=None),
                lambda a: ran(a, "ok", "Hello, World!\n" + line(c), "", [True, False], exitCode=0))


def hello_stdin(c):
    text = "".join(c.rng.choice("abcdefgh \n") for _ in range(c.rng.randrange(1, 3000)))
    return Case(run("import sys\nsys.stdout.write(sys.stdin.read().upper())\n", stdin=text),
                lambda a: ran(a, "ok", text.upper(), ""))


def hello_fresh_tmp(c):
    # Runs before may have filled /tmp; each run's is new and empty.
    code = c.code("import os\nprint(sorted(os.listdir('/tmp')), os.getcwd(), TOKEN)\n")
    return Case(run(code), lambda a: ran(a, "ok", f"[] /tmp {c.token}\n", ""))


def hello_exception(c):
    code = c.code("print(TOKEN)\nx = 1 / 0\n")
    return Case(run(code), lambda a: ran(a, "error", line(c), starts("Traceback"), exitCode=1,
                                         error="ZeroDivisionError: division by zero (line 2)"))


def hello_syntax_error(c):
    return Case(run(c.code("print(TOKEN\n")),
                lambda a: ran(a, "syntax_error", "", starts('  File "main.py", line 1'), exitCode=1))


def hello_exit_code(c):
    n = c.rng.randrange(2, 120)
    return Case(run(c.code(f"import sys\nprint(TOKEN)\nsys.exit({n})\n")),
                lambda a: ran(a, "error", line(c), "", exitCode=n, error=f"Exited with code {n}"))


# ------------------------------------------------------------ numpy, pandas

def quest_numpy(c):
    n = c.rng.randrange(10, 10000)
    code = c.code(f"import numpy as np\nvalues = np.arange({n})\ntotal = int(values.sum())\n"
                  "def mean_of(k):\n    return float(np.arange(k).mean())\nprint(total)\nprint(TOKEN)\n")
    tests = [{"type": "output", "expected": f"{n * (n - 1) // 2}\n{c.token}"},
             {"type": "variable_value", "name": "total", "expected": n * (n - 1) // 2},
             {"type": "variable_type", "name": "values", "expected": "ndarray"},
             {"type": "function_call", "function": "mean_of", "args": [n], "expected": (n - 1) / 2},
             {"type": "list_length", "name": "values", "expected": n},
             {"type": "variable_value", "name": "total", "expected": n * n}]
    return Case(run(code, tests, timeoutMs=10000),
                lambda a: ran(a, "ok", f"{n * (n - 1) // 2}\n{c.token}\n", "", [True] * 5 + [False]))


def quest_pandas(c):
    names = [f"p{i}" for i in range(c.rng.randrange(3, 12))]
    scores = [c.rng.randrange(0, 100) for _ in names]
    best = names[scores.index(max(scores))]
    avg = sum(scores) / len(scores)
    code = c.code(f"import pandas as pd\ndf = pd.DataFrame({{'name': {names!r}, 'score': {scores!r}}})\n"
                  "best = df.loc[df['score'].idxmax(), 'name']\naverage = df['score'].mean()\n"
                  "ranked = df.sort_values('score', ascending=False)['name'].tolist()\n"
                  "print('best:', best)\nprint(TOKEN)\n")
    tests = [{"type": "output", "expected": f"best: {best}\n{c.token}"},
             {"type": "variable_value", "name": "average", "expected": avg + 0.0005, "tolerance": 0.001},
             {"type": "variable_type", "name": "df", "expected": "DataFrame"},
             {"type": "list_contains", "name": "ranked", "expected": best},
             {"type": "list_length", "name": "ranked", "expected": len(names)},
             {"type": "variable_value", "name": "best", "expected": best + "x"}]
    # sort_values is not stable on ties: `ranked` is checked only by what ties cannot change.
    return Case(run(code, tests, timeoutMs=10000),
                lambda a: ran(a, "ok", f"best: {best}\n{c.token}\n", "", [True] * 5 + [False]))


def quest_groupby(c):
    rows = [(c.rng.choice("abc"), c.rng.randrange(1, 50)) for _ in range(c.rng.randrange(5, 40))]
    sums = {k: sum(v for g, v in rows if g == k) for k in sorted({g for g, _ in rows})}
    code = c.code(f"import pandas as pd\nrows = {rows!r}\ndf = pd.DataFrame(rows, columns=['g', 'v'])\n"
                  "sums = df.groupby('g')['v'].sum()\ntotals = sums.to_dict()\n"
                  "for k, v in totals.items():\n    print(k, v)\nprint(TOKEN)\n")
    out = "".join(f"{k} {v}\n" for k, v in sums.items()) + line(c)
    tests = [{"type": "variable_value", "name": "totals", "expected": sums},
             {"type": "variable_value", "name": "sums", "expected": list(sums.values())},
             {"type": "function_call", "expected": c.token}]
    return Case(run(code, tests, timeoutMs=10000), lambda a: ran(a, "ok", out, "", [True] * 3))


# ------------------------------------------------------------ 100-test requests

@heavy
def tests_mixed(c):
    k = c.rng.randrange(1000)
    code = c.code(f"x = {k}\nxs = list(range({k % 17 + 1}))\nname = 'n{k}'\n"
                  "def add(a, b=0):\n    print('called')\n    return a + b\nprint(x)\nprint(TOKEN)\n")
    right = [{"type": "output", "expected": f"{k}\n{c.token}"},
             {"type": "variable_exists", "name": "xs"},
             {"type": "variable_type", "name": "name", "expected": "str"},
             {"type": "variable_value", "name": "x", "expected": k},
             {"type": "function_call", "function": "add", "args": [k], "kwargs": {"b": 2}, "expected": k + 2},
             {"type": "function_call", "expected": str(k)},
             {"type": "list_contains", "name": "xs", "expected": 0},
             {"type": "list_length", "name": "xs", "expected": k % 17 + 1}]
    wrong = [{"type": "output", "expected": str(k + 1)}, {"type": "variable_exists", "name": "ghost"},
             {"type": "variable_type", "name": "x", "expected": "str"},
             {"type": "variable_value", "name": "x", "expected": k + 1},
             {"type": "function_call", "function": "add", "args": [], "expected": 0},
             {"type": "function_call", "expected": "nope"},
             {"type": "list_contains", "name": "xs", "expected": 99},
             {"type": "list_length", "name": "xs", "expected": 99}]
    tests, passed = [], []
    for i in range(100):
        good = c.rng.random() < 0.5
        tests.append(dict((right if good else wrong)[i % 8], description=f"t{i}"))
        passed.append(good)
    return Case(run(code, tests), lambda a: ran(a, "ok", f"{k}\n{c.token}\n", "", passed))


@heavy
def tests_control_flood(c):
    # Issue 9's answer bomb: 1 MiB of control bytes echoed by 100 output tests.
    tests = [{"type": "output", "expected": "a"}] * 100

    def check(a):
        p = ran(a, "ok", "\x01" * MIB, "", [False] * 100)
        for i, t in enumerate((a.json or {}).get("testResults") or []):
            if t.get("actualTruncated") is not True:
                p.append(f"testResults[{i}].actualTruncated is {t.get('actualTruncated')!r}")
                break
        return p
    return Case(run("import sys\nsys.stdout.write('\\x01' * (1 << 20))\n", tests, timeoutMs=5000), check)


@heavy
def tests_long_expected(c):
    big = "".join(c.rng.choice("xyz") for _ in range(15000))
    tests = [{"type": "variable_value", "name": "s", "expected": big}] * 100

    def check(a):
        p = ran(a, "ok", "", "", [True] * 100)
        first = ((a.json or {}).get("testResults") or [{}])[0]
        if first.get("expectedTruncated") is not True or first.get("actualTruncated") is not True:
            p.append(f"a 15,000-character echo is not marked truncated: {sorted(first)}")
        return p
    return Case(run(f"s = {big!r}\n", tests), check)


@heavy
def tests_calls(c):
    code = "def sq(n):\n    return n * n\ndef boom(n):\n    raise ValueError(n)\n"
    tests, passed = [], []
    for i in range(100):
        if i % 10 == 9:
            tests.append({"type": "function_call", "function": "boom", "args": [i], "expected": 0})
            passed.append(False)
        else:
            tests.append({"type": "function_call", "function": "sq", "args": [i], "expected": i * i})
            passed.append(True)

    def check(a):
        p = ran(a, "ok", "", "", passed)
        actual = (((a.json or {}).get("testResults") or [{}] * 10)[9] or {}).get("actual")
        if actual != "ValueError: 9":
            p.append(f"testResults[9].actual is {actual!r}, want 'ValueError: 9'")
        return p
    return Case(run(code, tests), check)


# ------------------------------------------------------------ malformed bodies

def _bad(body, http, code, field=None, method="POST", path="/run"):
    return lambda c: Case(body() if callable(body) else body, lambda a: refused(a, http, code, field), method, path)


MALFORMED = [
    _bad(b"", 400, "invalid_json"),
    _bad(b"{", 400, "invalid_json"),
    _bad(b"not json at all", 400, "invalid_json"),
    _bad(b'{"code": "print(1)",}', 400, "invalid_json"),
    _bad(b'{"code":"\xff\xfe"}', 400, "invalid_json"),
    _bad(b"[1, 2]", 400, "invalid_request"),
    _bad(b'{"tests": []}', 400, "invalid_request", "code"),
    _bad(b'{"code": 5}', 400, "invalid_request", "code"),
    _bad(b'{"code": "x", "tests": "all"}', 400, "invalid_request", "tests"),
    _bad(b'{"code": "x", "tests": [5]}', 400, "invalid_request", "tests[0]"),
    _bad(b'{"code": "x", "tests": [{"type": "magic"}]}', 400, "invalid_request", "tests[0].type"),
    _bad(b'{"code": "x", "tests": [{"type": "output"}]}', 400, "invalid_request", "tests[0].expected"),
    _bad(b'{"code": "x", "tests": [{"type": "variable_value", "name": "1x", "expected": 1}]}', 400,
         "invalid_request", "tests[0].name"),
    _bad(b'{"code": "x", "stdin": 5}', 400, "invalid_request", "stdin"),
    _bad(b'{"code": "x", "timeoutMs": "100"}', 400, "invalid_request", "timeoutMs"),
    _bad(b'{"code": "x", "timeoutMs": 0}', 400, "invalid_request", "timeoutMs"),
    _bad(b'{"code": "x", "timeoutMs": 1.5}', 400, "invalid_request", "timeoutMs"),
    _bad(b'{"code": "x", "timeoutMs": 99999999999999999999}', 400, "invalid_request", "timeoutMs"),
    _bad(b'{"code": "x\\u0000y"}', 400, "invalid_request", "code"),
    _bad(lambda: run("x", [{"type": "output", "expected": "a"}] * 101), 400, "invalid_request", "tests"),
    _bad(lambda: b'{"code": "x", "tests": ' + b"[" * 101 + b"]" * 101 + b"}", 400, "invalid_request"),
    _bad(lambda: b'{"code": "x", "tests": ' + b"[" * 200000 + b"]" * 200000 + b"}", 400, "invalid_request"),
    _bad(lambda: b'{"code": "x", "a": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}", 400, "invalid_request"),
    heavy(_bad(lambda: run("#" * (100 * 1024 + 1)), 413, "code_too_large", "code")),
    heavy(_bad(lambda: run("x", stdin="s" * (MIB + 1)), 413, "code_too_large", "stdin")),
    _bad(lambda: run("x", padding="p" * (3 * MIB)), 413, "payload_too_large"),
    _bad(b"", 405, "method_not_allowed", method="GET"),
    _bad(b"", 404, "not_found", path="/soak"),
]


# ------------------------------------------------------------ fork bombs

def fork_bomb(c):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    return Case(run(code, timeoutMs=1000), lambda a: ran(a, "timeout", "", error="Execution timed out after 1000 ms"))


def fork_until_refused(c):
    # Processes that stay, until pids.max refuses more (spawned, not forked: a fork
    # of the warm interpreter costs some 30 ms of CPU).
    code = c.code("import os\nn = 0\ntry:\n    while n < 500:\n"
                  "        os.posix_spawn('/usr/bin/sleep', ['sleep', '60'], {})\n        n += 1\n"
                  "except OSError as e:\n    print(e.errno, n < 50, TOKEN)\n")
    return Case(run(code, timeoutMs=10000), lambda a: ran(a, "ok", f"11 True {c.token}\n", ""))


def thread_bomb(c):
    code = c.code("import threading, time\nn = 0\ntry:\n    while n < 1000:\n"
                  "        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n        n += 1\n"
                  "except RuntimeError as e:\n    print(n < 50, e, TOKEN)\n")
    return Case(run(code, timeoutMs=10000), lambda a: ran(a, "ok", f"True can't start new thread {c.token}\n", ""))


def subprocess_bomb(c):
    code = ("import subprocess, sys\nwhile True:\n    try:\n"
            "        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "    except OSError:\n        pass\n")
    return Case(run(code, timeoutMs=1500), lambda a: ran(a, "timeout", ""))


# ------------------------------------------------------------ memory bombs

def _memory(c, body, stdout=None, **fields):
    code = c.code("print(TOKEN, flush=True)\n" + body)
    fields = fields or {"signal": "SIGKILL"}
    return Case(run(code, timeoutMs=10000),
                lambda a: ran(a, "memory_limit", stdout or line(c), error="Memory limit of 256 MiB exceeded", **fields))


def _memory_in_child(c):
    """The child is the biggest process of the run's cgroup, so the kernel kills
    it, and the parent reports and exits 0: the run still exceeded its memory."""
    code = (POPULATE + "import os\npid = os.fork()\nif pid == 0:\n    m = mmap.mmap(-1, 1 << 30, flags=flags)\n"
            "    os._exit(0)\n_, status = os.waitpid(pid, 0)\nprint(os.WTERMSIG(status))\n")
    return _memory(c, code, line(c) + "9\n", signal=None, exitCode=0)


# Each bomb reaches 256 MiB in a fraction of a second of CPU (MAP_POPULATE
# fills pages in one call: 0.15 s; numpy's ones: 0.6 s). `b'x' * (1 << 30)`
# takes about 1.1 s (one page fault at a time): on a loaded machine a run at
# 0.5 CPU among others may not get that within its 10 s, and its honest answer
# is then `timeout`, which says nothing about the memory limit.
POPULATE = "import mmap\nflags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | mmap.MAP_POPULATE\n"
MEMORY = [
    lambda c: _memory(c, POPULATE + "m = mmap.mmap(-1, 1 << 30, flags=flags)\nprint('allocated')\n"),
    lambda c: _memory(c, "import numpy as np\na = np.ones(1 << 28)\nprint('allocated')\n"),
    lambda c: _memory(c, POPULATE + "keep = []\nwhile True:\n    keep.append(mmap.mmap(-1, 1 << 24, flags=flags))\n"),
    _memory_in_child,
]


# ------------------------------------------------------------ output floods

def _flood(c, code, stdout, stderr, status="output_limit", **fields):
    return Case(run(c.code(code), timeoutMs=10000), lambda a: ran(a, status, stdout, stderr, **fields))


def _exactly(char, prefix=""):
    return lambda s: len(s) == MIB and s.startswith(prefix) and s[len(prefix):] == char * (MIB - len(prefix))


OUTPUT = [heavy(v) for v in [
    lambda c: _flood(c, "import sys\nprint(TOKEN)\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
                     _exactly("x", line(c)), "", error="Output limit of 1 MiB exceeded"),
    lambda c: _flood(c, "import os\nprint(TOKEN, flush=True)\nwhile True:\n    os.write(2, b'e' * 65536)\n",
                     line(c), _exactly("e"), error="Output limit of 1 MiB exceeded"),
    lambda c: _flood(c, "i = 0\nwhile True:\n    print('\\n'.join(map(str, range(i, i + 1000))))\n    i += 1000\n",
                     lambda s: len(s) == MIB and s.startswith("0\n1\n2\n3\n"), ""),
    lambda c: _flood(c, "import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n        os.setsid()\n"
                        "        while True:\n            os.write(1, b'y' * 65536)\ntime.sleep(10)\n",
                     _exactly("y"), ""),
    lambda c: _flood(c, "import sys\nsys.stdout.write('z' * (1 << 20))\n", _exactly("z"), "", status="ok",
                     outputTruncated=False),
]]


# ------------------------------------------------------------ file floods in /tmp

FILES = [
    lambda c: _flood(c, "import os\nn = 0\ntry:\n    while True:\n"
                        "        os.close(os.open('/tmp/f%d' % n, os.O_CREAT | os.O_WRONLY))\n        n += 1\n"
                        "except OSError as e:\n    print(e.errno, n > 1000, TOKEN)\n",
                     f"28 True {c.token}\n", "", status="ok"),
    lambda c: _flood(c, "f = open('/tmp/big', 'wb')\ntry:\n    while True:\n        f.write(b'x' * (1 << 20))\n"
                        "        f.flush()\nexcept OSError as e:\n    print(e.errno in (27, 28), TOKEN)\n",
                     f"True {c.token}\n", "", status="ok"),
    lambda c: _flood(c, "import os\nn = 0\ntry:\n    while True:\n        os.mkdir('/tmp/d%d' % n)\n        n += 1\n"
                        "except OSError as e:\n    print(e.errno, n > 1000, TOKEN)\n",
                     f"28 True {c.token}\n", "", status="ok"),
]


# ------------------------------------------------------------ timeouts

def _timeout(c, code, ms, stdout, tests=None, passed=None, messages=None):
    return Case(run(c.code(code), tests, timeoutMs=ms),
                lambda a: ran(a, "timeout", stdout, passed=passed, messages=messages, signal="SIGKILL",
                              error=f"Execution timed out after {ms} ms"))


# Programs that print before they hang get seconds to do so: a loaded machine may
# not start a run's interpreter within a few hundred milliseconds.
TIMEOUTS = [
    lambda c: _timeout(c, "import time\nprint(TOKEN, flush=True)\ntime.sleep(30)\n", c.rng.randrange(2000, 4000),
                       line(c)),
    lambda c: _timeout(c, "while True:\n    pass\n", c.rng.randrange(200, 900), ""),
    lambda c: _timeout(c, "import threading\ndef spin():\n    while True:\n        pass\n"
                          "for _ in range(4):\n    threading.Thread(target=spin).start()\nspin()\n", 700, ""),
    lambda c: _timeout(c, "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\nprint('resumed')\n", 400, ""),
    lambda c: _timeout(c, "import time\ndef f():\n    while True:\n        time.sleep(1)\nprint(TOKEN)\n", 3000, line(c),
                       [{"type": "function_call", "function": "f", "expected": 1},
                        {"type": "output", "expected": c.token}], [False, True],
                       {0: "observations unavailable"}),
]


# ------------------------------------------------------------ survivors

def _survivor(c, code):
    return Case(run(c.code(code + "print(TOKEN)\n"), timeoutMs=10000), lambda a: ran(a, "ok", line(c), ""))


SURVIVORS = [
    # setsid, double fork, signals ignored, exec'd: the marker names it on the host.
    lambda c: _survivor(c, "import os, sys, signal\npid = os.fork()\nif pid == 0:\n    os.setsid()\n"
                           "    if os.fork():\n        os._exit(0)\n"
                           "    for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):\n"
                           "        signal.signal(s, signal.SIG_IGN)\n"
                           "    os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', MARKER])\n"
                           "os.waitpid(pid, 0)\n"),
    # A grandchild that keeps the run's stdout open.
    lambda c: _survivor(c, "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                           "        time.sleep(60)\n    os._exit(0)\n"),
    lambda c: _survivor(c, "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\n"),
    lambda c: _survivor(c, "import os, signal\nif os.fork() == 0:\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                           "    signal.signal(signal.SIGHUP, signal.SIG_IGN)\n    while True:\n        pass\n"),
    # A daemon in the classic form: detached, descriptors closed, writing to /tmp.
    lambda c: _survivor(c, "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                           "        os.chdir('/')\n        os.closerange(0, 64)\n        while True:\n"
                           "            with open('/tmp/daemon', 'a') as f:\n                f.write('x')\n"
                           "            time.sleep(0.01)\n    os._exit(0)\n"),
]


# ------------------------------------------------------------ tampering with fd 4

FORGED = (b'\n\x00\xff garbage {"i": \n{"event":"finished","exitCode":0,"syntaxError":false,"error":null}\n'
          b'{"i":0,"exists":true,"type":"int","value":42,"len":null}\n{"i":1,"ok":true,"type":"int","value":42}\n'
          b'{"i":2,"exists":true,"type":"int","value":42,"len":null}\n'
          b'{"i":3,"exists":true,"type":"list","value":[42,42,42],"len":3}\n{"event":"end"}\n')
# Tests the forged records would pass; the program's honest values fail them.
FORGED_TESTS = [{"type": "variable_value", "name": "x", "expected": 42},
                {"type": "function_call", "function": "f", "args": [], "expected": 42},
                {"type": "variable_exists", "name": "ghost"},
                {"type": "list_length", "name": "xs", "expected": 3}]
CHANNEL = "observations unavailable: the program wrote to the harness's result channel"
TAMPERED = {i: CHANNEL for i in range(4)}
HONEST = "x = 1\nxs = [1]\ndef f():\n    return 1\nprint(TOKEN)\n"


def _tamper(c, code, status, stdout, passed, messages, tests=None, **fields):
    body = run(c.code(f"import os\nos.write(4, {FORGED!r})\n" + code), tests or FORGED_TESTS, timeoutMs=10000)
    return Case(body, lambda a: ran(a, status, stdout, passed=passed, messages=messages, **fields))


X_TEST = [{"type": "variable_value", "name": "x", "expected": 1}, {"type": "output", "expected": "t"}]
TAMPER = [
    lambda c: _tamper(c, HONEST, "ok", line(c), [False] * 4, TAMPERED, exitCode=0),
    lambda c: _tamper(c, HONEST + "import sys\nsys.exit(3)\n", "error", line(c), [False] * 4, TAMPERED, exitCode=3),
    # The status then comes from the exit status alone: the forged `finished` is not believed.
    lambda c: _tamper(c, HONEST + "raise ValueError('real')\n", "error", line(c), [False] * 4, TAMPERED,
                      exitCode=1, error="Exited with code 1", stderr=lambda s: "ValueError: real" in s),
    # Issue 9's parse bomb: a finished record, then 16 MiB of one deep-ish array per line.
    heavy(lambda c: _tamper(c, "chunk = b'[' + b'0,' * (1 << 19) + b'0]\\n'\nfor _ in range(16):\n"
                               "    os.write(4, chunk)\n" + HONEST, "ok", line(c), [False] * 4, TAMPERED)),
    lambda c: Case(run(c.code("import os\nos.close(4)\nx = 1\nprint('t')\n"), X_TEST),
                   lambda a: ran(a, "ok", "t\n", "", [False, True], {0: "observations unavailable"})),
    # print() to a closed stdout raises: with fd 4 gone too only the exit status tells.
    lambda c: Case(run(c.code("import os\nos.closerange(0, 256)\nx = 1\nprint('t')\n"), X_TEST),
                   lambda a: ran(a, "error", "", "", [False, False], {0: "observations unavailable"}, exitCode=1,
                                 error="Exited with code 1")),
    lambda c: Case(run(c.code("import os\nfor fd in (0, 1, 2):\n    os.close(fd)\nx = 1\nprint('t')\n"), X_TEST),
                   lambda a: ran(a, "error", "", "", [True, False], exitCode=1,
                                 error="OSError: [Errno 9] Bad file descriptor (line 5)")),
    # The harness's records then go to stdout: the program's own output, believed by nobody.
    lambda c: Case(run(c.code("import os\nprint('t', flush=True)\nos.dup2(1, 4)\nx = 1\n"), X_TEST[:1]),
                   lambda a: ran(a, "ok", starts("t\n\n{\"event\""), "", [False], {0: "observations unavailable"})),
]


# ------------------------------------------------------------ segfaults

def _killed(c, code, sig, stdout):
    return Case(run(c.code(code), timeoutMs=10000),
                lambda a: ran(a, "killed", stdout, signal=sig, exitCode=None, error=f"Killed by signal {sig}"))


SEGFAULTS = [
    lambda c: _killed(c, "import ctypes\nprint(TOKEN, flush=True)\nctypes.string_at(0)\n", "SIGSEGV", line(c)),
    lambda c: _killed(c, "import ctypes\nctypes.CFUNCTYPE(None)(0)()\n", "SIGSEGV", ""),
    lambda c: _killed(c, "import ctypes\nctypes.memset(16, 1, 1 << 20)\n", "SIGSEGV", ""),
    lambda c: _killed(c, "import os\nprint(TOKEN, flush=True)\nos.abort()\n", "SIGABRT", line(c)),
    lambda c: _killed(c, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "SIGKILL", ""),
    lambda c: Case(run(c.code("import ctypes, os\npid = os.fork()\nif pid == 0:\n    ctypes.string_at(0)\n"
                              "_, st = os.waitpid(pid, 0)\nprint(os.WTERMSIG(st), TOKEN)\n")),
                   lambda a: ran(a, "ok", f"11 {c.token}\n", "")),
]


# name: (weight out of 1000, variants)
KINDS = {
    "hello": (130, [hello_world, hello_stdin, hello_fresh_tmp, hello_exception, hello_syntax_error,
                    hello_exit_code]),
    "pandas": (100, [quest_numpy, quest_pandas, quest_groupby]),
    "tests100": (80, [tests_mixed, tests_control_flood, tests_long_expected, tests_calls]),
    "malformed": (120, MALFORMED),
    "fork_bomb": (60, [fork_bomb, fork_until_refused, thread_bomb, subprocess_bomb]),
    "memory_bomb": (60, MEMORY),
    "output_flood": (80, OUTPUT),
    "file_flood": (50, FILES),
    "timeout": (80, TIMEOUTS),
    "survivor": (80, SURVIVORS),
    "tamper": (100, TAMPER),
    "segfault": (60, SEGFAULTS),
}


def plan(n, seed):
    """n (kind, variant index) pairs in a seeded order: each kind gets its share
    of n (largest remainders), and its variants take turns."""
    total = sum(w for w, _ in KINDS.values())
    shares = {k: n * w / total for k, (w, _) in KINDS.items()}
    counts = {k: int(s) for k, s in shares.items()}
    for k in sorted(shares, key=lambda k: counts[k] - shares[k])[:n - sum(counts.values())]:
        counts[k] += 1
    out = [(k, i % len(KINDS[k][1])) for k, count in counts.items() for i in range(count)]
    random.Random(seed).shuffle(out)
    return out


def every_variant():
    """Each variant of each kind once."""
    return [(k, i) for k, (_, variants) in KINDS.items() for i in range(len(variants))]


def heavy_variants():
    return [(k, i) for k, (_, variants) in KINDS.items() for i, v in enumerate(variants) if getattr(v, "heavy", False)]


def build(kind, variant, ctx):
    return KINDS[kind][1][variant](ctx)
