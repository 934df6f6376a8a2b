#!/usr/bin/env bash
# Installs what building and testing Berth needs on a fresh Debian 12
# machine (run as root). The Rust toolchain itself is expected on PATH.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# busybox-static: the rootfs of every test and example bundle.
# libc6-dev: glibc's static libraries for the static checker binary.
# umoci, skopeo: real peers that build OCI layouts and archives for the
# berth-image tests.
# qemu-system-x86 (with qemu-system-data's qboot), cpio, xz-utils: the
# pure cgroup v2 test VM (hack/vm-test.sh downloads its kernel package).
# containerd (with ctr): the engine tier of containerd-shim-berth-v2.
apt-get install -y -qq busybox-static libc6-dev umoci skopeo containerd >/dev/null
apt-get install -y -qq --no-install-recommends qemu-system-x86 qemu-system-data \
    cpio xz-utils >/dev/null
