"""Two or more pyexecd builds (or settings) side by side, interleaved, each
behind its own nginx: requests per second at concurrency 8, p50 at
concurrency 1 (back to back) and the service's CPU per run, for a few
workloads. For "what did this change cost": build the old commit in a
worktree and compare it with this one in the same run.

  tests/bench/ab.py LABEL=BINARY[,ARG...] LABEL=BINARY[,ARG...] ...

e.g. tests/bench/ab.py old=/tmp/base/build/pyexecd new=build/pyexecd \\
       new-full=build/pyexecd,--images,full

BENCH_SECONDS (default 5) per cell, BENCH_ROUNDS (default 2) rounds; the
median of the rounds is printed. AB_WORKLOADS: other workloads of
tests/bench/bench.py, by name, comma-separated (e.g. "hello world,pytest
exercise (3 tests)"). Nothing is asserted."""
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import bench  # noqa: E402
from service import Service  # noqa: E402

WORKLOADS = {
    "hello world": 'print("Hello, World!")',
    "pandas quest": "import pandas as pd\ndf = pd.DataFrame({'scores': [85, 90, 78, 92, 88]})\n"
                    "print(df['scores'].mean())",
}


def main():
    targets = {}
    for spec in sys.argv[1:]:
        label, _, rest = spec.partition("=")
        binary, *args = rest.split(",")
        targets[label] = (os.path.abspath(binary), args)
    if len(targets) < 2:
        sys.exit(__doc__)
    if os.environ.get("AB_WORKLOADS"):
        names = [n.strip() for n in os.environ["AB_WORKLOADS"].split(",")]
        unknown = [n for n in names if n not in bench.WORKLOADS]
        if unknown:
            sys.exit(f"AB_WORKLOADS: no workload {unknown[0]!r} (known: {', '.join(bench.WORKLOADS)})")
        WORKLOADS.clear()
        WORKLOADS.update({n: bench.WORKLOADS[n] for n in names})
    rounds = int(os.environ.get("BENCH_ROUNDS", "2"))
    workers = 2 * (os.cpu_count() or 1)
    services = {}
    results = {}
    try:
        for label, (binary, args) in targets.items():
            services[label] = Service(workers=workers, mode="warm", binary=binary, extra_args=args)
        for name, code in WORKLOADS.items():
            for svc in services.values():
                bench.warm_up(svc.port, code, workers)
            for k in range(rounds):
                for conns in (1, 8):
                    # Every cell starts on a quiet machine (a service goes on
                    # answering what wrk left queued), and the order turns
                    # each round: no build always follows another's c=8 cell.
                    order = list(services.items())
                    order = order[k % len(order):] + order[:k % len(order)]
                    for label, svc in order:
                        bench.settle()
                        cpu0 = bench.service_cpu_s(bench.roots_of(svc))
                        r = bench.wrk(svc.port, code, conns)
                        r["cpuMs"] = (bench.service_cpu_s(bench.roots_of(svc)) - cpu0) * 1000 / max(r["requests"], 1)
                        results.setdefault((name, label, conns), []).append(r)
                        print(f"{name:14} {label:12} c={conns}: p50 {r['p50']:.1f} ms, {r['rps']:.1f} req/s, "
                              f"{r['cpuMs']:.1f} ms CPU/run, {r['bad']} bad", file=sys.stderr)
    finally:
        for svc in services.values():
            svc.stop()
    med = lambda name, label, conns, key: statistics.median(r[key] for r in results[(name, label, conns)])  # noqa: E731
    print(f"\n{bench.machine()}; {workers} workers each; wrk {bench.SECONDS} s per cell, median of {rounds} rounds.\n")
    print("| workload | build | req/s (c=8) | p50 ms (c=1) | CPU ms/run (c=8) | bad |")
    print("|---|---|---|---|---|---|")
    for name in WORKLOADS:
        for label in targets:
            bad = sum(r["bad"] for c in (1, 8) for r in results[(name, label, c)])
            print(f"| {name} | {label} | {med(name, label, 8, 'rps'):.1f} | {med(name, label, 1, 'p50'):.1f} | "
                  f"{med(name, label, 8, 'cpuMs'):.1f} | {bad} |")


if __name__ == "__main__":
    main()
