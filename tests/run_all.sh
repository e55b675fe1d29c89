#!/bin/bash
# Runs every suite (unit, fuzz replay, harness, end-to-end, security, soak,
# and cgroup v2 in a guest kernel) and ends with one line "N passed, N failed"
# (", N skipped" when any suite skipped a test).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
export BUILD PYTHON
passed=0 failed=0 skipped=0
log=$(mktemp)

count() {  # adds the "N passed, N failed[, N skipped]" line of a suite's output
  local line p f s
  line=$(grep -E '^[a-z0-9_-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -z "$line" ]; then echo "!! $1 printed no result line"; failed=$((failed + 1)); return; fi
  p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

suite() {  # suite NAME COMMAND...
  local name=$1; shift
  echo "=== $name"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  count "$name"
  if [ "$rc" -ne 0 ] && ! grep -qE '^[a-z0-9_-]+: [0-9]+ passed, [1-9][0-9]* failed' "$log"; then
    echo "!! $name exited with $rc"; failed=$((failed + 1))
  fi
}


echo "=== unit"
"$BUILD/unit_tests" 2>&1 | tee "$log"
ran=$(grep -oE '[0-9]+ ran' "$log" | tail -n1 | grep -oE '[0-9]+' || echo 0)
fails=$(grep -oE '^Errors \([0-9]+ failures' "$log" | grep -oE '[0-9]+' || echo 0)
unit_skips=$(grep -c '^SKIP ' "$log" || true)
if [ "$ran" -eq 0 ]; then echo "!! unit tests did not run"; failed=$((failed + 1)); fi
passed=$((passed + ran - fails - unit_skips)) failed=$((failed + fails)) skipped=$((skipped + unit_skips))

# The fuzz corpora, each input once through its libFuzzer harness (make fuzz-build).
suite fuzz-replay tests/fuzz/replay.sh

for t in tests/harness/test_*.py tests/e2e/test_*.py tests/security/test_*.py; do
  [ -f "$t" ] || continue
  suite "$t" "$PYTHON" "$t"
done
# make soak's abuse and leak checks, 100 runs (about 90 s), warm mode only.
suite soak "$PYTHON" tests/soak/soak.py --runs 100
# The service runs warm by default; the API, exercises and every attack run cold too.
for t in tests/e2e/test_api.py tests/e2e/test_exercises.py tests/security/test_*.py; do
  [ -f "$t" ] || continue
  suite "$t (cold)" env PYEXEC_TEST_MODE=cold "$PYTHON" "$t"
done
# Warm runs of standard-library programs fork the lean image by default:
# the attacks again with every run in the full one.
for t in tests/security/test_attacks.py tests/security/test_isolation.py tests/security/test_crossrun.py; do
  suite "$t (full image)" env PYEXEC_TEST_IMAGES=full "$PYTHON" "$t"
done
# And with a pytest test in every attack request: those of the standard
# library then fork the pytest image.
for t in tests/security/test_attacks.py tests/security/test_isolation.py tests/security/test_crossrun.py; do
  suite "$t (pytest image)" env PYEXEC_TEST_AS_PYTEST=1 "$PYTHON" "$t"
done
# cgroup v2 for real: the suites above in a guest kernel with cgroup v1
# off (tests/cgroup_v2/run.sh says what runs there and why).
suite "cgroup-v2" tests/cgroup_v2/run.sh
rm -f "$log"
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
