"""`make bench`: latency of pyexec through a real nginx, side by side with a
bare `python3 -c` subprocess (what a Flask-subprocess runner does, with no
sandbox at all), the cost of each sandbox set-up step, and throughput under
wrk. Medians and ratios from one run on this machine; nothing is asserted."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from service import PYEXECD, Service  # noqa: E402

PY = "/usr/bin/python3"
PROGRAMS = {
    "hello": 'print("Hello, World!")',
    "numpy": "import numpy as np\nprint(np.array([1, 2, 3, 4, 5]).sum())",
    "pandas": "import pandas as pd\ndf = pd.DataFrame({'scores': [85, 90, 78, 92, 88]})\nprint(df['scores'].mean())",
}
RUNS = {"hello": 40, "numpy": 15, "pandas": 10}


def ms(f):
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1000


def bare(code):
    subprocess.run([PY, "-c", code], check=True, capture_output=True)


def timed_run(svc, code, walls):
    r = {}
    t = ms(lambda: r.update(svc.run(code, timeoutMs=10000)[1]))
    assert r["status"] == "ok", r
    walls.append(r["executionTimeMs"])
    return t


def main():
    results = {}
    warm, cold = Service(workers=2, mode="warm"), Service(workers=2, mode="cold")
    try:
        for name, code in PROGRAMS.items():
            for svc in (warm, cold):
                svc.run(code, timeoutMs=10000)  # warm the page cache for every side
            bare(code)
            w, c, base, wwall, cwall = [], [], [], [], []
            for _ in range(RUNS[name]):  # interleaved, so all three see the same machine
                w.append(timed_run(warm, code, wwall))
                c.append(timed_run(cold, code, cwall))
                base.append(ms(lambda: bare(code)))
            med = statistics.median
            results[name] = {"warmViaNginxMs": med(w), "warmProgramWallMs": med(wwall),
                             "coldViaNginxMs": med(c), "coldProgramWallMs": med(cwall),
                             "bareSubprocessMs": med(base), "warmOverBare": med(w) / med(base),
                             "coldOverBare": med(c) / med(base)}
        results["throughputWarm"] = wrk(warm.port)
        results["throughputCold"] = wrk(cold.port)
    finally:
        warm.stop()
        cold.stop()
    setup = subprocess.run([PYEXECD, "bench-setup", "200", "--mode", "cold", "--state-dir", tempfile.mkdtemp(dir="/run")],
                           capture_output=True, text=True)
    results["sandboxSetup"] = json.loads(setup.stdout) if setup.returncode == 0 else setup.stderr
    print(json.dumps(results, indent=2))
    print()
    print("| program | warm via nginx (ms) | cold via nginx (ms) | bare python3 -c (ms) | warm/bare | cold/bare |")
    print("|---|---|---|---|---|---|")
    for name in PROGRAMS:
        r = results[name]
        print(f"| {name} | {r['warmViaNginxMs']:.1f} | {r['coldViaNginxMs']:.1f} | {r['bareSubprocessMs']:.1f} "
              f"| {r['warmOverBare']:.2f} | {r['coldOverBare']:.2f} |")


def wrk(port):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write('wrk.method = "POST"\nwrk.body = \'{"code": "print(1)"}\'\n'
                 'wrk.headers["Content-Type"] = "application/json"\n')
    script.close()
    out = subprocess.run(["wrk", "-t2", "-c4", "-d10s", "--latency", "-s", script.name, f"http://127.0.0.1:{port}/run"],
                         capture_output=True, text=True, timeout=60)
    os.unlink(script.name)
    lines = [l.strip() for l in out.stdout.splitlines() if "Requests/sec" in l or "50%" in l or "99%" in l or "Non-2xx" in l]
    return lines


if __name__ == "__main__":
    main()
