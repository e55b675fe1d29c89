"""Security suite, part 1: S1 (identity and privileges), the seccomp deny list
of SPEC §5, S2 (network) and S3 (filesystem). Every test sends an attack
through POST /run and asserts that it failed, and for what reason."""
import errno
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack  # noqa: E402
from attack import SECRET, Service, attack as run_attack, sandbox_ids  # noqa: E402

svc = None
EPERM, ENOSYS = errno.EPERM, errno.ENOSYS


def setUpModule():
    global svc
    svc = Service(workers=4)


def tearDownModule():
    svc.stop()


def literals(**values):
    return "".join(f"{k} = {v!r}\n" for k, v in values.items())


# --------------------------------------------------------------------- S1

class S1Identity(unittest.TestCase):
    STATUS = r'''
def status_of(text):
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out
import subprocess
me = status_of(open("/proc/self/status").read())
child = status_of(subprocess.run([_sys.executable, "-c", "print(open('/proc/self/status').read())"],
                                 capture_output=True, text=True).stdout)
attempts = {}
for name, call in [("setuid", lambda: _os.setuid(0)), ("setgid", lambda: _os.setgid(0)),
                   ("seteuid", lambda: _os.seteuid(0)), ("setresuid", lambda: _os.setresuid(0, 0, 0)),
                   ("setgroups", lambda: _os.setgroups([0])), ("setuid_nobody", lambda: _os.setuid(65534))]:
    try:
        call()
        attempts[name] = "succeeded"
    except OSError as e:
        attempts[name] = e.errno
report({"me": me, "child": child, "attempts": attempts, "ids": [_os.getuid(), _os.geteuid(), _os.getgid(),
        _os.getegid(), _os.getgroups()]})
'''

    def check_status(self, st, who):
        uids, gids = sandbox_ids(svc)
        self.assertTrue(len(set(st["Uid"])) == 1 and int(st["Uid"][0]) in uids, f"{who}: Uid {st['Uid']}")
        self.assertTrue(len(set(st["Gid"])) == 1 and int(st["Gid"][0]) in gids, f"{who}: Gid {st['Gid']}")
        self.assertEqual(st["Groups"], [], who)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(int(st[cap][0], 16), 0, f"{who}: {cap} = {st[cap]}")
        self.assertEqual(st["NoNewPrivs"], ["1"], who)
        self.assertEqual(st["Seccomp"], ["2"], who)

    def test_status_uid_caps_nonewprivs_seccomp(self):
        r, d = run_attack(self, svc, self.STATUS)
        self.check_status(d["me"], "the program")
        self.check_status(d["child"], "a child process of the program")
        uid, euid, gid, egid, groups = d["ids"]
        self.assertEqual((euid, egid, groups), (uid, gid, []))
        self.assertIn(uid, sandbox_ids(svc)[0])
        self.assertIn(gid, sandbox_ids(svc)[1])

    def test_cannot_become_root(self):
        r, d = run_attack(self, svc, self.STATUS)
        for name, result in d["attempts"].items():
            self.assertEqual(result, EPERM, f"{name}: {result}")


# ---------------------------------------------------------------- seccomp

