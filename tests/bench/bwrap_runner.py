"""The baseline of `make bench`: the nearest off-the-shelf alternative to
pyexec. A small threaded HTTP service that runs each program in a fresh
bubblewrap sandbox, one `bwrap` + `/usr/bin/python3 -c` process per run, in
a cgroup of its own with pyexec's limits (0.5 CPU, 256 MiB without swap, 50
pids). It answers {"status", "stdout", "stderr", "exitCode"}.

Benchmark use only: it has no tests, no output caps and no seccomp profile.
Like pyexecd, a run's process moves itself into its v1 cgroups by writing
"0" to `tasks` (the cheap way); on v2 it writes its pid to cgroup.procs.

usage: bwrap_runner.py PORT
"""
import http.server
import itertools
import json
import os
import shutil
import subprocess
import sys
import time

PY = "/usr/bin/python3"
CPU_QUOTA_US, CPU_PERIOD_US = 50000, 100000
MEMORY = 256 << 20
PIDS = 50

BWRAP = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
         "--uid", "1000", "--gid", "1000",
         "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
         "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
         "--ro-bind", "/etc/alternatives", "/etc/alternatives",
         "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/tmp",
         "--setenv", "HOME", "/tmp", "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1"]


def own_cgroups():
    """{controller: our cgroup folder} for cpu, memory and pids (v1), or {"v2": folder}."""
    out = {}
    for line in open("/proc/self/cgroup").read().splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(","):
            if c in ("cpu", "memory", "pids"):
                mount = os.path.join("/sys/fs/cgroup", ctrls)
                if not os.path.isdir(mount):
                    mount = os.path.join("/sys/fs/cgroup", c)
                out[c] = mount + path
    if len(out) == 3:
        return out
    for line in open("/proc/self/cgroup").read().splitlines():
        if line.startswith("0::"):
            return {"v2": "/sys/fs/cgroup" + line[3:]}
    raise SystemExit("bwrap_runner: no cpu, memory and pids cgroups")


class Cgroups:
    def __init__(self):
        own = own_cgroups()
        self.v2 = "v2" in own
        self.bases = {}
        for ctrl, d in own.items():
            base = os.path.join(d, f"pyexec-bench-{os.getpid()}")
            os.makedirs(base, exist_ok=True)
            self.bases[ctrl] = base
        if self.v2:  # our own cgroup must be free of processes to delegate; not the case here usually
            with open(os.path.join(self.bases["v2"], "cgroup.subtree_control"), "w") as f:
                f.write("+cpu +memory +pids")
        self.counter = itertools.count()

    def create(self):
        n = next(self.counter)
        dirs = {c: os.path.join(b, f"run-{n}") for c, b in self.bases.items()}
        for d in dirs.values():
            os.mkdir(d)
        if self.v2:
            d = dirs["v2"]
            write(d, "cpu.max", f"{CPU_QUOTA_US} {CPU_PERIOD_US}")
            write(d, "memory.max", str(MEMORY))
            write(d, "memory.swap.max", "0", optional=True)
            write(d, "pids.max", str(PIDS))
            joins = [os.path.join(d, "cgroup.procs")]
        else:
            write(dirs["cpu"], "cpu.cfs_period_us", str(CPU_PERIOD_US))
            write(dirs["cpu"], "cpu.cfs_quota_us", str(CPU_QUOTA_US))
            write(dirs["memory"], "memory.limit_in_bytes", str(MEMORY))
            write(dirs["memory"], "memory.memsw.limit_in_bytes", str(MEMORY), optional=True)
            write(dirs["pids"], "pids.max", str(PIDS))
            joins = [os.path.join(dirs[c], "tasks") for c in ("memory", "pids", "cpu")]
        return list(dirs.values()), joins

    def remove(self, dirs):
        for d in dirs:
            for _ in range(200):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    for pid in open(os.path.join(d, "cgroup.procs")).read().split():
                        try:
                            os.kill(int(pid), 9)
                        except OSError:
                            pass
                    time.sleep(0.005)

    def remove_all(self):
        for b in self.bases.values():
            for name in os.listdir(b):
                if name.startswith("run-"):
                    self.remove([os.path.join(b, name)])
            try:
                os.rmdir(b)
            except OSError:
                pass


def write(d, name, value, optional=False):
    try:
        with open(os.path.join(d, name), "w") as f:
            f.write(value)
    except FileNotFoundError:
        if not optional:
            raise


CGROUPS = None


def run(code, stdin):
    dirs, joins = CGROUPS.create()
    # sh, single-threaded, moves itself into the run's cgroups, then execs bwrap.
    join = " && ".join(f"echo 0 > {j}" for j in joins) if not CGROUPS.v2 else \
        " && ".join(f"echo $$ > {j}" for j in joins)
    cmd = ["/bin/sh", "-c", join + ' && exec "$@"', "sh", *BWRAP, PY, "-c", code]
    try:
        p = subprocess.run(cmd, input=stdin.encode(), capture_output=True, timeout=10)
        out = {"status": "ok" if p.returncode == 0 else "error", "exitCode": p.returncode,
               "stdout": p.stdout.decode("utf-8", "replace"), "stderr": p.stderr.decode("utf-8", "replace")}
    except subprocess.TimeoutExpired:
        out = {"status": "timeout", "exitCode": None, "stdout": "", "stderr": ""}
    CGROUPS.remove(dirs)
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        data = json.dumps(run(body["code"], body.get("stdin", ""))).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the load generator hung up when its time was over

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main():
    global CGROUPS
    if shutil.which("bwrap") is None:
        raise SystemExit("bwrap_runner: bwrap is not installed (Debian package bubblewrap)")
    CGROUPS = Cgroups()
    server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        CGROUPS.remove_all()


def stop(*_):
    raise KeyboardInterrupt


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, stop)
    main()
