"""How much slower this machine is than the host, for PYEXEC_TIME_SCALE.

    calibrate.py                 prints the host's figure (seconds)
    calibrate.py --scale FIGURE  prints this machine's figure / FIGURE
                                 (at least 1, one decimal, rounded up)

The work is a fresh interpreter that imports a few modules and does some
arithmetic: process start, dynamic loading, file reads and Python code,
what the suites' wall-clock expectations are made of. The host's figure is
the CPU time that work takes there (the least of a few runs): what it would
take on an idle host, since the host is shared and its wall time depends on
the other sessions' load. The guest's figure is its wall time (the least of
a few runs): emulation (TCG) and the host's load now both make it longer,
and the suites have to allow for both. The suites multiply their waits and
time bounds by the ratio (tests/lib/timescale.py) instead of checking less."""
import math
import os
import subprocess
import sys
import time

WORK = "import json, ctypes, subprocess\ns = sum(i * i for i in range(300000))\n"


def one_run():
    """(wall seconds, CPU seconds) of one run of WORK."""
    t = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", WORK])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"calibrate: the work failed with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def figure(measure, runs=7):
    one_run()  # warm the page cache first
    return min(one_run()[measure] for _ in range(runs))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--scale":
        ratio = figure(0) / float(sys.argv[2])
        print(f"{max(1.0, math.ceil(ratio * 10) / 10):.1f}")
    else:
        print(f"{figure(1):.4f}")


if __name__ == "__main__":
    main()