# name: (syscall number, arguments...). Where possible the arguments are
# chosen so that, were the call to reach the kernel, it would fail with an
# errno other than EPERM (EFAULT, EBADF, EINVAL, ESRCH) or succeed: EPERM then
# means the seccomp filter stopped it.
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x2000000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
BAD = 1  # an address that is never mapped
DENIED = {
    "ptrace": (101, 2, 1 << 30, 0, 0),                        # PTRACE_PEEKDATA, no such pid: ESRCH
    "process_vm_readv": (310, 0, 0, 0, 0, 0, 0),              # own pid below, nothing to copy: 0
    "process_vm_writev": (311, 0, 0, 0, 0, 0, 0),
    "mount": (165, BAD, BAD, BAD, 0, 0),                      # EFAULT
    "umount2": (166, BAD, 0x7fffff00),                        # bad flags: EINVAL
    "pivot_root": (155, BAD, BAD),
    "chroot": (161, BAD),                                     # EFAULT
    "unshare_newuser": (272, CLONE_NEWUSER),                  # would succeed (unprivileged user ns)
    "unshare_newnet": (272, CLONE_NEWNET),
    "unshare_newuser_newnet": (272, CLONE_NEWUSER | CLONE_NEWNET),
    "unshare_newns": (272, CLONE_NEWNS),
    "setns": (308, -1, 0),                                    # EBADF
    "keyctl": (250, 0, -3, 0, 0, 0),                          # KEYCTL_GET_KEYRING_ID: would succeed
    "add_key": (248, BAD, BAD, 0, 0, -3),                     # EFAULT
    "request_key": (249, BAD, BAD, 0, -3),                    # EFAULT
    "bpf": (321, 0, BAD, 64),
    "perf_event_open": (298, BAD, 0, -1, -1, 0),              # EFAULT
    "userfaultfd": (323, 0),                                  # would succeed or EPERM by sysctl
    "io_uring_setup": (425, 1, BAD),                          # EFAULT
    "io_uring_enter": (426, -1, 0, 0, 0, 0, 0),               # EBADF
    "io_uring_register": (427, -1, 0, 0, 0),                  # EBADF
    "kexec_load": (246, 0, 0, 0, 0),
    "kexec_file_load": (320, -1, -1, 0, 0, 0),
    "init_module": (175, BAD, 0, BAD),
    "finit_module": (313, -1, BAD, 0),
    "delete_module": (176, BAD, 0),
    "reboot": (169, 0, 0, 0, 0),                              # bad magic: EINVAL after the cap check
    "swapon": (167, BAD, 0),
    "swapoff": (168, BAD),
    "acct": (163, 0),
    "quotactl": (179, 0, BAD, 0, 0),
    "syslog": (103, 10, 0, 0),                                # SYSLOG_ACTION_SIZE_BUFFER
    "personality_per_linux32": (135, 0x0008),                 # would succeed
    "personality_addr_no_randomize": (135, 0x0040000),       # would succeed
    "personality_read_implies_exec": (135, 0x0400000),       # would succeed
    "socket_af_inet": (41, 2, 1, 0),                          # would succeed
    "socket_af_inet_dgram": (41, 2, 2, 0),
    "socket_af_inet6": (41, 10, 1, 0),
    "socket_af_netlink": (41, 16, 3, 0),
    "socket_af_packet": (41, 17, 3, 0x300),
    "socket_af_alg": (41, 38, 5, 0),
    "socket_af_vsock": (41, 40, 1, 0),
    "socket_af_key": (41, 15, 3, 2),
    "socket_af_xdp": (41, 44, 3, 0),
    "socketpair_af_inet": (53, 2, 1, 0, BAD),
    "clone_newuser": ("clone", CLONE_NEWUSER),                # raw clone(2) with namespace flags
    "clone_newuser_newns": ("clone", CLONE_NEWUSER | CLONE_NEWNS),
    "clone_newuser_newpid": ("clone", CLONE_NEWUSER | CLONE_NEWPID),
    "clone_newuser_newnet": ("clone", CLONE_NEWUSER | CLONE_NEWNET),
    "clone_newuser_newuts": ("clone", CLONE_NEWUSER | CLONE_NEWUTS),
    "clone_newuser_newipc": ("clone", CLONE_NEWUSER | CLONE_NEWIPC),
    "clone_newuser_newcgroup": ("clone", CLONE_NEWUSER | CLONE_NEWCGROUP),
    "clone_newns_high_bits": ("clone", (1 << 32) | CLONE_NEWUSER | CLONE_NEWNS),
}
NOT_IMPLEMENTED = {"clone3": (435, 0, 0)}  # ENOSYS, so that libc falls back to clone
ALLOWED = {  # controls in the same program: the filter must not deny everything
    "getpid": (39,),
    "personality_query": (135, 0xFFFFFFFF),
    "personality_default": (135, 0),
    "socket_af_unix": (41, 1, 1, 0),
    "clone_plain": ("clone", 0),                              # a fork
}

