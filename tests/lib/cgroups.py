"""Where a running pyexecd keeps its run cgroups, for the suites that look
at runs from the host. The backend is the one pyexecd says it uses
(/health, sandbox.cgroup); the folders follow src/sandbox/cgroup.h:

  v2  P/runs/run-<worker>-<n>, P being pyexecd's cgroup at start-up; pyexecd
      then lives in P/daemon (unless P is the root of the hierarchy, where
      nothing moves and the runs are in /runs).
  v1  <hierarchy>/<pyexecd's path there>/pyexec-<pid>/run-<worker>-<n>, in
      each of the memory, pids, cpu (and cpuacct) hierarchies.

runs_roots() fails when those folders are missing while pyexecd serves, so a
check that finds no run cgroup never passes because it looked elsewhere."""
import json
import os

from procfs import read

V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")


def mounts():
    """cgroup mounts as (root, mount point, fs type, super options)."""
    out = []
    for line in (read("/proc/self/mountinfo") or "").splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(rest) >= 3 and rest[0] in ("cgroup", "cgroup2"):
            out.append((fields[3], fields[4], rest[0], rest[2].split(",")))
    return out


def own_cgroups(pid, text=None):
    """/proc/<pid>/cgroup (or its text) as (controllers, path) pairs;
    controllers is [] for v2."""
    out = []
    for line in (text or read(f"/proc/{pid}/cgroup") or "").splitlines():
        _, ctrls, path = line.split(":", 2)
        out.append(([c for c in ctrls.split(",") if c], path))
    return out


def _dir(mount_root, mount_point, path):
    rel = os.path.relpath(path, mount_root)
    if rel.startswith(".."):
        return None  # outside what is mounted here
    return os.path.normpath(os.path.join(mount_point, rel))


def backend(svc):
    """"v1" or "v2", as the service's /health says (asked once per service)."""
    if getattr(svc, "cgroup_backend", None) is None:
        _, _, data = svc.request("GET", "/health")
        svc.cgroup_backend = json.loads(data)["sandbox"]["cgroup"]
    return svc.cgroup_backend


def runs_roots_of(pid, kind, cgroup_text=None):
    """The folders whose run-* children are pyexecd `pid`'s runs (one for v2,
    one per hierarchy for v1), from its /proc/<pid>/cgroup as it was after
    start-up (cgroup_text) or now. Raises AssertionError when one is missing."""
    own = own_cgroups(pid, cgroup_text)
    roots = []
    if kind == "v2":
        path = next((p for c, p in own if not c), None)
        if path is None:
            raise AssertionError(f"pyexecd {pid} has no cgroup2 line in /proc/{pid}/cgroup")
        if os.path.basename(path) == "daemon":
            path = os.path.dirname(path)
        for root, point, fs, _ in mounts():
            d = _dir(root, point, path) if fs == "cgroup2" else None
            if d:
                roots.append(os.path.join(d, "runs"))
                break
    else:
        for ctrls, path in own:
            if not set(ctrls) & set(V1_CONTROLLERS):
                continue
            for root, point, fs, opts in mounts():
                d = _dir(root, point, path) if fs == "cgroup" and set(ctrls) <= set(opts) else None
                if d:
                    roots.append(os.path.join(d, f"pyexec-{pid}"))
    missing = [r for r in roots if not os.path.isdir(r)]
    if not roots or missing:
        raise AssertionError(f"pyexecd {pid} ({kind}): its run cgroups are not where cgroup.h says: "
                             f"{missing or 'no hierarchy found'} ({own})")
    return sorted(set(roots))


def runs_roots(svc):
    return runs_roots_of(svc.pyexecd.pid, backend(svc), getattr(svc, "cgroup_at_start", None))


def run_cgroups(svc, prefix="run-"):
    """Every run cgroup folder of the service whose name starts with prefix
    (for v1, the same run appears once per hierarchy)."""
    out = []
    for root in runs_roots(svc):
        try:
            out.extend(os.path.join(root, d) for d in sorted(os.listdir(root)) if d.startswith(prefix))
        except FileNotFoundError:
            pass
    return out


def pids_in(dirs):
    """Host pids in run cgroup folders (the union over v1's hierarchies)."""
    out = set()
    for d in dirs:
        out.update(int(p) for p in (read(os.path.join(d, "cgroup.procs")) or "").split())
    return out


def left_by_killed(pid, cgroup_text):
    """What a SIGKILLed pyexecd `pid` left in its v1 cgroups, from its
    /proc/<pid>/cgroup read while it lived: its sandboxes died with it, but
    nothing removes its pyexec-<pid> folders (a new pyexecd has another pid;
    on v2 the next start clears the runs folder, whose name is fixed).
    Returns the pids still in any of them; when there are none, removes the
    folders, so that a test's kill leaves nothing behind (call it until it
    returns an empty set, not after)."""
    folders = []
    for ctrls, path in own_cgroups(pid, cgroup_text):
        if not ctrls or any(c.startswith("name=") for c in ctrls):
            continue
        for root, point, fs, opts in mounts():
            d = _dir(root, point, path) if fs == "cgroup" and set(ctrls) <= set(opts) else None
            if d and os.path.isdir(os.path.join(d, f"pyexec-{pid}")):
                folders.append(os.path.join(d, f"pyexec-{pid}"))
    if not folders:  # found nothing: looked in the wrong place, or asked twice
        raise AssertionError(f"pyexecd {pid}: no pyexec-{pid} folder in its v1 hierarchies ({cgroup_text!r})")
    left = set()
    for top in sorted(set(folders)):
        for d, _, _ in os.walk(top):
            left.update(int(p) for p in (read(os.path.join(d, "cgroup.procs")) or "").split())
    if not left:
        for top in sorted(set(folders)):
            for d, subdirs, _ in os.walk(top, topdown=False):
                os.rmdir(d)
    return left
