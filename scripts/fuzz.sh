#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time from its seed corpus
# (tests/fuzz/corpus/<target>/). Exits non-zero when any target crashes, leaks, times out or
# fails to build. Findings are left in build-fuzz/fuzz-artifacts/<target>/.
#
#   FUZZ_SECONDS=20   seconds per target
#   FUZZ_TARGETS=...  space-separated subset of the targets
#   BUILD_DIR=...     build directory (default: build-fuzz in the repository)
#   CC, CXX           compilers (default: clang-14, clang++-14)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-20}"
targets=(${FUZZ_TARGETS:-fuzz_bencode fuzz_announce fuzz_scrape fuzz_percent fuzz_tracker_answer fuzz_url fuzz_forwarded_request fuzz_cidr_list fuzz_config fuzz_router fuzz_origin_answer fuzz_udp fuzz_udp_origin_answer fuzz_http_head})

CC="${CC:-clang-14}" CXX="${CXX:-clang++-14}" \
  cmake -S "$root" -B "$build" -G Ninja -DBTRT_FUZZ=ON -DBTRT_BENCH=OFF
cmake --build "$build" --target "${targets[@]}"

dict_for() {
  case "$1" in
    fuzz_bencode | fuzz_tracker_answer | fuzz_origin_answer) echo "$root/tests/fuzz/bencode.dict" ;;
    fuzz_announce | fuzz_scrape) echo "$root/tests/fuzz/announce.dict" ;;
    *) echo "" ;;
  esac
}

failed=()
for t in "${targets[@]}"; do
  seeds="$root/tests/fuzz/corpus/$t"
  work="$build/fuzz-corpus/$t"       # grows between runs; the seeds stay untouched
  artifacts="$build/fuzz-artifacts/$t"
  mkdir -p "$work" "$artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  dict="$(dict_for "$t")"
  [[ -n "$dict" ]] && args+=(-dict="$dict")
  echo "=== $t: ${seconds}s"
  if "$build/tests/fuzz/$t" "${args[@]}" "$work" "$seeds" 2>"$build/fuzz-$t.log"; then
    grep -E '^stat::number_of_executed_units|^Done' "$build/fuzz-$t.log" || true
    echo "=== $t: ok"
  else
    tail -n 40 "$build/fuzz-$t.log"
    echo "=== $t: FAILED (log: $build/fuzz-$t.log, artifacts: $artifacts/)"
    failed+=("$t")
  fi
done

if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
echo "all fuzz targets ran clean"
