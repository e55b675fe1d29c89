# libFuzzer options shared by run.sh (fuzzing) and replay.sh (make test), so
# that a replay enforces the same limits as the fuzzing did. Source it from
# the top of the tree.

# Memory: the whole process (rss) and any single allocation (malloc); an
# input that runs longer than the timeout (seconds) is a finding too.
# UBSan stops at its first report, but for the one suppressed in ubsan.supp.
export UBSAN_OPTIONS="suppressions=$PWD/tests/fuzz/ubsan.supp:halt_on_error=1:print_stacktrace=1"
FUZZ_LIMITS="-rss_limit_mb=512 -malloc_limit_mb=128 -timeout=20"

# Longest input the fuzzer makes up per target (longer seeds are cut while
# fuzzing, never in a replay): a body of a few tests, a stream of a few
# records, Docker's profile (13 KB).
fuzz_max_len() {
  case "$1" in
    request) echo 8192 ;;
    records) echo 16384 ;;
    seccomp) echo 16384 ;;
    *) echo "unknown fuzz target $1" >&2; return 1 ;;
  esac
}
