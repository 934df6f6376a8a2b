#!/usr/bin/env bash
# Runs a command inside a throw-away QEMU VM whose only cgroup hierarchy is
# cgroup v2 (booted with cgroup_no_v1=all), to test Berth on a pure v2
# host from this hybrid one. Usage: hack/vm-test.sh SCRIPT
#
# SCRIPT runs under the VM's busybox sh with the repository shared over 9p
# at the same absolute path, so host-built static binaries (berth, the
# checker, the test executables) run as they are. Its exit status is this
# script's exit status.
#
# The VM: Debian's stock kernel (downloaded with apt-get, unpacked, never
# installed), QEMU software emulation (this host's /dev/kvm is PVM-backed
# and cannot boot a stock kernel usefully), qboot firmware and an
# uncompressed vmlinux (about 2.5 s to the first command), a tmpfs root
# from an initramfs of busybox-static and the 9p modules, and every
# controller enabled in the root's cgroup.subtree_control. Facts:
# ../shared/notes/host.md. Needs: qemu-system-x86, busybox-static, cpio,
# xz-utils (hack/setup.sh installs them).
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 SCRIPT" >&2; exit 2; }
repo="$(cd "$(dirname "$0")/.." && pwd)"
script="$(realpath "$1")"
case "$script" in "$repo"/*) ;; *) echo "$0: SCRIPT must be inside $repo (it reaches the VM over 9p)" >&2; exit 2 ;; esac
cache="$repo/target/vm"
mkdir -p "$cache"

# The kernel linux-image-amd64 depends on, unpacked once per version.
kpkg="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
[ -n "$kpkg" ] || { echo "$0: no linux-image-amd64 dependency in apt's lists (apt-get update?)" >&2; exit 1; }
kdir="$cache/$kpkg"
if [ ! -f "$kdir/vmlinux" ]; then
    rm -rf "$kdir" && mkdir -p "$kdir/deb"
    (cd "$kdir/deb" && apt-get download -q "$kpkg" 2>/dev/null)
    dpkg-deb -x "$kdir"/deb/*.deb "$kdir/x"
    rm -rf "$kdir/deb"
    bz="$(ls "$kdir"/x/boot/vmlinuz-*)"
    # Debian compresses the kernel with xz: the payload starts at the
    # first xz stream header inside the bzImage.
    off="$(grep -abo -m1 $'\xfd7zXZ\x00' "$bz" | cut -d: -f1)"
    tail -c +"$((off + 1))" "$bz" >"$kdir/payload.xz"
    xz -dc --single-stream "$kdir/payload.xz" >"$kdir/vmlinux.tmp"
    rm "$kdir/payload.xz"
    mv "$kdir/vmlinux.tmp" "$kdir/vmlinux"
fi
modroot="$(ls -d "$kdir"/x/lib/modules/*)"

# The initramfs: busybox, the modules for 9p over virtio, overlayfs and
# loop devices (in dependency order), and /init.
initrd="$cache/initrd-$kpkg.cpio"
if [ ! -f "$initrd" ] || [ "$0" -nt "$initrd" ]; then
    st="$cache/initrd.d"
    rm -rf "$st" && mkdir -p "$st"/{bin,dev,proc,sys,tmp,mods,newroot}
    cp /bin/busybox "$st/bin/busybox"
    ln -s busybox "$st/bin/sh"
    i=0
    for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev \
        drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci net/9p/9pnet \
        net/9p/9pnet_virtio fs/netfs/netfs fs/fscache/fscache fs/9p/9p fs/overlayfs/overlay \
        drivers/block/loop; do
        i=$((i + 1))
        cp "$modroot/kernel/$m.ko" "$st/mods/$(printf %02d $i)-$(basename "$m").ko"
    done
    cat >"$st/init" <<'EOF'
#!/bin/sh
# pid 1 of the test VM. First pass: pivot_root cannot leave an initramfs
# root, so copy it onto a real tmpfs and switch to it; second pass there.
export PATH=/bin HOME=/root TMPDIR=/tmp
if [ "$1" != stage2 ]; then
    /bin/busybox --install -s /bin
    mount -t proc proc /proc
    mount -t sysfs sys /sys
    mount -t devtmpfs dev /dev
    mount -t tmpfs -o size=80% root /newroot
    cp -a /bin /init /mods /newroot/
    mkdir -p /newroot/dev /newroot/proc /newroot/sys /newroot/tmp /newroot/root
    mount --move /dev /newroot/dev
    mount --move /proc /newroot/proc
    mount --move /sys /newroot/sys
    exec switch_root /newroot /init stage2
fi
mkdir -p /dev/pts /dev/shm /dev/mqueue /etc
echo root:x:0:0:root:/root:/bin/sh >/etc/passwd
echo root:x:0: >/etc/group
echo berth-vm >/etc/hostname
hostname berth-vm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Every controller the kernel offers, for the containers' cgroups.
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control
done
for m in /mods/*.ko; do insmod "$m" || echo "vm: insmod $m failed"; done
ip link set lo up
for a in $(cat /proc/cmdline); do
    case "$a" in berth.repo=*) repo="${a#berth.repo=}" ;; berth.script=*) script="${a#berth.script=}" ;; esac
done
mkdir -p "$repo"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 repo "$repo"
cd "$repo"
sh "$script"
echo "berth-vm-exit=$?"
sync
poweroff -f
EOF
    chmod +x "$st/init"
    (cd "$st" && find . | cpio -o -H newc --quiet) >"$initrd.tmp"
    mv "$initrd.tmp" "$initrd"
    rm -rf "$st"
fi

log="$cache/console.log"
# -no-reboot: a kernel panic ends QEMU instead of looping.
timeout --kill-after=10 1500 qemu-system-x86_64 \
    -machine q35 -accel tcg -cpu max -smp 2 -m 2048 \
    -bios /usr/share/qemu/qboot.rom \
    -kernel "$kdir/vmlinux" -initrd "$initrd" \
    -append "console=ttyS0 quiet panic=-1 cgroup_no_v1=all rdinit=/init berth.repo=$repo berth.script=$script" \
    -virtfs "local,path=$repo,mount_tag=repo,security_model=none,id=repo" \
    -nodefaults -display none -serial stdio -no-reboot </dev/null | tee "$log"
code="$(sed -n 's/^berth-vm-exit=\([0-9]*\).*/\1/p' "$log" | tail -1)"
[ -n "$code" ] || { echo "$0: the VM did not report an exit status (see $log)" >&2; exit 1; }
exit "$code"
