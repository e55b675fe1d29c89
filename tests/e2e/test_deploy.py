"""deploy/ (issue 13): what can be checked without a Docker engine or a
cluster. The compose file and the Kubernetes manifest have the shape the
README describes; the compose nginx site is what deploy/generate.sh writes
and nginx accepts it; and the capability list both files give is exactly
what pyexecd needs here: with a bounding set of those capabilities (setpriv)
it serves runs in both modes, and without any one of them it cannot."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from service import PYEXECD, ROOT, Service  # noqa: E402

DEPLOY = os.path.join(ROOT, "deploy")


def load_all(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return list(yaml.safe_load_all(f))


def k8s():
    docs = load_all("kubernetes.yaml")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    service = next(d for d in docs if d["kind"] == "Service")
    return deployment, service, deployment["spec"]["template"]["spec"]["containers"][0]


def capabilities():
    return k8s()[2]["securityContext"]["capabilities"]["add"]


class Files(unittest.TestCase):
    def test_kubernetes_manifest(self):
        deployment, service, container = k8s()
        for probe in ("readinessProbe", "livenessProbe"):
            command = container[probe]["exec"]["command"]
            self.assertEqual(command[:3], ["curl", "-fsS", "--head"], probe)
            self.assertEqual(command[-1], "http://127.0.0.1:8080/health", probe)
        sc = container["securityContext"]
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("privileged", sc)
        self.assertEqual(sc["seccompProfile"], {"type": "Unconfined"})
        for kind in ("requests", "limits"):
            self.assertEqual(set(container["resources"][kind]), {"cpu", "memory"})
        self.assertEqual(service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
        self.assertEqual(service["spec"]["ports"][0]["targetPort"], container["ports"][0]["name"])

    def test_compose_file(self):
        compose = load_all("docker-compose.yml")[0]
        services = compose["services"]
        self.assertEqual(set(services), {"nginx", "executor-a", "executor-b"})
        nginx_ip = services["nginx"]["networks"]["pyexec"]["ipv4_address"]
        uids = set()
        for name in ("executor-a", "executor-b"):
            e = services[name]
            self.assertEqual(e["cap_drop"], ["ALL"])
            self.assertEqual(e["cap_add"], capabilities(), "the same list as the Kubernetes manifest")
            self.assertEqual(e["environment"]["PYEXEC_NGINX"], "no")
            args = dict(zip(e["command"][::2], e["command"][1::2]))
            self.assertEqual(args["--listen"], "0.0.0.0:9000")
            self.assertEqual(args["--allow-from"], nginx_ip)
            uids.add(int(args["--uid"]))
            # the executor's command parses as pyexecd settings
            r = subprocess.run([PYEXECD, "serve", *e["command"], "--help"], capture_output=True, text=True)
            self.assertNotIn("unknown option", r.stdout + r.stderr)
        self.assertEqual(len(uids), 2)
        self.assertGreaterEqual(abs(uids.pop() - uids.pop()), 4, "the executors' uid ranges overlap")

    def test_compose_nginx_site_is_generated_and_valid(self):
        tmp = tempfile.mkdtemp()
        try:
            fresh = os.path.join(tmp, "pyexec.conf")
            subprocess.check_call([os.path.join(DEPLOY, "generate.sh"), fresh])
            with open(fresh) as f, open(os.path.join(DEPLOY, "nginx", "pyexec.conf")) as g:
                self.assertEqual(g.read(), f.read(), "run deploy/generate.sh")
            # nginx -t needs the executors' names to resolve: loopback instead.
            with open(fresh) as f:
                site = f.read().replace("executor-a:", "127.0.0.1:").replace("executor-b:", "127.0.0.2:")
            site = site.replace("listen 8080;", "listen 127.0.0.1:1;")
            with open(fresh, "w") as f:
                f.write(site)
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(f"pid {tmp}/nginx.pid; error_log stderr; events {{}}\n"
                        f"http {{ access_log off; include {fresh}; }}\n")
            r = subprocess.run(["nginx", "-t", "-p", tmp, "-c", conf, "-e", "stderr"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("location = /metrics/2", site)
        finally:
            shutil.rmtree(tmp)


def wrapper(tmp, caps):
    """A pyexecd that starts with exactly `caps` in its bounding set (root: its permitted set)."""
    path = os.path.join(tmp, "pyexecd")
    bounding = ",".join(["-all"] + ["+" + c.lower() for c in caps])
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nexec setpriv --bounding-set {bounding} --inh-caps -all -- {PYEXECD} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def cpu_of_runs(master):
    """CPU seconds used so far by the processes in the master's run cgroups."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                if f"/pyexec-{master}/run-" not in f.read():
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def serves(binary, mode):
    """Whether pyexecd serves: starts, runs a program, ends one at its timeout
    (and nothing of it keeps running), and is healthy."""
    try:
        svc = Service(workers=1, mode=mode, binary=binary)
    except RuntimeError as e:
        return False, str(e)[-300:]
    try:
        status, r = svc.run("import numpy\nprint(numpy.arange(3).sum())")
        if (status, r.get("stdout")) != (200, "3\n"):
            return False, f"run: {status} {json.dumps(r)[:300]}"
        status, _, body = svc.request("POST", "/run", {"code": "while True: pass", "timeoutMs": 300}, timeout=20)
        if (status, json.loads(body).get("status")) != (200, "timeout"):
            return False, f"timeout run: {status} {body[:300]!r}"
        # Its answer is not enough: the spinning program must be gone too (S5).
        time.sleep(3)
        spent = cpu_of_runs(svc.pyexecd.pid)
        time.sleep(2)
        spent = cpu_of_runs(svc.pyexecd.pid) - spent
        if spent > 0.05:  # a prepared sandbox waits for its request and spends nothing
            return False, f"the timed-out program still runs: {spent:.2f} s of CPU in 2 s"
        status, _, body = svc.request("GET", "/health", timeout=20)
        if status != 200 or json.loads(body)["sandbox"]["mode"] != mode:
            return False, f"health: {status} {body[:300]!r}"
        return True, ""
    except OSError as e:
        return False, f"{type(e).__name__}: {e}"
    finally:
        svc.stop()


class Capabilities(unittest.TestCase):
    def setUp(self):
        if shutil.which("setpriv") is None:
            self.skipTest("setpriv (util-linux) is missing")
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_the_listed_capabilities_are_enough(self):
        for mode in ("warm", "cold"):
            ok, why = serves(wrapper(self.tmp, capabilities()), mode)
            self.assertTrue(ok, f"{mode}: {why}")

    def test_each_listed_capability_is_needed(self):
        """Without any one of them pyexecd cannot serve (warm, the default mode)."""
        for cap in capabilities():
            ok, why = serves(wrapper(self.tmp, [c for c in capabilities() if c != cap]), "warm")
            self.assertFalse(ok, f"serves without {cap}")
            print(f"\n  without {cap}: {why.splitlines()[-1] if why else ''}"[:200], end="", flush=True)
        print()


if __name__ == "__main__":
    from pyunit import main
    main("e2e-deploy", globals())
