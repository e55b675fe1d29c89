"""The harness's source as pyexecd embeds it: its three parts joined in the
order of the Makefile's HARNESS_PY."""
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PARTS = ("harness.py", "exercise.py", "run.py")


def harness_source():
    text = []
    for part in PARTS:
        with open(os.path.join(ROOT, "src", "harness", part), encoding="ascii") as f:
            text.append(f.read())
    return "".join(text)
