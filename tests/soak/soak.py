"""make soak: abusive and ordinary runs, CLIENTS at a time, through a real
nginx and pyexecd (tests/lib/service.py). Every answer is checked against
what its kind of run must give (kinds.py, checks.py). Afterwards: nothing of
any run is left (processes, run cgroups, mounts, files in the state folder),
no pyexecd process died, and the master's, each worker's and each zygote's
anonymous memory and open descriptors are where they were after a warm-up
round (see LEAK_* below for the tolerance and why).

    soak.py [--runs N] [--clients N] [--workers N] [--seed N]

PYEXEC_TEST_MODE=cold runs it against cold mode. The last line is
`soak: N passed, N failed` (tests/run_all.sh adds it up): one for each
answer (warm-up included) and one for each check made afterwards."""
import argparse
import concurrent.futures
import http.client
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "security"))
sys.path.insert(0, HERE)
import attack  # noqa: E402
import kinds  # noqa: E402
from checks import Answer, common  # noqa: E402
from procfs import children, comm, status_field  # noqa: E402

# A leak grows with the number of runs; what the allocator keeps after its
# largest requests does not. glibc keeps freed heap up to a trim threshold
# that grows to twice the largest block it has handed back (an answer of
# several MiB, built in a growing buffer), and how much stays depends on the
# order the heavy requests came in: measured, a worker's anonymous memory
# climbs in a few fixed steps (about 1.8 and 10 MiB) to a plateau near
# 32 MiB, each step at some point of the soak, and stays there. So memory is
# sampled after a warm-up that gives every worker each heavy variant, then
# after each of PARTS parts of the soak, and a process fails when:
# - it grew by more than LEAK_STEP_KIB in every part: a step comes once, a
#   leak in each part. A worker serves some 60 runs of a part of `make soak`
#   (6 of the 100-run version), so this catches a leak of 4 KiB per run
#   (40 KiB in the 100-run version);
# - or it ends more than LEAK_KIB above the warm-up: more than one more step
#   of the largest kind (the 7 MiB answer of 100 tests echoing 1 MiB of
#   control characters, in a buffer that doubles, and the output it comes from).
PARTS = 4
LEAK_STEP_KIB = 256
LEAK_KIB = 16384
# Descriptors have no such slack: a quiet worker holds exactly its socket,
# its zygote's socket and its prepared sandbox's pipes, whatever ran before.
LEAK_FDS = 0
RETRIES = 10  # 503 overloaded is the service's answer to a full queue: retry as Retry-After says


def send(svc, case, request_id):
    """The case's request, retried while the service answers 503 overloaded.
    Returns (Answer, retries)."""
    for retries in range(RETRIES + 1):
        start = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=120)
        try:
            conn.request(case.method, case.path, body=case.body or None,
                         headers={"X-Request-Id": request_id, "Content-Type": "application/json"})
            resp = conn.getresponse()
            answer = Answer(resp.status, dict(resp.getheaders()), resp.read(), request_id, time.monotonic() - start)
        finally:
            conn.close()
        error = (answer.json or {}).get("error") if answer.http == 503 else None
        if not isinstance(error, dict) or error.get("code") != "overloaded" or "retry-after" not in answer.headers:
            return answer, retries
        time.sleep(float(answer.headers["retry-after"]))
    return answer, retries


class Outcome:
    def __init__(self, kind, variant, problems, seconds, retries):
        self.kind, self.variant, self.problems, self.seconds, self.retries = kind, variant, problems, seconds, retries


def one(svc, marker, seed, index, kind, variant):
    token = f"soak{index}x{secrets.token_hex(4)}"
    ctx = kinds.Ctx(random.Random(seed * 1000003 + index), token, f"{marker}-{index}")
    case = kinds.build(kind, variant, ctx)
    try:
        answer, retries = send(svc, case, f"soak-{index}-{secrets.token_hex(6)}")
    except OSError as e:
        return Outcome(kind, variant, [f"no answer: {e!r}"], 0.0, 0)
    try:
        problems = common(answer) + case.check(answer)
    except Exception as e:  # a malformed answer the check did not foresee is still a failure
        problems = [f"the check failed on {answer.brief()}: {e!r}"]
    return Outcome(kind, variant, problems, answer.seconds, retries)


def batch(svc, marker, seed, plan, first_index, clients):
    """Runs the plan, `clients` requests at a time; returns (outcomes, seconds)."""
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(one, svc, marker, seed, first_index + i, kind, variant)
                   for i, (kind, variant) in enumerate(plan)]
        outcomes = [f.result() for f in futures]
    return outcomes, time.monotonic() - start


def warm_up(svc, marker, args):
    """Every variant once, `clients` at a time; then each heavy variant (the
    largest requests, outputs and answers) as `workers` copies at once, which
    gives each idle worker one, so that every worker's allocator has seen the
    largest things before the baseline is taken."""
    outcomes, _ = batch(svc, marker, args.seed, kinds.every_variant(), 0, args.clients)
    for variant in kinds.heavy_variants():
        done, _ = batch(svc, marker, args.seed, [variant] * args.workers, len(outcomes), args.workers)
        outcomes += done
    return outcomes


