"""Wall-clock expectations of the suites on a slower machine.

PYEXEC_TIME_SCALE (default 1) says how many times slower this machine runs
a process than the one the suites' bounds were written for; the cgroup v2
suite sets it in its emulated guest from a calibration run
(tests/cgroup_v2/calibrate.py). Waits and time bounds are multiplied by it,
so a slow machine gets longer, never fewer, checks."""
import os


def _scale():
    try:
        return max(1.0, float(os.environ.get("PYEXEC_TIME_SCALE", "1")))
    except ValueError:
        return 1.0


SCALE = _scale()


def scaled(value):
    """A duration (any unit) stretched by SCALE."""
    return value * SCALE


def budget_ms(ms):
    """A timeoutMs that a test expects its program to finish within (not one
    whose expiry it tests), stretched by SCALE. The service's largest
    timeoutMs is stretched alike (tests/lib/service.py), so 10000 stays valid."""
    return round(ms * SCALE)