SYSCALL_PROBE = r'''
SIGCHLD = 17
def try_clone(flags):
    r = sc(56, flags | SIGCHLD, 0, 0, 0, 0)
    if r[0] == 0:
        _os._exit(0)  # the child of a clone that happened: leave at once
    if r[0] > 0:
        _os.waitpid(r[0], 0)
    return r
def probe(args):
    if args[0] == "clone":
        return try_clone(args[1])
    if args[0] in (310, 311):  # process_vm_*: at our own pid, with nothing to copy
        args = (args[0], _os.getpid()) + tuple(args[2:])
    return sc(*args)
results = {}
for table in (DENIED, NOT_IMPLEMENTED, ALLOWED):
    for name, args in table.items():
        results[name] = probe(tuple(args))
report(results)
'''

# An i386 system call through int 0x80 (getpid, 20) and an x32 one
# (socket | __X32_SYSCALL_BIT): run in a child process inside the sandbox,
# which the filter may kill with SIGSYS.
FOREIGN_ABI = r'''
import subprocess
INT80 = """
import ctypes, mmap
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3]))  # mov eax, 20; int 0x80; ret
f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
print("RESULT", f())
"""
X32 = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
r = libc.syscall(ctypes.c_long(0x40000000 | 41), 2, 1, 0)
print("RESULT", r, ctypes.get_errno())
r = libc.syscall(ctypes.c_long(0x40000000 | 39))
print("GETPID", r, ctypes.get_errno())
"""
out = {}
for name, src in (("int80", INT80), ("x32", X32)):
    p = subprocess.run([_sys.executable, "-c", src], capture_output=True, text=True, timeout=10)
    out[name] = [p.returncode, p.stdout, p.stderr[-500:]]
out["control_pid"] = _os.getpid()
report(out)
'''


class Seccomp(unittest.TestCase):
    results = None

    @classmethod
    def setUpClass(cls):
        code = literals(DENIED=DENIED, NOT_IMPLEMENTED=NOT_IMPLEMENTED, ALLOWED=ALLOWED) + SYSCALL_PROBE
        cls.response, cls.results = run_attack(cls(), svc, code, timeout_ms=10000)

    def check_denied(self, name):
        ret, err = self.results[name]
        self.assertEqual((ret, err), (-1, EPERM), f"{name} was not denied with EPERM (got ret={ret}, "
                                                  f"errno={errno.errorcode.get(err, err)})")

    def test_clone3_enosys(self):
        self.assertEqual(self.results["clone3"], [-1, ENOSYS])

    def test_controls_allowed(self):
        self.assertGreater(self.results["getpid"][0], 0)
        self.assertEqual(self.results["personality_query"][1], 0)
        self.assertGreaterEqual(self.results["personality_query"][0], 0)
        self.assertEqual(self.results["personality_default"], [0, 0])
        self.assertGreaterEqual(self.results["socket_af_unix"][0], 0, self.results["socket_af_unix"])
        self.assertGreater(self.results["clone_plain"][0], 0, self.results["clone_plain"])

    def test_x86_and_x32_abis_unusable(self):
        r, d = run_attack(self, svc, FOREIGN_ABI, timeout_ms=10000)
        rc, out, err = d["int80"]
        if rc == 0:  # the call returned: it must have failed, not given a pid
            value = int(out.split()[1])
            self.assertLess(value, 0, f"int 0x80 getpid returned {value}: the i386 ABI is usable")
        else:
            self.assertIn(rc, (-31, -11), f"int 0x80: unexpected end {rc} {err!r}")  # SIGSYS (or SIGSEGV)
        rc, out, err = d["x32"]
        if rc == 0:
            lines = dict(ln.split(None, 1) for ln in out.splitlines())
            ret, eno = map(int, lines["RESULT"].split())
            self.assertEqual(ret, -1, "an x32 socket(AF_INET) call succeeded")
            self.assertEqual(int(lines["GETPID"].split()[0]), -1, "an x32 getpid call succeeded")
        else:
            self.assertEqual(rc, -31, f"x32: unexpected end {rc} {err!r}")  # SIGSYS