# ---------------------------------------------------------------- the host side

def run_leftovers(svc):
    """What outlived its run: processes and run cgroups of our pyexecd. The one
    place this suite asks; attack.leftovers() finds the run cgroups through the
    cgroup backend in use."""
    return attack.leftovers(svc)


def pyexecd_processes(svc):
    """{pid: role} of the master, its workers and their zygotes (full and lean)."""
    master = svc.pyexecd.pid
    out = {master: "master"}
    workers = sorted(p for p in children(master) if (status_field(p, "Uid") or ["?"])[0] == "0")
    for n, worker in enumerate(workers, 1):
        out[worker] = f"worker {n}"
        for z in children(worker):
            if comm(z) == "pyexec-zygote":
                out[z] = f"zygote {n}"
            elif comm(z) == "pyexec-zyg-lean":
                out[z] = f"lean zygote {n}"
    return out


def measure(pid):
    """(RssAnon KiB, VmRSS KiB, open descriptors), or None once gone."""
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    anon, rss = status_field(pid, "RssAnon"), status_field(pid, "VmRSS")
    return (int(anon[0]), int(rss[0]), fds) if anon and rss else None


def quiet_sample(svc, seconds=30):
    """{pid: (role, RssAnon, VmRSS, fds)} once every run is over and each worker
    holds only its prepared sandbox, and two readings 0.3 s apart agree on every
    descriptor count."""
    attack.settled(lambda: run_leftovers(svc), seconds)
    last = None
    deadline = time.time() + seconds
    while True:
        now = {pid: (role, *(measure(pid) or (0, 0, -1))) for pid, role in pyexecd_processes(svc).items()}
        fds = {pid: v[3] for pid, v in now.items()}
        if last is not None and fds == {pid: v[3] for pid, v in last.items()} or time.time() > deadline:
            return now
        last = now
        time.sleep(0.3)


# Designed, not a fault: a sandbox's teardown runs at SCHED_IDLE after the
# answer, and on a busy machine its init may take longer than the 2 s the
# worker waits; the worker then finishes it in the background (the leftover
# check below sees whether it ever does).
SLOW_TEARDOWN = re.compile(r"warn: sandbox init \d+ still exiting .* its teardown goes on in the background")


