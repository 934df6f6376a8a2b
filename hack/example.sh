#!/usr/bin/env bash
# The built-in example: builds berth, makes a busybox bundle, runs it with
# `berth run`, prints what the container saw, and removes everything.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p berth
export BERTH="$PWD/target/x86_64-unknown-linux-gnu/release/berth"
work=$(mktemp -d /tmp/berth-example.XXXXXX)
trap 'rm -rf "$work"' EXIT
hack/bundle.sh "$work/bundle" /bin/sh -c '
  echo "hello from $(hostname), pid $$ in its own pid namespace"
  echo "user: $(id)"
  echo "kernel: $(uname -sr)"
  echo "processes:"; ps
  echo "mounts:"; mount | head -8'
"$BERTH" --root "$work/state" run --bundle "$work/bundle" berth-example
echo "exit status: $?"
