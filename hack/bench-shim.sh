#!/usr/bin/env bash
# Benchmarks containerd-shim-berth-v2 + berth against
# containerd-shim-runc-v2 + runc, in one run, under one private containerd:
#   - median wall time of `ctr run --rm` of `true` (busybox image),
#   - VmRSS of the shim process while a `sleep` container runs.
# Prints each figure with the berth/runc ratio. Needs root, containerd,
# runc, umoci and skopeo (hack/setup.sh installs them). RUNS=N (default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-50}
cargo build -q --release -p berth -p berth-shim
rel="$PWD/target/x86_64-unknown-linux-gnu/release"
work=$(mktemp -d /tmp/berth-bench-shim.XXXXXX)
ns=bench
ctd_pid=
cleanup() {
    for id in $(ctr -a "$work/c.sock" -n $ns containers ls -q 2>/dev/null); do
        ctr -a "$work/c.sock" -n $ns task kill -s KILL "$id" >/dev/null 2>&1 || true
        sleep 0.2
        ctr -a "$work/c.sock" -n $ns task rm -f "$id" >/dev/null 2>&1 || true
        ctr -a "$work/c.sock" -n $ns containers rm "$id" >/dev/null 2>&1 || true
    done
    [ -n "$ctd_pid" ] && kill "$ctd_pid" 2>/dev/null && wait "$ctd_pid" 2>/dev/null || true
    grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$work" "/run/containerd/berth/$ns"
}
trap cleanup EXIT

. hack/containerd-lib.sh
ctd_start "$work" "$rel"
ctr() { command ctr -a "$work/c.sock" -n $ns "$@"; }

busybox_image "$work" img.tar true sleep
ctr images import "$work/img.tar" >/dev/null
image=docker.io/berth/busybox:latest

median_ms() { # runtime: median of $runs `ctr run --rm` of true, in ms
    local rt=$1 i t0 t1
    for i in $(seq 3); do ctr run --rm --runtime "$rt" $image w$i /bin/true; done
    for i in $(seq "$runs"); do
        t0=$(date +%s%N)
        ctr run --rm --runtime "$rt" $image r$i /bin/true
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}

shim_rss_kb() { # runtime: VmRSS of the shim of a running sleep container
    local rt=$1 id=rss-$RANDOM pid
    ctr run -d --runtime "$rt" $image "$id" /bin/sleep 1000
    sleep 1
    pid=$(pgrep -f -- "-namespace $ns -id $id -address $work/c.sock" | head -1)
    awk '/VmRSS/ {print $2}' "/proc/$pid/status"
    ctr task kill -s KILL "$id" >/dev/null
    sleep 0.3
    ctr task rm -f "$id" >/dev/null 2>&1 || true
    ctr containers rm "$id" >/dev/null
}

tb=$(median_ms io.containerd.berth.v2)
tr=$(median_ms io.containerd.runc.v2)
rb=$(shim_rss_kb io.containerd.berth.v2)
rr=$(shim_rss_kb io.containerd.runc.v2)
line() { printf '%-28s berth %8.2f %s  runc %8.2f %s  ratio %.2f\n' "$1" "$2" "$4" "$3" "$4" "$(awk -v a="$2" -v b="$3" 'BEGIN {print a / b}')"; }
echo "berth shim bench, $(date -u +%F), $(nproc) cores, $runs runs, $(containerd --version | awk '{print $3}'), $(command -v runc >/dev/null && runc --version | head -1)"
line "ctr run --rm true (median)" "$tb" "$tr" ms
line "shim VmRSS (sleep running)" "$rb" "$rr" kB
