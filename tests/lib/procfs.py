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
