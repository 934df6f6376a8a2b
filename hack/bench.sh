#!/usr/bin/env bash
# Benchmarks berth against runc on this machine, in one run, and prints
# one line per figure with the berth/runc ratio:
#   - median wall time of `run` of `true` in a busybox bundle,
#   - median wall time of create + start + delete,
#   - peak RSS of the runtime process for `run` of `true`.
# Needs root, hyperfine and GNU time (apt-get install hyperfine time runc).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-100}
cargo build --release -p berth >/dev/null 2>&1
export BERTH="$PWD/target/x86_64-unknown-linux-gnu/release/berth"
command -v runc >/dev/null || { echo "runc not installed: apt-get install runc" >&2; exit 1; }
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
hack/bundle.sh "$work/bundle" /bin/true >/dev/null
b="$work/bundle"

median() { # median of the hyperfine JSON's command $2 in file $1, in ms
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print("%.2f" % (r["median"]*1000))' "$1" "$2"
}

hyperfine -N -w 10 -r "$runs" --export-json "$work/run.json" \
  "$BERTH --root $work/sb run -b $b bench" \
  "runc --root $work/sr run -b $b bench" >/dev/null 2>&1
cycle() { echo "$1 --root $work/$2 create -b $b c && $1 --root $work/$2 start c && $1 --root $work/$2 delete -f c"; }
hyperfine -w 10 -r "$runs" -S bash --export-json "$work/cycle.json" "$(cycle "$BERTH" sb)" "$(cycle runc sr)" >/dev/null 2>&1

rss() { # peak RSS in kB over 20 runs (max of maxima)
  local max=0 v
  for _ in $(seq 20); do
    v=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1)
    [ "$v" -gt "$max" ] && max=$v
  done
  echo "$max"
}
rb=$(rss "$BERTH" --root "$work/sb" run -b "$b" rss)
rr=$(rss runc --root "$work/sr" run -b "$b" rss)

line() { python3 -c 'import sys; n,a,b,u=sys.argv[1:]; print(f"{n:<28} berth {float(a):8.2f} {u:<3} runc {float(b):8.2f} {u:<3} ratio {float(a)/float(b):.2f}")' "$@"; }
echo "berth bench, $(date -u +%F), $(nproc) cores, $runs runs, $(runc --version | head -1)"
line "run true (median)" "$(median "$work/run.json" 0)" "$(median "$work/run.json" 1)" ms
line "create+start+delete" "$(median "$work/cycle.json" 0)" "$(median "$work/cycle.json" 1)" ms
line "peak RSS of run" "$rb" "$rr" kB
