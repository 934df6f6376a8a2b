//! A mutation fuzzer for what a bundle hands the runtime: config.json
//! bytes go through parsing, validation and planning (seccomp compilation
//! included), container ids through their check. None of it may panic;
//! every refusal must say something. It runs as a unit test, so CI runs a
//! short round (2,000 configs); for a long one:
//!
//! ```sh
//! BERTH_FUZZ_ITERS=1000000 BERTH_FUZZ_SEED=$RANDOM cargo test --release -p berth-container fuzz
//! ```
//!
//! Mutations are structural (any value replaced by one of another type,
//! extreme numbers, hostile strings, keys removed, known keys added where
//! they do not belong, array entries duplicated) and, for one config in
//! ten, textual (bytes flipped, the text cut short).

use serde_json::{json, Value};

use crate::plan::{Plan, PlanFlags};

/// xorshift64*: deterministic, so a failure can be replayed by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &[
    "ociVersion",
    "root",
    "path",
    "readonly",
    "process",
    "args",
    "env",
    "cwd",
    "user",
    "uid",
    "gid",
    "umask",
    "additionalGids",
    "capabilities",
    "bounding",
    "effective",
    "rlimits",
    "type",
    "soft",
    "hard",
    "terminal",
    "consoleSize",
    "height",
    "width",
    "noNewPrivileges",
    "oomScoreAdj",
    "ioPriority",
    "class",
    "priority",
    "scheduler",
    "policy",
    "nice",
    "hostname",
    "domainname",
    "mounts",
    "destination",
    "source",
    "options",
    "linux",
    "namespaces",
    "uidMappings",
    "gidMappings",
    "containerID",
    "hostID",
    "size",
    "devices",
    "major",
    "minor",
    "fileMode",
    "sysctl",
    "maskedPaths",
    "readonlyPaths",
    "rootfsPropagation",
    "cgroupsPath",
    "resources",
    "memory",
    "limit",
    "cpu",
    "quota",
    "period",
    "shares",
    "cpus",
    "pids",
    "seccomp",
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "syscalls",
    "names",
    "action",
    "errnoRet",
    "index",
    "value",
    "valueTwo",
    "op",
    "listenerPath",
    "hooks",
    "prestart",
    "poststart",
    "timeout",
    "timeOffsets",
    "personality",
    "domain",
    "annotations",
];

const STRINGS: &[&str] = &[
    "",
    "/",
    "..",
    "../../../etc",
    "/proc/self/fd/0",
    "a\0b",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_NOTIFY",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_ARCH_X32",
    "RLIMIT_NOFILE",
    "CAP_SYS_ADMIN",
    "user",
    "pid",
    "bind",
    "rbind",
    "tmpfs",
    "proc",
    "1.2.0",
    "0.1",
    "rprivate",
    "kernel.panic",
    "é∂€",
];

fn random_value(r: &mut Rng, depth: u32) -> Value {
    let kind = r.below(if depth > 2 { 9 } else { 11 });
    random_kind(r, kind, depth)
}

/// A value of kind `kind` (see [`random_kind`]), strings of any kind.
fn random_value_of(r: &mut Rng, kind: usize) -> Value {
    let kind = if kind == 5 { *r.pick(&[5, 6, 7]) } else { kind };
    random_kind(r, kind, 0)
}

