"""Writes the hand-made seeds of the fuzz corpora (tests/fuzz/corpus/<name>/seed-*).

    /usr/bin/python3 tests/fuzz/make_seeds.py

request: bodies from the README and the end-to-end tests, and hostile shapes.
records: a request line, then a result stream; real streams come from running
  src/harness/harness.py as pyexecd does (fds 3 and 4, no sandbox), hostile
  ones are written here. seccomp: the shipped profiles, Docker's (the test
  fixture) and hostile shapes. `make fuzz` adds what it finds next to these
  (named by content hash) and never removes a seed.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from harness_source import harness_source  # noqa: E402

HARNESS = harness_source()


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def body(code, tests=None, **more):
    b = {"code": code}
    if tests is not None:
        b["tests"] = tests
    b.update(more)
    return json.dumps(b)


README_TESTS = [
    {"type": "output", "expected": "adding\n5"},
    {"type": "variable_exists", "name": "fruits"},
    {"type": "variable_type", "name": "fruits", "expected": "list"},
    {"type": "variable_value", "name": "total", "expected": 6},
    {"type": "variable_value", "name": "total", "expected": 6.0001, "tolerance": 0.001},
    {"type": "function_call", "expected": "5"},
    {"type": "function_call", "function": "add", "args": [1], "kwargs": {"b": 2}, "expected": 3},
    {"type": "list_contains", "name": "fruits", "expected": "kiwi"},
    {"type": "list_length", "name": "fruits", "expected": 2},
]
README_CODE = ("import numpy as np\nfruits = [\"apple\", \"kiwi\"]\ntotal = np.array([1, 2, 3]).sum()\n"
               "def add(a, b):\n    print(\"adding\")\n    return a + b\nprint(add(2, 3))\n")


def request_seeds():
    w = lambda n, d: write("request", n, d)
    w("readme-hello", body('print("Hello, World!")', [{"type": "output", "expected": "Hello, World!",
                                                       "description": "Should print Hello, World!"}]))
    w("readme-error", body("a = 1\nb = 0\nprint(a / b)\n"))
    w("readme-stdin", body("print(input().upper())", stdin="ada\n", timeoutMs=5000))
    w("readme-tests", body(README_CODE, README_TESTS))
    w("readme-bad-type", body("x", [{"type": "magic"}]))
    w("variable-synonym", body("x = 1", [{"type": "variable_value", "variable": "x", "name": "x",
                                          "expected": {"a": [1, 2.5, None, True, "s"]}}]))
    w("exercise", body("import pandas as pd\ndf = pd.read_csv('data/a.csv')\n",
                       [{"type": "pytest", "description": "rows", "code": "from main import df\ndef test_rows():\n"
                         "    assert len(df) == 1\n"}],
                       files={"data/a.csv": "a,b\n1,2\n", "helpers.py": "", "out/keep": ""}))
    w("files-bad", '{"code": "", "files": {"../x": "", "a": "x", "a/b": "y", "main.py": "", "c": 1}}')
    w("nulls", '{"code": "x", "stdin": null, "timeoutMs": null, "tests": null}')
    w("timeouts", '{"code": "", "timeoutMs": 2e3}')
    w("timeout-max", '{"code": "", "timeoutMs": 10000.0}')
    w("timeout-over", '{"code": "", "timeoutMs": 10001}')
    w("timeout-huge", '{"code": "", "timeoutMs": 1e400}')
    w("timeout-fraction", '{"code": "", "timeoutMs": 1.5}')
    w("tolerance", '{"code": "", "tests": [{"type": "variable_value", "name": "x", "expected": 1, '
                   '"tolerance": 1e-400}]}')
    w("huge-numbers", '{"code": "", "tests": [{"type": "variable_value", "name": "x", "expected": '
                      + "9" * 400 + '}, {"type": "list_length", "name": "y", "expected": 1e999},'
                      ' {"type": "list_length", "name": "y", "expected": -0}]}')
    w("duplicate-keys", '{"code": "a", "code": "b", "tests": [{"type": "output", "type": "list_length",'
                        ' "name": "x", "expected": 3}]}')
    w("kwargs-bad", body("", [{"type": "function_call", "function": "f", "kwargs": {"1a": 1}, "expected": 1}]))
    w("args-no-function", body("", [{"type": "function_call", "args": [1], "expected": "1"}]))
    w("unicode", body("s = '\u00e9\u4e2d\U0001f600'\nprint(s)", [{"type": "output", "expected": "\u00e9"}]))
    w("lone-surrogate", '{"code": "x = \'\\ud800\'", "tests": [{"type": "output", "expected": "\\udfff"}]}')
    w("lone-low-surrogate", '{"code": "x = \'\\ude00\'", "stdin": "\\udfff"}')  # found by fuzzing
    w("escaped-nul", '{"code": "x\\u0000y"}')
    w("raw-nul", b'{"code": "x"}\x00{"code": 1}')
    w("raw-nul-in-string", b'{"code": "x\x00y"}')
    w("invalid-utf8", b'{"code": "\xff\xfe\xc0\xaf"}')
    w("overlong-utf8", b'{"code": "\xe0\x80\xaf"}')
    w("bom", b'\xef\xbb\xbf{"code": "x"}')
    w("not-object", '["code"]')
    w("empty", "")
    w("deep-99", '{"code": "", "tests": [{"type": "variable_value", "name": "x", "expected": '
                 + "[" * 97 + "]" * 97 + "}]}")
    w("deep-101", '{"code": "", "tests": [' + "[" * 101 + "]" * 101 + "]}")
    w("deep-5000", "[" * 5000)
    w("deep-objects", '{"a":' * 300 + "1" + "}" * 300)
    w("tests-100", body("", [{"type": "output", "expected": ""}] * 100))
    w("tests-101", body("", [{"type": "output", "expected": ""}] * 101))
    w("code-limit", body("#" * (100 * 1024)))
    w("code-over-limit", body("#" * (100 * 1024 + 1)))
    w("code-multibyte-over", body("\u00e9" * (50 * 1024 + 1)))
    w("trailing-garbage", '{"code": "x"} {"code": "y"}')


def observe_of(test):
    if test["type"] in ("output", "pytest") or (test["type"] == "function_call" and "function" not in test):
        return None
    if test["type"] == "function_call":
        return {"call": test["function"], "args": test.get("args", []), "kwargs": test.get("kwargs", {})}
    return {"var": test.get("name", test.get("variable"))}


def harness_stream(code, tests, files=None):
    """Runs the harness as pyexecd does (fd 3: input, fd 4: records) and returns fd 4's bytes."""
    # Keep fds 3 and 4 taken here, so that the pipes get other numbers and the
    # child's dup2 onto 3 and 4 cannot clobber one of them.
    reserved = []
    while len(reserved) < 5:
        fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        if fd > 4:
            os.close(fd)
            break
        reserved.append(fd)
    doc = {"code": code, "observe": [observe_of(t) for t in tests]}
    if files:
        doc["files"] = files
    pytest = [{"i": i, "code": t["code"]} for i, t in enumerate(tests) if t["type"] == "pytest"]
    if pytest:
        doc["pytest"] = pytest
    doc = json.dumps(doc).encode()
    in_r, in_w = os.pipe()
    res_r, res_w = os.pipe()
    os.write(in_w, doc)  # small: fits the pipe
    os.close(in_w)

    def arrange():
        os.dup2(in_r, 3)
        os.dup2(res_w, 4)

    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1"}
    import shutil
    cwd = "/tmp/pyexec-seeds"  # the sandbox's /tmp (files in, out/ read); a fixed path: the same seeds
    shutil.rmtree(cwd, ignore_errors=True)
    os.mkdir(cwd, 0o700)
    proc = subprocess.Popen(["/usr/bin/python3", "-u", "-B", "-s", "-c", HARNESS],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            pass_fds=(3, 4), preexec_fn=arrange, env=env, cwd=cwd)
    os.close(in_r)
    os.close(res_w)
    with os.fdopen(res_r, "rb") as f:
        out = f.read()
    proc.wait(timeout=60)
    for fd in reserved:
        os.close(fd)
    shutil.rmtree(cwd, ignore_errors=True)
    return out


