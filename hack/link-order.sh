#!/usr/bin/env bash
# Regenerates the link-order lists (see crates/build-support): the
# functions a binary runs, in the order they first run (hack/trace-order.py,
# under ptrace). Run it as root after changes to the traced paths; stale
# entries only cost resident pages, never correctness.
#   hack/link-order.sh [berth|shim|all]   (default: all)
#   berth: `run`, then create/state/start/kill/delete;
#   shim:  containerd-shim-berth-v2 under a private containerd for
#          `ctr run --rm`, a detached container with exec, pause, resume,
#          kill and delete (needs containerd, umoci, skopeo).
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/containerd-lib.sh
what=${1:-all}
target=${CARGO_TARGET_DIR:-target}/link-order
CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=$target \
  cargo build --release -p berth -p berth-shim >/dev/null 2>&1
rel=$PWD/$target/x86_64-unknown-linux-gnu/release
work=$(mktemp -d /tmp/berth-order.XXXXXX)
ctd_pid=
cleanup() {
    if [ -n "$ctd_pid" ]; then
        kill "$ctd_pid" 2>/dev/null || true
        wait "$ctd_pid" 2>/dev/null || true
    fi
    grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$work" /run/containerd/berth/order
}
trap cleanup EXIT

order_berth() {
    local bin=$rel/berth
    BERTH=$bin hack/bundle.sh "$work/bundle" /bin/true >/dev/null
    trace() { python3 hack/trace-order.py "$bin" "$work/$1.txt" -- --root "$work/state" "$@"; }
    trace run -b "$work/bundle" o1
    trace create -b "$work/bundle" o2
    trace state o2 >/dev/null
    trace start o2
    trace kill o2 KILL || true
    trace delete -f o2
    # First appearance wins: run's order, then what the other commands add.
    cat "$work"/{run,create,state,start,kill,delete}.txt | awk '!seen[$0]++' >crates/berth/link-order.txt
    wc -l <crates/berth/link-order.txt
}

order_shim() {
    # containerd starts "containerd-shim-berth-v2" from its PATH: this
    # wrapper runs the unstripped shim under the tracer, next to berth.
    mkdir -p "$work/bin" "$work/traces"
    cat >"$work/bin/containerd-shim-berth-v2" <<WRAP
#!/bin/sh
exec python3 $PWD/hack/trace-order.py --follow $rel/containerd-shim-berth-v2 $work/traces/\$\$.txt -- "\$@"
WRAP
    chmod +x "$work/bin/containerd-shim-berth-v2"
    ctd_start "$work" "$work/bin"
    ctr() { command ctr -a "$work/c.sock" -n order "$@"; }
    busybox_image "$work" img.tar true sleep sh
    ctr images import "$work/img.tar" >/dev/null
    local image=docker.io/berth/busybox:latest rt=io.containerd.berth.v2
    ctr run --rm --runtime $rt $image t1 /bin/true
    ctr run -d --runtime $rt $image t2 /bin/sleep 1000
    ctr task exec --exec-id e1 t2 /bin/true
    ctr task pause t2 && ctr task resume t2
    ctr task metrics t2 >/dev/null
    ctr task kill -s KILL t2
    sleep 1
    ctr task rm t2 && ctr containers rm t2
    ctr images rm $image >/dev/null
    # Each shim's trace is written when it exits.
    kill "$ctd_pid" && wait "$ctd_pid" 2>/dev/null || true
    ctd_pid=
    local deadline=$((SECONDS + 30))
    while pgrep -f "trace-order.py --follow" >/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    # In the order the shims ran: first appearance wins.
    ls -tr "$work"/traces/*.txt | xargs cat | awk '!seen[$0]++' >crates/shim/link-order.txt
    wc -l <crates/shim/link-order.txt
}

case $what in
berth) order_berth ;;
shim) order_shim ;;
all) order_berth && order_shim ;;
*) echo "usage: $0 [berth|shim|all]" >&2 && exit 2 ;;
esac