def log_complaints(svc, offset):
    """pyexecd's warning and error lines written after `offset` of its log:
    (slow teardowns, the others)."""
    svc.log.flush()
    with open(svc.log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    lines = [ln for ln in text.splitlines() if re.search(r"pyexecd\[\d+\] (warn|error): ", ln)]
    slow = [ln for ln in lines if SLOW_TEARDOWN.search(ln)]
    return slow, [ln for ln in lines if ln not in slow]


def end_checks(svc, marker, mounts_before, state_before, samples, log_offset):
    """[(name, problem or None)] of what is checked after the soak, and the
    number of teardowns pyexecd finished in the background. samples:
    [(label, sample)] at the start, after the warm-up, and after each part of
    the soak."""
    start, warm, end = samples[0][1], samples[1][1], samples[-1][1]
    out = [("pyexecd and nginx alive",
            None if svc.pyexecd.poll() is None and svc.nginx.poll() is None else "one of them exited")]
    roles = lambda s: {pid: v[0] for pid, v in s.items()}  # noqa: E731
    out.append(("no pyexecd process died or was replaced",
                None if roles(start) == roles(end) else f"{roles(start)} became {roles(end)}"))
    left = attack.settled(lambda: run_leftovers(svc), 10)
    out.append(("no process or run cgroup left", "; ".join(left) or None))
    mounts = attack.mount_points() - mounts_before
    out.append(("no mount left on the host", f"{sorted(mounts)}" if mounts else None))
    survivors = attack.processes_with(marker)
    out.append(("no survivor (marked) process", f"{survivors}" if survivors else None))
    state = attack.state_files(svc) ^ state_before
    out.append(("state folder as it was", f"differs in {sorted(state)[:10]}" if state else None))
    slow, complaints = log_complaints(svc, log_offset)
    out.append(("pyexecd logged no warning or error", f"{len(complaints)}: {complaints[:5]}" if complaints else None))
    status, _, data = svc.request("GET", "/health", timeout=60)
    out.append(("/health healthy", None if status == 200 and b'"healthy"' in data else f"{status} {data[:200]!r}"))
    for pid, (role, anon, _, fds) in warm.items():
        if pid not in end:
            continue
        series = [s[pid][1] for _, s in samples[1:] if pid in s]
        steps = [b - a for a, b in zip(series, series[1:])]
        leak = all(d > LEAK_STEP_KIB for d in steps) or series[-1] - anon > LEAK_KIB
        out.append((f"{role} memory", f"RssAnon {' -> '.join(map(str, series))} KiB" if leak else None))
        fds_series = [s[pid][3] for _, s in samples[1:] if pid in s]
        grew = fds_series[-1] - fds > LEAK_FDS or min(fds_series) < 0
        out.append((f"{role} descriptors", f"{' -> '.join(map(str, fds_series))}" if grew else None))
    return out, len(slow)


# ---------------------------------------------------------------- the report

def kind_table(outcomes):
    lines = [f"{'kind':<14}{'runs':>6}{'failed':>8}{'503s':>6}{'median ms':>11}{'max ms':>9}"]
    for kind in list(kinds.KINDS):
        mine = [o for o in outcomes if o.kind == kind]
        if not mine:
            continue
        times = [o.seconds * 1000 for o in mine]
        lines.append(f"{kind:<14}{len(mine):>6}{sum(1 for o in mine if o.problems):>8}"
                     f"{sum(o.retries for o in mine):>6}{statistics.median(times):>11.0f}{max(times):>9.0f}")
    return lines


def process_table(samples):
    """RssAnon (KiB) and open descriptors of each process at each sample."""
    lines = [f"{'RssAnon KiB / fds':<20}" + "".join(f"{label:>15}" for label, _ in samples)]
    for pid, (role, *_rest) in samples[1][1].items():
        cells = [f"{s[pid][1]:>8} / {s[pid][3]:>3}" if pid in s else "gone" for _, s in samples]
        lines.append(f"{role + ' ' + str(pid):<20}" + "".join(f"{c:>15}" for c in cells))
    return lines


def failures(outcomes, limit=40):
    lines = []
    for o in [o for o in outcomes if o.problems][:limit]:
        lines.append(f"FAIL {o.kind}[{o.variant}]: " + " | ".join(o.problems[:4])[:1500])
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=int(os.environ.get("SOAK_RUNS", 1000)))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", 9)))
    args = ap.parse_args()
    marker = f"pyexec-soak-{secrets.token_hex(6)}"
    mounts_before = attack.mount_points()
    t0 = time.monotonic()
    svc = attack.Service(workers=args.workers)
    try:
        print(f"soak: {args.runs} runs, {args.clients} at a time, {args.workers} workers, "
              f"{svc.mode} mode, seed {args.seed}", flush=True)
        state_before = attack.state_files(svc)
        log_offset = os.path.getsize(svc.log_path)
        samples = [("start", quiet_sample(svc))]
        warmup = warm_up(svc, marker, args)
        samples.append(("warm-up", quiet_sample(svc)))
        plan = kinds.plan(args.runs, args.seed)
        outcomes, seconds = [], 0.0
        for n in range(PARTS):
            part = plan[n * len(plan) // PARTS:(n + 1) * len(plan) // PARTS]
            done, took = batch(svc, marker, args.seed, part, len(warmup) + len(outcomes), args.clients)
            outcomes, seconds = outcomes + done, seconds + took
            failed = sum(1 for o in outcomes if o.problems)
            print(f"soak: {len(outcomes)} runs done, {failed} failed, {seconds:.0f} s", flush=True)
            samples.append((f"{len(outcomes)} runs", quiet_sample(svc)))
        checks, slow = end_checks(svc, marker, mounts_before, state_before, samples, log_offset)
        report(args, svc, warmup, outcomes, seconds, samples, checks, slow, time.monotonic() - t0)
        failed = sum(1 for o in warmup + outcomes if o.problems) + sum(1 for _, p in checks if p)
        passed = len(warmup) + len(outcomes) + len(checks) - failed
        if failed:
            keep = f"/tmp/soak-pyexecd-{svc.pyexecd.pid}.log"
            shutil.copyfile(svc.log_path, keep)
            print(f"soak: pyexecd's log kept in {keep}")
    finally:
        svc.stop()
    print(f"soak: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def report(args, svc, warmup, outcomes, seconds, samples, checks, slow, total):
    out = failures(warmup + outcomes)
    out += [f"warm-up: {len(warmup)} runs (every variant once, then each heavy one on every worker), "
            f"{sum(1 for o in warmup if o.problems)} failed", ""]
    out += kind_table(outcomes) + [""]
    out.append(f"soak: {len(outcomes)} runs in {seconds:.1f} s, {len(outcomes) / seconds:.1f} req/s "
               f"({args.clients} clients, {args.workers} workers, {svc.mode}); "
               f"{sum(o.retries for o in outcomes)} answers 503 overloaded retried; {total:.0f} s in all; "
               f"{slow} teardowns finished in the background (still exiting after 2 s)")
    out += [""] + process_table(samples) + [""]
    out += [f"{'ok  ' if p is None else 'FAIL'} {name}" + (f": {p}" if p else "") for name, p in checks]
    print("\n".join(out), flush=True)


if __name__ == "__main__":
    main()
