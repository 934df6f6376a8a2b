#!/usr/bin/env bash
# Runs every test: unit tests and the integration tests, which start real
# containers and therefore need root. Build first: the integration tests
# drive the built `berth` and copy the static checker into each bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "hack/test.sh: the integration tests need root" >&2; exit 1; }
# .cargo/config.toml builds every binary static for this target.
out="$PWD/target/x86_64-unknown-linux-gnu/debug"
cargo build --workspace --bins
export BERTH_BIN="$out/berth"
export BERTH_CHECKER="$out/berth-checker"
# A hung test fails the run after 20 minutes instead of stalling CI.
timeout --kill-after=30 1200 cargo test --workspace
# The pure cgroup v2 tier, in a QEMU VM (one boot).
bash hack/test-v2.sh
