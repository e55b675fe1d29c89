#!/bin/bash
# make fuzz: runs each named libFuzzer target for FUZZ_SECONDS on its corpus,
# then merges what it found into tests/fuzz/corpus/<name>/: the hand-made
# seeds (seed-*) all stay, and of the rest only a smallest set of inputs that
# keeps every coverage feature is added, so the committed corpus stays small
# (-set_cover_merge=1: the -merge=1 of libFuzzer with a greedy set cover,
# about 40 % fewer files here). Crashes and broken invariants
# are saved as $BUILD/fuzz/crash-<name>-* and make the script fail.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-180}
source tests/fuzz/options.sh
status=0

fuzz_one() {  # fuzz_one NAME
  local name=$1 bin=$BUILD/fuzz/fuzz_$1 corpus=tests/fuzz/corpus/$1
  local work merged log
  work=$(mktemp -d) merged=$(mktemp -d) log=$BUILD/fuzz/$name.log
  echo "=== fuzz $name for ${FUZZ_SECONDS}s (log: $log)"
  # New inputs go to the first directory (work); the corpus is only read.
  FUZZ_REPORT_PEAK=1 "$bin" $FUZZ_LIMITS -max_len="$(fuzz_max_len "$name")" \
    -dict="tests/fuzz/$name.dict" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
    -artifact_prefix="$BUILD/fuzz/crash-$name-" "$work" "$corpus" >"$log" 2>&1
  local rc=$?
  grep -E '^(stat::|fuzz_records:)|INVARIANT|ERROR: |SUMMARY' "$log"
  if [ "$rc" -ne 0 ]; then
    echo "!! fuzz $name found a failure (exit $rc); input saved as $BUILD/fuzz/crash-$name-*"
    status=1
  fi
  cp "$corpus"/seed-* "$merged"/
  if "$bin" $FUZZ_LIMITS -set_cover_merge=1 "$merged" "$corpus" "$work" >"$log.merge" 2>&1; then
    find "$corpus" -type f ! -name 'seed-*' -delete
    find "$merged" -type f ! -name 'seed-*' -exec cp {} "$corpus"/ \;
  else
    echo "!! merge of $name failed (see $log.merge); corpus left as it was"
    status=1
  fi
  echo "$name: corpus now $(find "$corpus" -type f | wc -l) files, $(du -sk "$corpus" | cut -f1) KiB"
  rm -rf "$work" "$merged"
}

for name in "$@"; do fuzz_one "$name"; done
exit $status
