#!/bin/sh
# Lists the system calls /usr/bin/python3 makes on pyexec-like workloads, to
# derive or review the allow-list in python.json (see README.md).
#   seccomp-profiles/derive.sh [python] > /tmp/observed.txt
# Needs strace. Prints one syscall name per line, sorted, unique; with
# IOCTLS=1, counts of the ioctl requests seen instead.
set -eu
PY=${1:-/usr/bin/python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat > "$WORK/stdlib.py" <<'PY'
import json, re, math, random, datetime, collections, itertools, functools
import decimal, fractions, statistics, csv, io, os, tempfile, threading, time
import subprocess, string, heapq, bisect, textwrap, operator, copy, enum
import dataclasses, typing, hashlib, base64, struct, array, unicodedata, sys
print("hello world")
print(json.dumps({"a": [1, 2.5, None]}), re.sub(r"\d+", "#", "a1b22"))
print(math.sqrt(2), random.Random(1).random(), random.random())
print(datetime.datetime.now().isoformat(), datetime.date(2024, 1, 1).weekday())
print(collections.Counter("abracadabra").most_common(2))
print(list(itertools.permutations(range(3)))[:2], functools.reduce(operator.add, range(10)))
print(decimal.Decimal("1.1") + decimal.Decimal("2.2"), fractions.Fraction(1, 3) * 3)
print(statistics.mean([1, 2, 3]), statistics.stdev([1, 2, 3, 4]))
buf = io.StringIO("a,b\n1,2\n"); print(list(csv.reader(buf)))
print(sorted(os.listdir("/tmp"))[:0], os.getcwd(), os.cpu_count(), os.getpid())
with tempfile.TemporaryDirectory(dir="/tmp") as d:
    p = os.path.join(d, "f.txt")
    with open(p, "w") as f: f.write("x" * 100)
    os.rename(p, p + ".2"); print(os.stat(p + ".2").st_size, os.path.exists(p))
with tempfile.NamedTemporaryFile("w+", dir="/tmp") as f:
    f.write("y"); f.flush(); f.seek(0); print(f.read())
out = []
ts = [threading.Thread(target=lambda i=i: out.append(i * i)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(sorted(out))
time.sleep(0.01); print(time.time() > 0, time.monotonic() > 0, time.perf_counter() > 0)
print(subprocess.run(["/bin/true"]).returncode)
print(subprocess.run(["/bin/echo", "hi"], capture_output=True, text=True).stdout.strip())
print(hashlib.sha256(b"x").hexdigest()[:8], base64.b64encode(b"x"))
print(input(), sys.stdin.read())
try:
    1 / 0
except ZeroDivisionError as e:
    print("caught", e)
import socket
a, b = socket.socketpair(); a.sendall(b"ping"); print(b.recv(4)); a.close(); b.close()
import signal; signal.signal(signal.SIGALRM, lambda *a: None); signal.alarm(0)
import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 0)
import multiprocessing as mp
with mp.get_context("fork").Pool(2) as pool: print(pool.map(abs, [-1, -2]))
import concurrent.futures as cf
with cf.ThreadPoolExecutor(2) as ex: print(list(ex.map(abs, [-3, -4])))
import shutil; print(shutil.get_terminal_size().columns > 0)
import locale, platform, getpass; print(platform.python_version(), locale.getpreferredencoding())
with tempfile.TemporaryDirectory(dir="/tmp") as d:
    src = os.path.join(d, "a"); open(src, "w").write("z")
    shutil.copy2(src, os.path.join(d, "b")); shutil.copytree(d, d + ".t"); shutil.rmtree(d + ".t")
import asyncio
async def main(): await asyncio.sleep(0.01); return 7
print(asyncio.run(main()))
import traceback; traceback.print_stack(limit=1)
print(sys.getrecursionlimit(), sys.getsizeof([]), __import__("sqlite3").connect(":memory:").execute("select 1").fetchone())
raise SystemExit(0)
PY

cat > "$WORK/scientific.py" <<'PY'
import numpy as np, pandas as pd, io
a = np.arange(12, dtype=float).reshape(3, 4)
print(a.sum(), a.T @ a, np.linalg.solve([[3, 1], [1, 2]], [9, 8]))
print(np.random.default_rng(0).normal(size=3), np.random.rand(2), np.linalg.inv(np.eye(3)))
print(np.fft.fft(np.ones(4)), np.sort(np.random.permutation(10)), np.linalg.eig(np.eye(2))[0])
df = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})
print(df.groupby("k").sum(), df.describe(), df.to_string())
print(pd.read_csv(io.StringIO("x,y\n1,2\n3,4\n")).mean())
print(pd.Series([1, None, 3]).fillna(0).tolist(), pd.date_range("2024-01-01", periods=3))
print(df.merge(df, on="k").pivot_table(index="k", values="v_x", aggfunc="sum"))
PY

printf 'line one\nrest\n' > "$WORK/stdin.txt"
run() {
    (cd /tmp && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 \
        PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS="$1" \
        OMP_NUM_THREADS="$1" MPLBACKEND=Agg \
        strace -f -qq -o "$WORK/trace.$2.$1" "$PY" -u -B -s "$WORK/$2.py" \
        < "$WORK/stdin.txt" > /dev/null 2>&1)
}
for threads in 1 4; do
    run "$threads" stdlib
    run "$threads" scientific
done
# Lines look like "1234  openat(AT_FDCWD, ..." or "1234  <... read resumed>...".
if [ "${IOCTLS:-}" ]; then grep -h -o 'ioctl([0-9]*, [A-Z_0-9]*' "$WORK"/trace.* | sort | uniq -c; exit; fi
cat "$WORK"/trace.* | sed -n -E 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' | sort -u
