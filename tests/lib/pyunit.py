"""Runs a Python unittest suite and ends with one line
"<suite>: N passed, N failed, N skipped" that tests/run_all.sh adds up.
A skip must say why (unittest prints the reason) and is counted."""
import sys
import unittest


class _Result(unittest.TextTestResult):
    pass


def main(suite_name, module_globals):
    import os
    if os.environ.get("PYEXEC_TEST_MODE") == "cold":
        suite_name += "-cold"
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    # Optional arguments pick tests: `Class` or `Class.test_name` (to rerun one).
    wanted = sys.argv[1:]
    for obj in list(module_globals.values()):
        if isinstance(obj, type) and issubclass(obj, unittest.TestCase):
            for test in loader.loadTestsFromTestCase(obj):
                name = f"{type(test).__name__}.{test._testMethodName}"
                if not wanted or any(name == w or name.startswith(w + ".") for w in wanted):
                    suite.addTest(test)
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout, resultclass=_Result)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = max(0, result.testsRun - failed - skipped)
    for test, reason in result.skipped:
        print(f"SKIP {test.id()}: {reason}")
    print(f"{suite_name}: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)