def _denied_test(name):
    def test(self):
        self.check_denied(name)
    test.__doc__ = f"{name} {DENIED[name]} fails with EPERM"
    return test


for _name in DENIED:
    setattr(Seccomp, f"test_denied_{_name}", _denied_test(_name))


# --------------------------------------------------------------------- S2

class S2Network(unittest.TestCase):
    def test_nginx_port_unreachable(self):
        code = literals(PORT=svc.port) + r'''
import socket, time
out = {}
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    t = time.monotonic()
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect((host, PORT))
        out[host] = ["connected", time.monotonic() - t]
    except OSError as e:
        out[host] = [e.errno, time.monotonic() - t]
try:
    socket.create_connection(("localhost", PORT), timeout=2)
    out["localhost"] = "connected"
except OSError as e:
    out["localhost"] = e.errno
report(out)
'''
        r, d = run_attack(self, svc, code)
        for host in ("127.0.0.1", "::1"):
            self.assertEqual(d[host][0], EPERM, f"{host}:{svc.port}: {d[host]}")
            self.assertLess(d[host][1], 1.0)
        self.assertNotEqual(d["localhost"], "connected")

    def test_fastcgi_socket_unreachable(self):
        code = literals(SOCK=svc.socket, STATE=svc.state) + r'''
import socket
out = {"exists": _os.path.exists(SOCK), "state_exists": _os.path.exists(STATE)}
for kind, name in ((socket.SOCK_STREAM, "stream"), (socket.SOCK_DGRAM, "dgram"), (socket.SOCK_SEQPACKET, "seq")):
    s = socket.socket(socket.AF_UNIX, kind)
    try:
        s.connect(SOCK)
        out[name] = "connected"
    except OSError as e:
        out[name] = e.errno
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    d.sendto(b"x", SOCK)
    out["sendto"] = "sent"
except OSError as e:
    out["sendto"] = e.errno
try:
    d.sendto(b"x", "\0pyexecd")  # an abstract name
    out["abstract"] = "sent"
except OSError as e:
    out["abstract"] = e.errno
report(out)
'''
        r, d = run_attack(self, svc, code)
        self.assertFalse(d["exists"], "the FastCGI socket path exists in the sandbox")
        self.assertFalse(d["state_exists"], "pyexecd's state folder exists in the sandbox")
        for k in ("stream", "dgram", "seq", "sendto", "abstract"):
            self.assertIsInstance(d[k], int, f"{k}: {d[k]}")

    def test_internet_unreachable(self):
        # socket() itself is denied, so nothing is ever sent off the machine.
        code = r'''
import socket, time
out = {}
for name, fam, kind, addr in (("dns", socket.AF_INET, socket.SOCK_DGRAM, ("1.1.1.1", 53)),
                              ("http", socket.AF_INET, socket.SOCK_STREAM, ("8.8.8.8", 80)),
                              ("http6", socket.AF_INET6, socket.SOCK_STREAM, ("2001:4860:4860::8888", 80))):
    t = time.monotonic()
    try:
        s = socket.socket(fam, kind)
        out[name] = ["socket created", 0]
    except OSError as e:
        out[name] = [e.errno, time.monotonic() - t]
report(out)
'''
        r, d = run_attack(self, svc, code)
        for name, (err, secs) in d.items():
            self.assertEqual(err, EPERM, f"{name}: {err}")
            self.assertLess(secs, 0.5)

    def test_dns_fails(self):
        code = r'''
import socket, time
out = {}
t = time.monotonic()
try:
    out["getaddrinfo"] = str(socket.getaddrinfo("example.com", 80))
except OSError as e:
    out["getaddrinfo"] = ["failed", type(e).__name__, str(e)]
try:
    out["gethostbyname"] = socket.gethostbyname("one.one.one.one")
except OSError as e:
    out["gethostbyname"] = ["failed", type(e).__name__]
out["secs"] = time.monotonic() - t
out["resolv"] = _os.path.exists("/etc/resolv.conf") and open("/etc/resolv.conf").read()
report(out)
'''
        r, d = run_attack(self, svc, code)
        self.assertEqual(d["getaddrinfo"][0], "failed", d)
        self.assertEqual(d["gethostbyname"][0], "failed", d)
        self.assertLess(d["secs"], 5)

    def test_only_loopback_interface(self):
        code = literals(SOCK=svc.socket) + r'''
out = {"dev": open("/proc/net/dev").read()}
for f in ("tcp", "tcp6", "udp", "udp6", "unix"):
    try:
        out[f] = open("/proc/net/" + f).read()
    except OSError as e:
        out[f] = ""
out["sys_net"] = _os.listdir("/sys/class/net") if _os.path.isdir("/sys/class/net") else None
report(out)
'''
        r, d = run_attack(self, svc, code)
        ifaces = [ln.split(":")[0].strip() for ln in d["dev"].splitlines()[2:] if ":" in ln]
        self.assertEqual(ifaces, ["lo"])
        if d["sys_net"] is not None:
            self.assertEqual(d["sys_net"], ["lo"])
        port_hex = f":{svc.port:04X} "
        self.assertNotIn(port_hex, d["tcp"] + d["tcp6"], "the host's nginx socket is visible: not a private netns")
        self.assertNotIn(svc.socket, d["unix"], "the host's FastCGI socket is listed in /proc/net/unix")


