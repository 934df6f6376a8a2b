#!/bin/sh
# The pure cgroup v2 tier: runs tests/cgroup_v2.rs (its tests are ignored
# on other hosts) and the host-independent integration tests (lifecycle,
# pause, exec, namespaces, seccomp) inside the QEMU VM of hack/vm-test.sh,
# in one boot. Called by hack/test.sh after the host tiers; on its own:
# `hack/test-v2.sh` (root, after hack/setup.sh).
#
# The same file is the script the VM runs: there BERTH_VM_TESTS names the
# list of test executables this host part wrote.
set -eu
cd "$(dirname "$0")/.."
list=target/vm/tests.txt
if [ "${1:-}" != inside ]; then
    mkdir -p target/vm
    cargo build --workspace --bins
    # Test executables, built as for the host run (static binaries: they
    # run in the VM as they are).
    cargo test --no-run --message-format=json -p berth-integration-tests \
        --test cgroup_v2 --test lifecycle --test pause --test exec --test namespaces --test seccomp 2>/dev/null |
        grep -o '"executable":"[^"]*"' | cut -d'"' -f4 >"$list"
    [ -s "$list" ] || { echo "$0: no test executables" >&2; exit 1; }
    # containerd and ctr for the shim's v2 test, with the libraries they
    # load, copied onto the VM's root; and the test image, built here.
    sysroot=target/vm/sysroot
    rm -rf "$sysroot" && mkdir -p "$sysroot/usr/bin"
    for b in /usr/bin/containerd /usr/bin/ctr; do
        cp "$b" "$sysroot/usr/bin/"
        ldd "$b" | grep -o '/[^ ]*' | while read -r lib; do
            mkdir -p "$sysroot$(dirname "$lib")" && cp -L "$lib" "$sysroot$lib"
        done
    done
    img=target/vm/image
    rm -rf "$img" && mkdir -p "$img"
    . hack/containerd-lib.sh
    busybox_image "$img" busybox.tar sh echo cat sleep true dd
    # The VM runs this script again, as `sh hack/test-v2.sh inside`.
    printf 'exec sh hack/test-v2.sh inside\n' >target/vm/run.sh
    exec bash hack/vm-test.sh target/vm/run.sh
fi

# Inside the VM (busybox sh, root cgroup of a pure v2 hierarchy).
out="$PWD/target/x86_64-unknown-linux-gnu/debug"
export BERTH_BIN="$out/berth" BERTH_CHECKER="$out/berth-checker" RUST_BACKTRACE=1
cp -a target/vm/sysroot/. /
export PATH="/usr/bin:$PATH" BERTH_TEST_IMAGE_TAR="$PWD/target/vm/image/busybox.tar"
# A block device for the io.max test.
dd if=/dev/zero of=/tmp/disk.img bs=1M count=16 2>/dev/null
losetup /dev/loop0 /tmp/disk.img
echo "vm: $(uname -r), $(cat /sys/fs/cgroup/cgroup.subtree_control)"
status=0
while read -r exe; do
    echo "vm: running $(basename "$exe")"
    # Ignored tests are the ones that need this pure v2 host.
    "$exe" --include-ignored --test-threads=2 || status=1
done <"$list"
losetup -d /dev/loop0
exit $status
