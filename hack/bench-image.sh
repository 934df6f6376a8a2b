#!/usr/bin/env bash
# Unpack throughput of berth-image against umoci and plain `tar -xzf` on
# the same multi-layer image, in one run. The image (about 420 MB of
# files in four gzip layers: /usr/share/doc, /usr/lib/gcc, /usr/include
# and /usr/lib/python3) is built here as an OCI layout; each tool unpacks it into a
# fresh directory, best of 3 runs: once on the disk (each run synced,
# so writeback counts for every tool) and once on tmpfs (the unpacker's
# own cost).
# Needs root and umoci (apt-get install umoci).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v umoci >/dev/null || { echo "umoci not installed: apt-get install umoci" >&2; exit 1; }
cargo build --release -p berth-image-cli >/dev/null 2>&1
bin="$PWD/target/x86_64-unknown-linux-gnu/release/berth-image"
work=$(mktemp -d /var/tmp/berth-bench-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
img="$work/img"
mkdir -p "$img/blobs/sha256" "$work/layers"
n=0
for src in /usr/share/doc /usr/lib/gcc /usr/include /usr/lib/python3; do
  n=$((n + 1))
  tar -C / -cf "$work/layers/$n.tar" "${src#/}" 2>/dev/null || true
  gzip -1 -c "$work/layers/$n.tar" > "$work/layers/$n.tar.gz"
done
python3 - "$img" "$work/layers" "$n" <<'PY'
import hashlib, json, os, shutil, sys
img, layers, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def blob(path):
    h = hashlib.sha256(); size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk); size += len(chunk)
    d = h.hexdigest()
    shutil.copy(path, os.path.join(img, "blobs/sha256", d))
    return "sha256:" + d, size
def data(b):
    d = hashlib.sha256(b).hexdigest()
    open(os.path.join(img, "blobs/sha256", d), "wb").write(b)
    return "sha256:" + d, len(b)
descs, diffs = [], []
for i in range(1, n + 1):
    diffs.append(blob(os.path.join(layers, f"{i}.tar"))[0])
    os.remove(os.path.join(img, "blobs/sha256", diffs[-1][7:]))
    d, s = blob(os.path.join(layers, f"{i}.tar.gz"))
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s})
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
cd, cs = data(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                  "layers": descs}).encode()
md, ms = data(man)
open(os.path.join(img, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "bench"}}]},
          open(os.path.join(img, "index.json"), "w"))
PY
mb=$(python3 -c 'import os,sys; print(sum(os.path.getsize(os.path.join(sys.argv[1], f)) for f in os.listdir(sys.argv[1]) if f.endswith(".tar")) // 1048576)' "$work/layers")
rm -f "$work"/layers/*.tar
best() { # DIR CMD...: best wall time in seconds of 3 runs (DEST is replaced by a fresh DIR/out)
  python3 - "$1/out" "${@:2}" <<'PY'
import os, shutil, subprocess, sys, time
dest, cmd = sys.argv[1], sys.argv[2:]
best = None
for _ in range(3):
    shutil.rmtree(dest, ignore_errors=True)
    # Each run starts with nothing dirty in the page cache and ends with
    # its files on disk: writeback is part of the cost, for every tool.
    os.sync()
    t = time.monotonic()
    subprocess.run([a.replace("DEST", dest) for a in cmd], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.sync()
    t = time.monotonic() - t
    best = t if best is None else min(best, t)
shutil.rmtree(dest, ignore_errors=True)
print(f"{best:.3f}")
PY
}
untar() { mkdir -p "$1"; for f in "$work"/layers/*.tar.gz; do tar -C "$1" -xzf "$f"; done; }
export -f untar; export work
mem=$(mktemp -d /dev/shm/berth-bench-image.XXXXXX)
trap 'rm -rf "$work" "$mem"' EXIT
line() { # WHERE DIR
  local tb tu tt
  tb=$(best "$2" "$bin" unpack -q --image "$img:bench" DEST)
  tu=$(best "$2" umoci unpack --image "$img:bench" DEST)
  tt=$(best "$2" bash -c 'untar DEST')
  python3 - "$1" "$mb" "$tb" "$tu" "$tt" <<'PY'
import sys
where = sys.argv[1]
mb, b, u, t = (float(x) for x in sys.argv[2:])
print(f"{where}: berth-image {b:6.2f} s ({mb / b:6.1f} MB/s)  umoci {u:6.2f} s ({mb / u:6.1f} MB/s)  tar -xzf {t:6.2f} s"
      f"  | berth/umoci throughput {u / b:.2f}x (target >= 2), berth/tar time {b / t:.2f} (target <= 1.5)")
PY
}
echo "berth-image bench: $mb MB uncompressed in 4 gzip layers, best of 3"
line "ext4 disk (synced)" "$work"
line "tmpfs (memory)    " "$mem"
