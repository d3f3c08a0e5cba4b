#!/usr/bin/env bash
# Runs each built fuzzer for a bounded time from a copy of the seed corpus.
#   scripts/fuzz.sh BUILD_DIR SECONDS
# Exits non-zero on any finding (crash, leak, timeout, sanitizer report).
set -uo pipefail
dir=$1
seconds=$2
status=0
for target in decode roundtrip; do
  work="$dir/corpus-$target"
  rm -rf "$work" && mkdir -p "$work" && cp fuzz/corpus/decode/* "$work/"
  rm -f "$dir/$target"-crash-* "$dir/$target"-leak-* "$dir/$target"-timeout-* "$dir/$target"-oom-*
  echo "fuzz: $target for $seconds s"
  "$dir/${target}_fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$dir/$target-" "$work" >"$dir/$target.log" 2>&1
  rc=$?
  grep -E "^stat::number_of_executed_runs|^stat::peak_rss_mb|SUMMARY|ERROR" "$dir/$target.log"
  findings=$(ls "$dir/$target"-crash-* "$dir/$target"-leak-* "$dir/$target"-timeout-* "$dir/$target"-oom-* 2>/dev/null)
  if [ $rc -ne 0 ] || [ -n "$findings" ]; then
    echo "fuzz: $target found a problem (exit $rc): $findings" >&2
    tail -n 40 "$dir/$target.log" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "fuzz: no findings"
exit $status
