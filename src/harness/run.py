# pyexec harness, part 3 of 3 (after harness.py and exercise.py): the run.
# The program runs from this module-level frame: its stack has this frame and
# exec() below its own, so RecursionError comes two levels earlier than in
# `python3 main.py` (sys.getrecursionlimit() is left as Python sets it).

_pyexec_BaseException = BaseException
try:
    _pyexec_H, _pyexec_code, _pyexec_syntax = _pyexec_setup(_pyexec_builtins_module)
except _pyexec_BaseException as _pyexec_e:
    import os as _pyexec_os
    _pyexec_os.write(2, ("pyexec harness: set-up failed: %r\n" % (_pyexec_e,)).encode("utf-8", "replace"))
    _pyexec_os._exit(_PYEXEC_HARNESS_FAILED)
del _pyexec_builtins_module
if _pyexec_syntax is not None:
    _pyexec_H["syntax"] = True
    _pyexec_finish(_pyexec_H, _pyexec_syntax)
_pyexec_g = _pyexec_H["g"]
try:
    exec(_pyexec_code, _pyexec_g)
except _pyexec_BaseException as _pyexec_e:
    _pyexec_finish(_pyexec_H, _pyexec_e)
_pyexec_finish(_pyexec_H, None)