def records_seeds():
    def w(name, code, tests, stream=None, files=None):
        header = json.dumps({"code": code, "tests": tests, **({"files": files} if files else {})})
        if stream is None:
            stream = harness_stream(code, tests, files)
        if isinstance(stream, str):
            stream = stream.encode()
        write("records", name, header.encode() + b"\n" + stream)

    v = lambda name, expected=None: {"type": "variable_value", "name": name, "expected": expected}
    w("readme", README_CODE, README_TESTS)
    w("values", "import math\nn = None\nb = True\ni = 2**70\nf = math.nan\nneg = -math.inf\n"
                "s = 'caf\\xe9 \\ud800'\nl = [1, (2, 3), {4}, {'k': [None]}]\nd = {1: 2}\n"
                "big = 10**5000\nc = 1j\n",
      [v(x) for x in ("n", "b", "i", "f", "neg", "s", "l", "d", "big", "c", "missing")])
    w("numpy-pandas", "import numpy as np, pandas as pd\na = np.arange(6).reshape(2, 3)\n"
                      "s = pd.Series([1.5, 2.5])\ndf = pd.DataFrame({'x': [1]})\nx = np.float32(0.1)\n",
      [v("a"), v("s"), v("df"), v("x"), {"type": "list_length", "name": "a", "expected": 2}])
    w("truncated", "deep = []\nd = deep\nfor _ in range(80):\n    d.append([])\n    d = d[0]\n"
                   "wide = list(range(200000))\nself_ref = []\nself_ref.append(self_ref)\n",
      [v("deep"), v("wide"), v("self_ref")])
    w("calls", "def f(a, b=0):\n    return a + b\ndef boom():\n    raise ValueError('no')\n"
               "def leave():\n    raise SystemExit(4)\nnot_callable = 3\n",
      [{"type": "function_call", "function": "f", "args": [1], "kwargs": {"b": 2}, "expected": 3},
       {"type": "function_call", "function": "boom", "expected": None},
       {"type": "function_call", "function": "leave", "expected": None},
       {"type": "function_call", "function": "nope", "expected": None},
       {"type": "function_call", "function": "not_callable", "expected": None},
       {"type": "output", "expected": ""}])
    w("syntax-error", "def (:\n", [v("x")])
    w("exception", "x = 1\ny = 1 / 0\n", [v("x"), v("y")])
    w("sys-exit", "import sys\nx = 5\nsys.exit(3)\n", [v("x")])
    w("no-tests", "print('hi')\n", [])

    # Hostile streams, written by hand (what a program could write on fd 4).
    fin = '{"event": "finished", "exitCode": 0, "syntaxError": false, "error": null}\n'
    end = '{"event": "end"}\n'
    one = [v("x", 5)]
    w("forged-flood", "", one, fin + "[" + "0," * 20000 + "0]\n")
    w("forged-empty-arrays", "", one, fin + "[" + "[]," * 10000 + "[]]\n")
    w("forged-objects", "", one, fin + "{" + ",".join('"k%d":0' % i for i in range(3000)) + "}\n")
    w("second-finished", "", one, "\n" + fin + fin + '{"i": 0, "exists": false}\n' + end)
    w("malformed-then-finished", "", one, '{"event": "finished"}\n' + fin + '{"i": 0, "exists": false}\n' + end)
    w("out-of-order", "", [v("x"), v("y")],
      fin + '{"i": 1, "exists": false}\n{"i": 0, "exists": false}\n' + end)
    w("twice", "", one, fin + '{"i": 0, "exists": false}\n{"i": 0, "exists": false}\n' + end)
    w("after-end", "", one, fin + '{"i": 0, "exists": false}\n' + end + end)
    w("missing-end", "", one, fin + '{"i": 0, "exists": true, "type": "int", "value": 5, "len": null}\n')
    w("cut-last-line", "", one, fin + '{"i": 0, "exists": true, "type": "int", "value": 5, "len": null}\n{"event": "e')
    w("exit-codes", "", [], '{"event": "finished", "exitCode": 256, "syntaxError": false, "error": null}\n' + end)
    w("exit-code-float", "", [], '{"event": "finished", "exitCode": 1.0, "syntaxError": true, "error": "E"}\n' + end)
    w("exit-code-huge", "", [], '{"event": "finished", "exitCode": 1' + "0" * 30 + ', "syntaxError": false}\n' + end)
    w("index-float", "", one, fin + '{"i": 0.0, "exists": false}\n' + end)
    w("index-huge", "", one, fin + '{"i": 18446744073709551616, "exists": false}\n' + end)
    w("observation-failure", "", one, fin + '{"i": 0, "error": "observation failed: x"}\n' + end)
    w("crlf-blank", "", one, "\r\n \t\n" + fin.replace("\n", "\r\n") + '{"i": 0, "exists": false}\r\n' + end)
    w("deep-100", "", one, fin + '{"i": 0, "exists": true, "type": "list", "value": ' + "[" * 99 + "]" * 99 + "}\n" + end)
    w("deep-101", "", one, fin + '{"i": 0, "exists": true, "type": "list", "value": ' + "[" * 100 + "]" * 100 + "}\n" + end)
    w("nul-byte", "", one, fin + '{"i": 0, "exists": false}\x00\n' + end)
    write("records", "invalid-utf8", json.dumps({"code": "", "tests": one}).encode() + b"\n" + fin.encode()
          + b'{"i": 0, "exists": true, "type": "str", "value": "\xff\xc0", "len": 2}\n' + end.encode())
    w("truncated-flag", "", one, fin + '{"i": 0, "exists": true, "type": "list", "value": "[1, ...", '
                                       '"len": 9, "truncated": true}\n' + end)
    w("no-header", "", [], "")

    # Graded exercises (SPEC 3.1): files in, pytest records, out/ files.
    module = ("import pytest\nfrom main import add\n\ndef test_add():\n    assert add(2, 3) == 5\n\n"
              "@pytest.mark.parametrize('a', [1, 2])\ndef test_wrong(a):\n    assert add(a, a) == 3\n\n"
              "@pytest.mark.skip(reason='later')\ndef test_skip():\n    pass\n")
    w("exercise", "import os\nfrom helpers import k\ndef add(a, b):\n    return a + b\nos.makedirs('out/s')\n"
                  "open('out/a.txt', 'w').write(open('data.csv').read())\nopen('out/s/b.bin', 'wb').write(bytes(range(256)))\n"
                  "os.symlink('/etc/passwd', 'out/link')\n",
      [v("k", 3), {"type": "pytest", "code": module}, {"type": "pytest", "code": "import nothing_here\n"}],
      files={"data.csv": "a,b\n1,2\n", "helpers.py": "k = 3\n"})
    pt = [{"type": "pytest", "code": "t"}]
    done = '{"test": 0, "done": true, "collected": 1, "error": null}\n'
    res = '{"test": 0, "name": "test_a", "outcome": "passed"}\n'
    w("pytest-done-first", "", pt, fin + done + res + end)
    w("pytest-no-done", "", pt, fin + res + end)
    w("pytest-bad-outcome", "", pt, fin + res.replace("passed", "won") + done + end)
    w("file-bad-base64", "", [], fin + '{"file": "out/a", "bytes": 5, "base64": "aGVsbG8"}\n' + end)
    w("file-outside-out", "", [], fin + '{"file": "../x", "bytes": 0, "base64": ""}\n' + end)
    w("file-unsorted", "", [], fin + '{"file": "out/b", "bytes": 0, "base64": ""}\n'
                                     '{"file": "out/a", "bytes": 0, "base64": ""}\n' + end)
    w("file-truncated", "", [], fin + '{"file": "out/a", "bytes": 9999999, "truncated": true}\n'
                                      '{"event": "end", "filesOmitted": 2}\n')
    write("records", "bad-header", b'{"code": 1}\n' + fin.encode() + end.encode())


