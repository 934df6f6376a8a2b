#!/usr/bin/env bash
# Regenerates crates/berth/link-order.txt: the functions berth runs for
# `run`, then create/start/state/kill/delete, in the order they first run
# (hack/trace-order.py, under ptrace). Run it as root after changes to the
# start path; stale entries only cost resident pages, never correctness.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}/link-order
CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=$target \
  cargo build --release -p berth >/dev/null 2>&1
bin=$target/x86_64-unknown-linux-gnu/release/berth
work=$(mktemp -d /tmp/berth-order.XXXXXX)
trap 'rm -rf "$work"' EXIT
BERTH=$bin hack/bundle.sh "$work/bundle" /bin/true >/dev/null
trace() { python3 hack/trace-order.py "$bin" "$work/$1.txt" -- --root "$work/state" "$@"; }
trace run -b "$work/bundle" o1
trace create -b "$work/bundle" o2
trace state o2 >/dev/null
trace start o2
trace kill o2 KILL || true
trace delete -f o2
# First appearance wins: run's order, then what the other commands add.
cat "$work"/{run,create,state,start,kill,delete}.txt | awk '!seen[$0]++' > crates/berth/link-order.txt
wc -l < crates/berth/link-order.txt
