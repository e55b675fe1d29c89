#!/bin/bash
# The fuzz-replay suite of make test: every input of tests/fuzz/corpus/<name>/
# runs once, without mutation, through the same libFuzzer harness (ASan,
# UBSan, the harness's invariants, the memory limits of make fuzz). Prints
# "fuzz-replay: N passed, N failed", N counting inputs.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
source tests/fuzz/options.sh
passed=0 failed=0

replay() {  # replay NAME
  local name=$1 bin=$BUILD/fuzz/fuzz_$1 files
  mapfile -t files < <(find "tests/fuzz/corpus/$name" -type f | sort)
  if [ ! -x "$bin" ]; then
    echo "!! $bin is missing (make fuzz-build)"; failed=$((failed + ${#files[@]})); return
  fi
  # Given files (not a directory), libFuzzer runs each once and stops.
  if "$bin" $FUZZ_LIMITS "${files[@]}" >/dev/null 2>&1; then
    echo "$name: ${#files[@]} inputs replayed"
    passed=$((passed + ${#files[@]}))
    return
  fi
  # Something failed: one process per input, to name and count each failure.
  local f
  for f in "${files[@]}"; do
    if "$bin" $FUZZ_LIMITS "$f" >"$BUILD/fuzz/replay.log" 2>&1; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      echo "!! $name: $f fails:"
      grep -E 'INVARIANT|ERROR: |SUMMARY|runtime error' "$BUILD/fuzz/replay.log" | head -n 5
    fi
  done
}

for name in request records seccomp; do replay "$name"; done
echo "fuzz-replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
