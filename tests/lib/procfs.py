"""What /proc says about the processes of our pyexecd, for the suites that
look at sandboxes from the host (security, lifecycle)."""
import os

# The read(2) syscall number, for /proc/<pid>/syscall.
READ_SYSCALL = {"x86_64": 0, "aarch64": 63}.get(os.uname().machine, 0)


def read(path, mode="r"):
    """The file's contents, or None."""
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def status_field(pid, field):
    """A /proc/<pid>/status field split into words, or None."""
    text = read(f"/proc/{pid}/status") or ""
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].split()
    return None


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def is_waiting_for_input(pid):
    """The program of a prepared sandbox: blocked in read(3, ...), the
    harness input it has not been given yet, so it has run no user code."""
    fields = (read(f"/proc/{pid}/syscall") or "").split()
    return len(fields) >= 2 and fields[0] == str(READ_SYSCALL) and int(fields[1], 16) == 3


def same_pid_namespace(a, b):
    try:
        return os.readlink(f"/proc/{a}/ns/pid") == os.readlink(f"/proc/{b}/ns/pid")
    except OSError:
        return False


def is_sandbox_init(pid):
    """pid 1 of its own pid namespace."""
    return (status_field(pid, "NSpid") or ["?"])[-1] == "1"


def prepared_program(init):
    """The program of init's sandbox if it is prepared (waiting for its
    input), else None."""
    for pid in all_pids():
        if pid != init and same_pid_namespace(init, pid) and is_waiting_for_input(pid):
            return pid
    return None


def stat_fields(pid):
    """/proc/<pid>/stat as {field number: text} (numbered as in proc(5),
    from 3 on: comm may hold spaces), or None once the process is gone."""
    text = read(f"/proc/{pid}/stat")
    if not text:
        return None
    rest = text.rsplit(")", 1)[1].split()
    return {i + 3: v for i, v in enumerate(rest)}


def children(pid):
    """Host pids whose parent is pid."""
    out = []
    for p in all_pids():
        ppid = status_field(p, "PPid")
        if ppid and int(ppid[0]) == pid:
            out.append(p)
    return out


def comm(pid):
    return (read(f"/proc/{pid}/comm") or "").strip()


# ioprio_get(2) has no /proc file; IOPRIO_WHO_PROCESS is 1.
_IOPRIO_GET = {"x86_64": 252, "aarch64": 31}.get(os.uname().machine)


def ioprio(pid):
    """The I/O priority of pid (class << 13 | level; 0 when never set), or
    None when it cannot be read."""
    import ctypes
    if _IOPRIO_GET is None:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    value = libc.syscall(ctypes.c_long(_IOPRIO_GET), ctypes.c_long(1), ctypes.c_long(pid))
    return None if value < 0 else int(value)


def scheduling(pid):
    """What a process's priority is made of, as the host sees it: state
    letter, nice, scheduling policy, I/O priority and its autogroup line
    (the autogroup is per session, and so is its nice). None once gone."""
    st = stat_fields(pid)
    if st is None:
        return None
    return {"state": st[3], "nice": int(st[19]), "policy": int(st[41]), "ioprio": ioprio(pid),
            "autogroup": (read(f"/proc/{pid}/autogroup") or "").strip()}
