#!/usr/bin/env bash
# hack/bundle.sh DIR [ARGS...]: makes a busybox-static bundle in DIR (root
# read-only, no terminal) whose process runs ARGS (default: a short shell
# session). Used by the example and the benchmarks.
set -euo pipefail
dir=$1; shift
berth=${BERTH:-$(dirname "$0")/../target/x86_64-unknown-linux-gnu/release/berth}
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in sh echo cat ls id hostname uname true sleep mount ps; do
  ln -sf busybox "$dir/rootfs/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/rootfs/etc/passwd"
echo 'root:x:0:' > "$dir/rootfs/etc/group"
rm -f "$dir/config.json"
"$berth" spec --bundle "$dir"
args_json=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@")
python3 - "$dir/config.json" "$args_json" <<'PY'
import json, sys
path, args = sys.argv[1], json.loads(sys.argv[2])
c = json.load(open(path))
c["process"]["terminal"] = False
if args:
    c["process"]["args"] = args
json.dump(c, open(path, "w"), indent=2)
PY
