"""The README's curl examples, sent to the real service: what a newcomer
copies must work as the README says."""
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from service import ROOT, Service  # noqa: E402

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
BODIES = re.findall(r"curl -s localhost:8080/run(?: -H '[^']*')? -d '(\{.*?\})'", README, re.S)

svc = None


def setUpModule():
    global svc
    svc = Service(workers=1)


def tearDownModule():
    svc.stop()


class ReadmeExamples(unittest.TestCase):
    def test_examples_are_found(self):
        self.assertGreaterEqual(len(BODIES), 4, "the README's /run examples were not found")

    def test_every_run_example_runs(self):
        for body in BODIES:
            status, _, data = svc.request("POST", "/run", body)
            self.assertEqual(status, 200, (body, data))
            r = json.loads(data)
            # Examples show passing tests, except the one that shows a traceback.
            if r["testResults"]:
                self.assertTrue(r["allPassed"], (body, r["testResults"]))
            elif "a / b" not in body:
                self.assertEqual(r["status"], "ok", (body, r))

    def test_hello_world_example_answers_as_shown(self):
        status, r = svc.run('print("Hello, World!")',
                            [{"type": "output", "expected": "Hello, World!", "description": "Should print Hello, World!"}])
        self.assertEqual(r["testResults"], [{"type": "output", "description": "Should print Hello, World!",
                                             "passed": True, "expected": "Hello, World!", "actual": "Hello, World!"}])


if __name__ == "__main__":
    import pyunit
    pyunit.main("readme", globals())
