"""How much slower this machine is than the host, for PYEXEC_TIME_SCALE.

    calibrate.py                 prints the host's figure (seconds)
    calibrate.py --scale FIGURE  prints this machine's figure / FIGURE
                                 (at least 1, one decimal, rounded up)

The figure is the shortest wall time of a few runs of a fresh interpreter
that imports a few modules and does some arithmetic: process start,
dynamic loading, file reads and Python code, what the suites' wall-clock
expectations are made of. Under emulation (TCG) it is many times the
host's; the suites multiply their waits and time bounds by the ratio
(tests/lib/timescale.py) instead of checking less."""
import math
import subprocess
import sys
import time

WORK = "import json, ctypes, subprocess\ns = sum(i * i for i in range(300000))\n"


def figure(runs=7):
    times = []
    subprocess.run([sys.executable, "-c", WORK], check=True)  # warm the page cache first
    for _ in range(runs):
        t = time.monotonic()
        subprocess.run([sys.executable, "-c", WORK], check=True)
        times.append(time.monotonic() - t)
    return min(times)  # the least disturbed by other load


def main():
    here = figure()
    if len(sys.argv) == 3 and sys.argv[1] == "--scale":
        ratio = here / float(sys.argv[2])
        print(f"{max(1.0, math.ceil(ratio * 10) / 10):.1f}")
    else:
        print(f"{here:.4f}")


if __name__ == "__main__":
    main()
