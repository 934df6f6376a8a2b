#!/usr/bin/env bash
# Seccomp figures, berth against runc in the same run:
#   - time to compile the Docker-shaped profile of the tests
#     (integration_tests/fixtures/seccomp-docker-like.json, ~370 syscalls,
#     three ABIs) and the size of the program;
#   - cost of one allowed syscall (getppid) inside a container under that
#     profile, minus the cost without a filter: berth's BPF against the
#     libseccomp-built filter runc installs.
# Needs root and runc (apt-get install runc).
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${CALLS:-2000000}
cargo build --release -p berth -p berth-checker >/dev/null 2>&1
cargo build --release -p berth-seccomp --example compile_time >/dev/null 2>&1
rel=target/x86_64-unknown-linux-gnu/release
profile=integration_tests/fixtures/seccomp-docker-like.json
command -v runc >/dev/null || { echo "runc not installed: apt-get install runc" >&2; exit 1; }
work=$(mktemp -d /tmp/berth-bench-seccomp.XXXXXX)
trap 'rm -rf "$work"' EXIT

read -r compile_us insns < <("$rel/examples/compile_time" "$profile")

bundle() { # DIR WITH_PROFILE
  BERTH="$PWD/$rel/berth" hack/bundle.sh "$1" /bin/checker spin 110 "$calls" >/dev/null
  cp "$rel/berth-checker" "$1/rootfs/bin/checker"
  python3 - "$1/config.json" "$profile" "$2" <<'PY'
import json, sys
path, profile, on = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
c = json.load(open(path))
if on:
    c["linux"]["seccomp"] = json.load(open(profile))
json.dump(c, open(path, "w"))
PY
}
bundle "$work/plain" 0
bundle "$work/filtered" 1
ns() { # RUNTIME BUNDLE: best of 5 runs, ns per call
  local best="" v
  for i in 1 2 3 4 5; do
    v=$("$1" --root "$work/state-$(basename "$1")" run -b "$2" "b$i" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ns_per_call"])')
    best=$(python3 -c "print(min(float('$v'), float('${best:-$v}')))")
  done
  echo "$best"
}
plain=$(ns "$PWD/$rel/berth" "$work/plain")
berth=$(ns "$PWD/$rel/berth" "$work/filtered")
runc=$(ns runc "$work/filtered")
python3 - "$compile_us" "$insns" "$plain" "$berth" "$runc" "$(runc --version | head -1)" <<'PY'
import sys
us, insns, plain, b, r, version = sys.argv[1:]
us, plain, b, r = float(us), float(plain), float(b), float(r)
print(f"berth seccomp bench, {version}")
print(f"compile Docker-shaped profile  {us:8.1f} us   ({insns} BPF instructions)")
print(f"getppid without a filter       {plain:8.1f} ns")
print(f"getppid, berth's filter        {b:8.1f} ns   (+{b - plain:.1f})")
print(f"getppid, runc's (libseccomp)   {r:8.1f} ns   (+{r - plain:.1f})")
print(f"filter overhead ratio berth/runc  {(b - plain) / max(r - plain, 0.1):.2f}")
PY