# --------------------------------------------------------------------- S3

class S3Filesystem(unittest.TestCase):
    def test_readonly_outside_tmp(self):
        name = attack.unique()
        code = literals(NAME=name) + r'''
out = {}
for d in ("/", "/etc", "/usr", "/usr/lib/python3", "/usr/bin", "/bin", "/lib", "/dev", "/proc", "/etc/python3"):
    p = _os.path.join(d, NAME)
    try:
        with open(p, "w") as f:
            f.write("x")
        out[p] = "written"
    except OSError as e:
        out[p] = e.errno
    try:
        _os.mkdir(p + ".d")
        out[p + ".d"] = "created"
    except OSError as e:
        out[p + ".d"] = e.errno
for p in ("/proc/sys/kernel/hostname", "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches", "/etc/passwd",
          "/usr/lib/python3/dist-packages/numpy/__init__.py", "/proc/1/oom_score_adj", "/proc/self/oom_score_adj"):
    try:
        with open(p, "w") as f:
            f.write("-1000\n" if "oom" in p else "pwned\n")
        out[p] = "written"
    except OSError as e:
        out[p] = e.errno
for src, dst in (("/etc/passwd", "/etc/passwd.old"), ("/usr/bin/true", "/usr/bin/true.old")):
    try:
        _os.rename(src, dst)
        out["rename " + src] = "moved"
    except OSError as e:
        out["rename " + src] = e.errno
with open("/tmp/ok", "w") as f:  # the control: /tmp is writable
    f.write("fine")
out["tmp"] = open("/tmp/ok").read()
out["hostname"] = open("/proc/sys/kernel/hostname").read()
report(out)
'''
        r, d = run_attack(self, svc, code)
        self.assertEqual(d.pop("tmp"), "fine")
        d.pop("hostname")
        # Lowering its own oom_score_adj is refused too (needs CAP_SYS_RESOURCE): nothing may be written.
        for p, res in d.items():
            self.assertIsInstance(res, int, f"{p}: {res}")
            self.assertIn(res, (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT, errno.EBUSY), f"{p}: {res}")
        for host_dir in ("/", "/etc", "/usr", "/usr/lib/python3", "/usr/bin"):
            self.assertFalse(os.path.exists(os.path.join(host_dir, name)), f"{host_dir}/{name} exists on the host")

    def test_tmp_empty_private_and_mounted_safely(self):
        code = r'''
first = _os.listdir("/tmp")
mounts = {}
for line in open("/proc/self/mountinfo"):
    left, _, right = line.partition(" - ")
    f = left.split()
    mounts[f[4]] = [f[5], right.split()]
st = _os.statvfs("/tmp")
report({"first": first, "cwd": _os.getcwd(), "mounts": mounts, "size": st.f_blocks * st.f_frsize,
        "inodes": st.f_files})
'''
        r, d = run_attack(self, svc, code)
        self.assertEqual(d["first"], [], "/tmp is not empty at the start of a run")
        self.assertEqual(d["cwd"], "/tmp")
        opts, (fstype, _src, superopts) = d["mounts"]["/tmp"]
        self.assertEqual(fstype, "tmpfs")
        for flag in ("rw", "noexec", "nosuid", "nodev"):
            self.assertIn(flag, opts.split(","), f"/tmp is mounted {opts}")
        self.assertLessEqual(d["size"], 64 << 20)
        for mp, (opts, _) in d["mounts"].items():
            if mp != "/tmp" and not mp.startswith("/dev/") and mp != "/proc":
                self.assertIn("ro", opts.split(","), f"{mp} is writable: {opts}")
            if mp != "/proc" and not mp.startswith("/dev/"):
                self.assertIn("nosuid", opts.split(","), f"{mp} is not nosuid: {opts}")

    def test_tmp_size_limit(self):
        code = r'''
chunk = b"\xa5" * (1 << 20)
written, err = 0, None
try:
    with open("/tmp/big", "wb") as f:
        for i in range(100):
            written += f.write(chunk)
            f.flush()
except OSError as e:
    err = e.errno
report({"written": written, "errno": err, "size": _os.path.getsize("/tmp/big")})
'''
        r, d = run_attack(self, svc, code, timeout_ms=10000)
        self.assertIn(d["errno"], (errno.ENOSPC, errno.EFBIG),
                      f"a 100 MB write to /tmp ended with {d}: neither ENOSPC (tmpfs size) nor EFBIG (RLIMIT_FSIZE)")
        self.assertLessEqual(d["size"], 64 << 20, d)
        which = "ENOSPC (the 64 MiB tmpfs is full)" if d["errno"] == errno.ENOSPC else "EFBIG (RLIMIT_FSIZE 64 MiB)"
        print(f"\n  /tmp write stopped by {which} after {d['size']} bytes", end=" ")

    def test_no_exec_from_tmp(self):
        code = r'''
import shutil, subprocess, mmap
out = {}
shutil.copy("/usr/bin/true", "/tmp/true")
_os.chmod("/tmp/true", 0o755)
try:
    out["exec"] = subprocess.run(["/tmp/true"]).returncode
except OSError as e:
    out["exec"] = [type(e).__name__, e.errno]
with open("/tmp/script.sh", "w") as f:
    f.write("#!/bin/sh\necho ran\n")
_os.chmod("/tmp/script.sh", 0o755)
try:
    out["shebang"] = subprocess.run(["/tmp/script.sh"], capture_output=True, text=True).stdout
except OSError as e:
    out["shebang"] = [type(e).__name__, e.errno]
import glob
ld = (glob.glob("/lib64/ld-linux-x86-64.so.2") + glob.glob("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"))[0]
p = subprocess.run([ld, "/tmp/true"], capture_output=True, text=True)
out["ldso"] = [p.returncode, p.stderr[-300:]]
with open("/tmp/true", "rb") as f:
    try:
        mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC)
        out["mmap_exec"] = "mapped"
    except OSError as e:
        out["mmap_exec"] = e.errno
try:
    _os.execv("/tmp/true", ["/tmp/true"])
except OSError as e:
    out["execv"] = e.errno
report(out)
'''
        r, d = run_attack(self, svc, code)
        self.assertEqual(d["exec"], ["PermissionError", errno.EACCES], d)
        self.assertEqual(d["shebang"], ["PermissionError", errno.EACCES], d)
        self.assertEqual(d["execv"], errno.EACCES, d)
        self.assertNotEqual(d["ldso"][0], 0, f"the dynamic loader ran a binary from /tmp: {d['ldso']}")
        self.assertEqual(d["mmap_exec"], EPERM, d)

    def test_setuid_binaries_do_not_raise_privileges(self):
        host_suid = [p for p in ("/usr/bin/su", "/usr/bin/passwd", "/usr/bin/mount", "/usr/bin/chsh",
                                 "/usr/bin/newgrp", "/usr/bin/gpasswd", "/usr/bin/chfn", "/usr/bin/umount")
                     if os.path.exists(p) and os.stat(p).st_mode & 0o4000]
        self.assertTrue(host_suid, "no setuid binary on this host to attack with")
        code = literals(CANDIDATES=host_suid) + r'''
import subprocess, time, stat
out = {"seen": {}, "found": [p for p in CANDIDATES if _os.stat(p).st_mode & stat.S_ISUID]}
ARGS = {"/usr/bin/su": ["-c", "id -u"], "/usr/bin/mount": ["-t", "tmpfs", "x", "/tmp"],
        "/usr/bin/umount": ["/proc"], "/usr/bin/newgrp": ["root"]}
for path in out["found"]:
    p = subprocess.Popen([path] + ARGS.get(path, []), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    euids = set()
    deadline = time.monotonic() + 0.4
    while p.poll() is None and time.monotonic() < deadline:
        try:
            for line in open("/proc/%d/status" % p.pid):
                if line.startswith(("Uid:", "Gid:")):
                    euids.update(int(x) for x in line.split()[1:])
        except OSError:
            pass
        time.sleep(0.005)
    p.kill()
    text = p.communicate()[0].decode("utf-8", "replace")
    out["seen"][path] = [sorted(euids), p.returncode, text[-300:]]
mi = [l.split() for l in open("/proc/self/mountinfo")]
out["usr_opts"] = [f[5] for f in mi if f[4] == "/usr"]
out["euid"] = _os.geteuid()
report(out)
'''
        r, d = run_attack(self, svc, code)
        self.assertEqual(sorted(d["found"]), sorted(host_suid), "the sandbox's /usr differs from the host's")
        for path, (ids, rc, text) in d["seen"].items():
            self.assertNotIn(0, ids, f"{path} ran with a root id: {ids}")
            self.assertNotIn("uid=0", text)
        su = d["seen"].get("/usr/bin/su")
        if su:
            self.assertNotEqual(su[1], 0, f"su -c succeeded: {su}")
            self.assertNotEqual(su[2].strip(), "0")
        self.assertTrue(d["usr_opts"] and all("nosuid" in o.split(",") for o in d["usr_opts"]), d["usr_opts"])
        self.assertIn(d["euid"], sandbox_ids(svc)[0])

    def test_host_files_and_folders_absent(self):
        repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
        paths = ["/home", "/root", "/var", "/run", "/srv", "/work", "/sys/fs/cgroup", "/etc/ssh",
                 os.getcwd(), repo, os.path.dirname(os.path.abspath(__file__)),
                 os.path.dirname(sys.modules["service"].PYEXECD),  # the build folder
                 svc.state, svc.prefix, os.path.dirname(sys.modules["service"].__file__)]
        code = literals(PATHS=sorted(set(paths))) + r'''
out = {"exists": {p: _os.path.exists(p) for p in PATHS}}
try:
    out["shadow"] = open("/etc/shadow").read()[:50]
except OSError as e:
    out["shadow"] = e.errno
try:
    out["gshadow"] = open("/etc/gshadow").read()[:50]
except OSError as e:
    out["gshadow"] = e.errno
report(out)
'''
        r, d = run_attack(self, svc, code)
        for p, exists in d["exists"].items():
            self.assertFalse(exists, f"{p} is visible in the sandbox")
        self.assertIsInstance(d["shadow"], int, "/etc/shadow is readable")
        self.assertIsInstance(d["gshadow"], int, "/etc/gshadow is readable")

    def test_init_process_unreadable(self):
        code = r'''
out = {}
for f in ("environ", "mem", "maps", "auxv", "stack", "syscall", "fd", "map_files"):
    p = "/proc/1/" + f
    try:
        if _os.path.isdir(p):
            out[f] = _os.listdir(p)
        else:
            with open(p, "rb") as fh:
                out[f] = fh.read(4096).decode("latin-1")
    except OSError as e:
        out[f] = e.errno
for f in ("root", "cwd", "exe"):
    try:
        out[f] = _os.readlink("/proc/1/" + f)
    except OSError as e:
        out[f] = e.errno
try:
    out["root_list"] = _os.listdir("/proc/1/root/")
except OSError as e:
    out["root_list"] = e.errno
report(out)
'''
        r, d = run_attack(self, svc, code)
        for f, v in d.items():
            if isinstance(v, str) and f == "environ":
                self.assertNotIn(SECRET, v)
                self.assertNotIn("PYEXEC_TEST_SECRET", v)
            self.assertIsInstance(v, int, f"/proc/1/{f} of the sandbox init is readable: {str(v)[:200]!r}")

    def test_cgroup_layout_hidden(self):
        # The init moves itself into the run's cgroups, then roots a cgroup
        # namespace there: no host path (worker pid, run number) shows.
        code = r'''
out = {"self": open("/proc/self/cgroup").read(), "mountinfo": open("/proc/self/mountinfo").read()}
report(out)
'''
        r, d = run_attack(self, svc, code)
        lines = d["self"].strip().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertTrue(line.endswith(":/"), f"/proc/self/cgroup shows a host path: {d['self']!r}")
        self.assertNotIn("pyexec-", d["self"] + d["mountinfo"])

    def test_environment_fixed_and_no_secret(self):
        code = r'''
found = []
for pid in [p for p in _os.listdir("/proc") if p.isdigit()] + ["self", "thread-self"]:
    for f in ("environ", "cmdline"):
        try:
            data = open("/proc/%s/%s" % (pid, f), "rb").read()
        except OSError:
            continue
        if b"s3cr3t" in data or b"PYEXEC_TEST_SECRET" in data:
            found.append("/proc/%s/%s" % (pid, f))
import subprocess
child = subprocess.run(["/usr/bin/env"], capture_output=True, text=True).stdout
report({"environ": dict(_os.environ), "found": found, "child": child})
'''
        r, d = run_attack(self, svc, code)
        self.assertEqual(d["found"], [], "pyexecd's secret is readable in the sandbox")
        env = dict(d["environ"])
        self.assertNotIn(SECRET, repr(env) + d["child"])
        env.pop("LC_CTYPE", None)  # Python may add it (PEP 538 locale coercion)
        self.assertEqual(set(env), {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED",
                                    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MPLBACKEND"})
        self.assertEqual((env["HOME"], env["LANG"], env["PYTHONDONTWRITEBYTECODE"], env["PYTHONUNBUFFERED"],
                          env["OPENBLAS_NUM_THREADS"], env["OMP_NUM_THREADS"], env["MPLBACKEND"]),
                         ("/tmp", "C.UTF-8", "1", "1", "1", "1", "Agg"))
        self.assertNotIn("/work", env["PATH"])

    def test_executor_paths_not_disclosed(self):
        """SPEC §5.3: nothing of the executor (binary folder, settings, sockets) is visible. The
        program scans everything it can read in /proc for pyexecd's paths."""
        pyexecd = sys.modules["service"].PYEXECD
        needles = sorted({os.path.dirname(pyexecd), svc.socket, svc.state})
        code = literals(NEEDLES=needles) + r'''
found = {}
def scan(path):
    try:
        data = open(path, "rb").read(1 << 20).decode("latin-1")
    except OSError:
        return
    for n in NEEDLES:
        if n in data:
            found.setdefault(path, []).append(n)
for pid in [p for p in _os.listdir("/proc") if p.isdigit()] + ["self"]:
    for f in ("cmdline", "environ", "mountinfo", "maps", "stat", "comm", "status"):
        scan("/proc/%s/%s" % (pid, f))
for f in ("/proc/mounts", "/proc/cmdline", "/proc/net/unix"):
    scan(f)
report(found)
'''
        r, d = run_attack(self, svc, code)
        self.assertEqual(d, {}, "pyexecd's paths (binary folder, socket, state folder) are readable in the sandbox")


if __name__ == "__main__":
    import pyunit
    pyunit.main("security-attacks", globals())