fn random_kind(r: &mut Rng, kind: usize, depth: u32) -> Value {
    match kind {
        0 => Value::Null,
        1 => json!(r.below(2) == 0),
        2 => json!(*r.pick(&[0i64, -1, 1, i64::MIN, i64::MAX, 4096, 65536, 0x4000_0000])),
        3 => json!(*r.pick(&[u64::MAX, 1 << 32, (1 << 32) - 1, 1 << 63])),
        4 => json!(*r.pick(&[0.5f64, -1e300, 1e300])),
        5 => json!(*r.pick(STRINGS)),
        6 => json!("x".repeat(r.below(70_000))),
        7 => json!(format!("/{}", "a/".repeat(r.below(5_000)))),
        8 => json!(r.next()),
        9 => Value::Array(
            (0..r.below(4))
                .map(|_| random_value(r, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..r.below(4))
                .map(|_| (r.pick(KEYS).to_string(), random_value(r, depth + 1)))
                .collect(),
        ),
    }
}

/// Applies one mutation somewhere in `v`.
fn mutate(r: &mut Rng, v: &mut Value, depth: u32) {
    let descend = depth < 8 && r.below(3) != 0;
    match v {
        Value::Object(m) if descend && !m.is_empty() => {
            let key = m.keys().nth(r.below(m.len())).cloned().unwrap_or_default();
            if let Some(child) = m.get_mut(&key) {
                return mutate(r, child, depth + 1);
            }
        }
        Value::Array(a) if descend && !a.is_empty() => {
            let i = r.below(a.len());
            return mutate(r, &mut a[i], depth + 1);
        }
        _ => {}
    }
    if r.below(2) == 0 {
        // Same type, hostile value: these get past the parser.
        match v {
            Value::String(_) => *v = random_value_of(r, 5),
            Value::Number(_) => {
                let kind = *r.pick(&[2, 3, 8]);
                *v = random_value_of(r, kind);
            }
            Value::Bool(b) => *b = !*b,
            Value::Array(a) if !a.is_empty() && r.below(2) == 0 => {
                a.remove(r.below(a.len()));
            }
            _ => {}
        }
        return;
    }
    match (r.below(4), v) {
        (0, Value::Object(m)) if !m.is_empty() => {
            let key = m.keys().nth(r.below(m.len())).cloned().unwrap_or_default();
            m.remove(&key);
        }
        (1, Value::Object(m)) => {
            m.insert(r.pick(KEYS).to_string(), random_value(r, depth));
        }
        (2, Value::Array(a)) if !a.is_empty() => {
            let item = a[r.below(a.len())].clone();
            for _ in 0..r.below(300) {
                a.push(item.clone());
            }
        }
        (_, other) => *other = random_value(r, depth),
    }
}

fn mangle_text(r: &mut Rng, text: &mut Vec<u8>) {
    if r.below(2) == 0 {
        text.truncate(r.below(text.len()));
    } else {
        for _ in 0..=r.below(8) {
            let i = r.below(text.len());
            text[i] = r.next() as u8;
        }
    }
}

fn seeds() -> Vec<Value> {
    let base = crate::spec_default::default_spec();
    let mut rich = base.clone();
    rich["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "user"}, {"type": "mount"},
        {"type": "time"}, {"type": "network", "path": "/proc/1/ns/net"}]);
    rich["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
    rich["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
    rich["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 10, "nanosecs": 5}});
    rich["linux"]["devices"] =
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]);
    rich["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    rich["linux"]["resources"] = json!({"memory": {"limit": 1_000_000}, "pids": {"limit": 10},
        "cpu": {"quota": 1000, "period": 100_000, "cpus": "0"}});
    rich["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]);
    rich["process"]["consoleSize"] = json!({"height": 10, "width": 20});
    rich["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "nice": 5});
    rich["hooks"] = json!({"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 1}]});
    rich["mounts"] = json!([{"destination": "/data", "type": "bind", "source": "/tmp",
        "options": ["rbind", "ro", "rprivate"]}]);
    let mut sec = base.clone();
    sec["linux"]["seccomp"] = serde_json::from_str(include_str!(
        "../../../integration_tests/fixtures/seccomp-docker-like.json"
    ))
    .unwrap_or_default();
    sec["linux"]["seccomp"]["syscalls"][1]["args"] =
        json!([{"index": 0, "value": 8, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]);
    vec![base, rich, sec]
}

/// Parse, validate, plan: Ok, or an error that says something. Returns
/// how far the config got (0 parse error, 1 invalid, 2 refused by the
/// planner, 3 planned).
fn exercise(text: &[u8], rootfs: &std::path::Path) -> usize {
    let spec = match crate::config::parse(text, "config.json".into()) {
        Ok(s) => s,
        Err(e) => return said(e, 0),
    };
    if let Err(e) = crate::config::validate(&spec) {
        return said(e, 1);
    }
    match Plan::build(&spec, rootfs, rootfs, PlanFlags::default()) {
        Ok(_) => 3,
        Err(e) => said(e, 2),
    }
}

fn said(e: crate::Error, stage: usize) -> usize {
    assert!(!e.to_string().is_empty());
    stage
}

#[test]
fn configs_never_panic_the_loader_validator_or_planner() {
    let iters: u64 = std::env::var("BERTH_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("BERTH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let mut r = Rng(seed | 1);
    let dir = std::env::temp_dir().join(format!("berth-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("etc")).unwrap_or_default();
    let _ = std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    let seeds = seeds();
    let mut reached = [0u64; 4];
    for i in 0..iters {
        let mut v = r.pick(&seeds).clone();
        for _ in 0..=r.below(4) {
            mutate(&mut r, &mut v, 0);
        }
        let mut text = serde_json::to_vec(&v).unwrap_or_default();
        if r.below(10) == 0 && !text.is_empty() {
            mangle_text(&mut r, &mut text);
        }
        match std::panic::catch_unwind(|| exercise(&text, &dir)) {
            Ok(stage) => reached[stage] += 1,
            Err(_) => {
                let _ = std::fs::remove_dir_all(&dir);
                panic!(
                    "iteration {i} (seed {seed}) panicked on: {}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    // [parse error, invalid, refused by the planner, planned]
    eprintln!("fuzz: {iters} configs, seed {seed}, outcomes {reached:?}");
    assert!(
        reached[1] > 0 && reached[3] > 0,
        "the mutations never reach validation or planning"
    );
}

#[test]
fn container_ids_never_panic_and_accepted_ones_are_safe() {
    let mut r = Rng(0x1d5);
    let alphabet: Vec<char> = "aZ09_+-./\\\0 é.".chars().collect();
    for _ in 0..20_000 {
        let max = if r.below(50) == 0 { 2000 } else { 12 };
        let len = r.below(max);
        let id: String = (0..len).map(|_| *r.pick(&alphabet)).collect();
        if crate::id::validate(&id).is_ok() {
            assert!(
                !id.is_empty() && id != "." && id != ".." && !id.contains('/'),
                "{id:?}"
            );
            assert!(!id.contains('\0') && id.len() <= 1024, "{id:?}");
        }
    }
}
