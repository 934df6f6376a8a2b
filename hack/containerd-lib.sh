# Sourced by the hack scripts that need a private containerd or the test
# image (bench-shim.sh, link-order.sh, test-v2.sh). POSIX sh.

# busybox_image DIR TAR APPLET...: a busybox image built in DIR with
# umoci (rootfs: busybox and the named applets, /tmp) and written by skopeo
# to TAR as a docker archive tagged docker.io/berth/busybox:latest, as the
# engine tests build theirs.
busybox_image() {
    dir=$1 tar=$2
    shift 2
    (
        cd "$dir"
        umoci init --layout img && umoci new --image img:t && umoci unpack --image img:t u >/dev/null
        mkdir -p u/rootfs/bin u/rootfs/tmp && cp /bin/busybox u/rootfs/bin/
        for a in "$@"; do ln -s busybox "u/rootfs/bin/$a"; done
        umoci repack --image img:t u
        skopeo copy -q oci:img:t "docker-archive:$tar:berth/busybox:latest"
        rm -rf img u
    )
}

# ctd_start WORK PATH_PREFIX: a containerd with its root, state and sockets
# in WORK (the CRI plugin off), PATH_PREFIX first on its PATH (where it
# finds shims); sets ctd_pid and returns once it answers on WORK/c.sock.
ctd_start() {
    cat >"$1/config.toml" <<CFG
version = 2
root = "$1/root"
state = "$1/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$1/c.sock"
[ttrpc]
  address = "$1/c.sock.ttrpc"
CFG
    PATH="$2:$PATH" containerd --config "$1/config.toml" >"$1/containerd.log" 2>&1 &
    ctd_pid=$!
    until command ctr -a "$1/c.sock" version >/dev/null 2>&1; do sleep 0.05; done
}
