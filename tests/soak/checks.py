"""What every answer of the soak must satisfy (tests/soak/soak.py), and the
small checks the kinds of run (kinds.py) build theirs from. A check returns
a list of problems: empty means the answer is right."""
import json

MIB = 1 << 20
ECHO_BYTES = 8192  # SPEC §2: a test result echoes at most 8 KiB of expected/actual
OUTPUT_BYTES = MIB  # SPEC §2: each stream is capped at 1 MiB
# The largest answer SPEC allows: two streams of 1 MiB whose bytes may each
# escape to 6 (`\u0001`), and 100 tests echoing 8 KiB twice, escaped the same
# way; 1 MiB more for the rest (descriptions are echoed, but the body that
# carried them was at most 2 MiB).
ANSWER_BOUND = 2 * 6 * OUTPUT_BYTES + 100 * 2 * 6 * ECHO_BYTES + 3 * MIB


class Answer:
    """One HTTP exchange: status, headers (lower-case names), body bytes, and the
    JSON body (None when it is not JSON)."""

    def __init__(self, http, headers, data, request_id, seconds):
        self.http, self.data, self.request_id, self.seconds = http, data, request_id, seconds
        self.headers = {k.lower(): v for k, v in headers.items()}
        try:
            self.json = json.loads(data) if data else None
        except ValueError:
            self.json = None

    def brief(self):
        return f"HTTP {self.http} {self.data[:300]!r}"


def common(a):
    """Invariants of every answer, whatever was asked."""
    p = []
    if a.json is None:
        return [f"the body is not JSON: {a.brief()}"]
    if a.headers.get("x-request-id") != a.request_id:
        p.append(f"X-Request-Id {a.headers.get('x-request-id')!r}, sent {a.request_id!r}")
    if a.json is not None and a.json.get("requestId") != a.request_id:
        p.append(f"requestId {a.json.get('requestId')!r}, sent {a.request_id!r}: another request's answer?")
    if len(a.data) > ANSWER_BOUND:
        p.append(f"the answer is {len(a.data)} bytes, over the {ANSWER_BOUND} SPEC allows")
    return p


def run_invariants(r):
    """What holds for every answer of a program that ran (HTTP 200)."""
    p = []
    status = r.get("status")
    flags = {"success": status == "ok", "timedOut": status == "timeout",
             "memoryExceeded": status == "memory_limit", "outputTruncated": status == "output_limit"}
    for field, want in flags.items():
        if r.get(field) is not want:
            p.append(f"{field} is {r.get(field)!r} with status {status!r}")
    results = r.get("testResults") or []
    all_passed = status == "ok" and all(t.get("passed") for t in results)
    if r.get("allPassed") is not all_passed:
        p.append(f"allPassed is {r.get('allPassed')!r}, the verdicts say {all_passed}")
    for stream in ("stdout", "stderr"):
        if len(r.get(stream) or "") > OUTPUT_BYTES:
            p.append(f"{stream} holds {len(r[stream])} characters, over 1 MiB")
    for i, t in enumerate(results):
        for echo in ("expected", "actual"):
            if isinstance(t.get(echo), str) and len(t[echo].encode()) > ECHO_BYTES:
                p.append(f"testResults[{i}].{echo} is {len(t[echo].encode())} bytes, over 8 KiB")
    return p


def ran(a, status, stdout=None, stderr=None, passed=None, messages=None, **fields):
    """A program ran (HTTP 200) and its answer has this status; stdout and
    stderr are exact strings or predicates; passed is the list of verdicts;
    messages maps a test index to the start its `message` must have; other
    keyword arguments are exact fields (exitCode=3, signal="SIGSEGV")."""
    if a.http != 200 or a.json is None:
        return [f"want HTTP 200 and a run, got {a.brief()}"]
    r = a.json
    p = run_invariants(r)
    if r.get("status") != status:
        p.append(f"status {r.get('status')!r}, want {status!r} (error {r.get('error')!r}, "
                 f"stderr {(r.get('stderr') or '')[-300:]!r}, {r.get('executionTimeMs')} ms, "
                 f"{r.get('cpuTimeMs')} ms of CPU, {r.get('memoryPeakBytes')} bytes at most)")
    for name, want in (("stdout", stdout), ("stderr", stderr)):
        got = r.get(name)
        if want is None:
            continue
        ok = want(got) if callable(want) else got == want
        if not ok:
            p.append(f"{name} is {got[:200]!r}… ({len(got or '')} characters), "
                     f"want {'a match' if callable(want) else repr(want[:200])}")
    for field, want in fields.items():
        if r.get(field) != want:
            p.append(f"{field} is {r.get(field)!r}, want {want!r}")
    if passed is not None:
        got = [t.get("passed") for t in r.get("testResults") or []]
        if got != passed:
            wrong = [i for i, (g, w) in enumerate(zip(got, passed)) if g != w]
            p.append(f"verdicts differ at tests {wrong[:10]} (of {len(got)}, want {len(passed)}); "
                     f"first: {(r.get('testResults') or [None])[wrong[0] if wrong else 0]!r:.300}")
    for i, start in (messages or {}).items():
        message = ((r.get("testResults") or [{}] * (i + 1))[i] or {}).get("message") or ""
        if not message.startswith(start):
            p.append(f"testResults[{i}].message is {message!r}, want it to start with {start!r}")
    return p


def refused(a, http, code, field=None):
    """A 4xx answer with its error code (and the field it names, if any)."""
    if a.http != http:
        return [f"want HTTP {http} {code}, got {a.brief()}"]
    error = (a.json or {}).get("error") or {}
    p = []
    if error.get("code") != code:
        p.append(f"error code {error.get('code')!r}, want {code!r}")
    if not error.get("message"):
        p.append("the error has no message")
    if field is not None and error.get("field") != field:
        p.append(f"error field {error.get('field')!r}, want {field!r}")
    return p