def seccomp_seeds():
    for path in ("seccomp-profiles/python.json", "tests/fixtures/docker-default-seccomp.json"):
        with open(os.path.join(ROOT, path), "rb") as f:
            write("seccomp", os.path.basename(path), f.read())
    w = lambda n, d: write("seccomp", n, d if isinstance(d, (str, bytes)) else json.dumps(d))
    allow = {"defaultAction": "SCMP_ACT_ALLOW"}
    w("minimal", allow)
    w("errno-default", {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                        "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]})
    w("args", {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"name": "getpid", "action": "SCMP_ACT_KILL_PROCESS"},
        {"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
        {"names": ["not_a_syscall", "read"], "action": "SCMP_ACT_LOG"}]})
    w("selectors", {"defaultAction": "SCMP_ACT_ERRNO", "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}], "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"], "minKernel": "4.8"}},
        {"names": ["write"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"], "minKernel": "99.0.1-rc1"}},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]})
    w("both-arch-forms", {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                          "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})
    w("notify", {"defaultAction": "SCMP_ACT_NOTIFY"})
    w("errno-range", {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65535})
    w("errno-over", {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536})
    w("errno-negative", {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1})
    w("huge-values", '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": '
                     '"SCMP_ACT_ALLOW", "args": [{"index": 5, "value": 18446744073709551616, "op": "SCMP_CMP_GT"},'
                     ' {"index": 4294967296, "value": 1e300, "op": "SCMP_CMP_LT"}]}]}')
    w("index-6", {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_NE"}]}]})
    w("nul-in-name", '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read\\u0000x"], '
                     '"action": "SCMP_ACT_ALLOW"}]}')
    w("raw-nul-trailing", b'{"defaultAction": "SCMP_ACT_ALLOW"}\x00{"syscalls": 1}')
    w("invalid-utf8", b'{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["\xff"], "action": "SCMP_ACT_ALLOW"}]}')
    w("deep", '{"defaultAction": "SCMP_ACT_ALLOW", "x": ' + "[" * 20000 + "]" * 20000 + "}")
    w("kernel-versions", {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4."}},
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99999999999.1"}}]})
    w("many-rules", {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": i % 4096,
         "args": [{"index": i % 6, "value": i, "op": "SCMP_CMP_EQ"}]} for i in range(600)]})
    w("null-go-slices", '{"defaultAction": "SCMP_ACT_ERRNO", "architectures": null, "archMap": null, '
                        '"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": null, '
                        '"includes": null, "excludes": {}}]}')
    w("not-object", "[]")


if __name__ == "__main__":
    request_seeds()
    records_seeds()
    seccomp_seeds()
    for t in ("request", "records", "seccomp"):
        print(t, len(os.listdir(os.path.join(CORPUS, t))), "files", file=sys.stderr)
