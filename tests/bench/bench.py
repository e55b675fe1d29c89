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


def main():
    results = {}
    svc = Service(workers=2)
    try:
        for name, code in PROGRAMS.items():
            svc.run(code, timeoutMs=10000)  # warm the page cache for both sides
            bare(code)
            via, inner, base = [], [], []
            for _ in range(RUNS[name]):  # interleaved, so both see the same machine
                r = {}
                via.append(ms(lambda: r.update(svc.run(code, timeoutMs=10000)[1])))
                assert r["status"] == "ok", r
                inner.append(r["executionTimeMs"])
                base.append(ms(lambda: bare(code)))
            results[name] = {"pyexecViaNginxMs": statistics.median(via), "programWallMs": statistics.median(inner),
                             "bareSubprocessMs": statistics.median(base),
                             "ratio": statistics.median(via) / statistics.median(base)}
        results["throughput"] = wrk(svc.port)
    finally:
        svc.stop()
    setup = subprocess.run([PYEXECD, "bench-setup", "200", "--state-dir", tempfile.mkdtemp(dir="/run")],
                           capture_output=True, text=True)
    results["sandboxSetup"] = json.loads(setup.stdout) if setup.returncode == 0 else setup.stderr
    print(json.dumps(results, indent=2))
    print()
    print("| program | pyexec via nginx (median ms) | program wall (ms) | bare python3 -c (ms) | ratio |")
    print("|---|---|---|---|---|")
    for name in PROGRAMS:
        r = results[name]
        print(f"| {name} | {r['pyexecViaNginxMs']:.1f} | {r['programWallMs']:.1f} | {r['bareSubprocessMs']:.1f} | {r['ratio']:.2f} |")


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
