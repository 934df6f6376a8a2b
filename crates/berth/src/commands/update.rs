use std::path::Path;

use anyhow::{bail, Context};
use berth_container::{Resources, UpdateOptions};

use crate::cli::Update;

/// `update`: runc's flags (memory sizes with units) onto the library.
pub fn update(root: &Path, u: &Update) -> anyhow::Result<()> {
    let refused = [
        ("--l3-cache-schema", u.l3_cache_schema.is_some()),
        ("--mem-bw-schema", u.mem_bw_schema.is_some()),
    ];
    if let Some((flag, _)) = refused.iter().find(|(_, given)| *given) {
        bail!("update {flag}: Intel RDT is not supported yet");
    }
    let bytes = |v: &Option<String>, flag: &str| {
        v.as_deref()
            .map(parse_bytes)
            .transpose()
            .with_context(|| flag.to_string())
    };
    let limits = Resources {
        memory_limit: bytes(&u.memory, "--memory")?,
        memory_reservation: bytes(&u.memory_reservation, "--memory-reservation")?,
        memory_swap: bytes(&u.memory_swap, "--memory-swap")?,
        memory_kernel: bytes(&u.kernel_memory, "--kernel-memory")?,
        memory_kernel_tcp: bytes(&u.kernel_memory_tcp, "--kernel-memory-tcp")?,
        cpu_shares: u.cpu_share,
        cpu_quota: u.cpu_quota,
        cpu_period: u.cpu_period,
        cpu_burst: u.cpu_burst,
        cpu_rt_period: u.cpu_rt_period,
        cpu_rt_runtime: u.cpu_rt_runtime,
        cpu_idle: u.cpu_idle,
        cpus: u.cpuset_cpus.clone(),
        mems: u.cpuset_mems.clone(),
        pids_limit: u.pids_limit,
        blkio_weight: u.blkio_weight,
        ..Resources::default()
    };
    let resources_file = u.resources.as_ref().map(|p| {
        if p.as_os_str() == "-" {
            "/dev/stdin".into()
        } else {
            p.clone()
        }
    });
    let opts = UpdateOptions {
        resources_file,
        limits,
    };
    berth_container::update(root, &u.container_id, &opts)
        .with_context(|| format!("updating container {:?}", u.container_id))
}

/// A size as runc takes it: bytes, or a number with a k, m, g, t or p
/// suffix (binary multiples, an optional trailing b/ib); -1 for no limit.
fn parse_bytes(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t
        .strip_suffix("ib")
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(&t);
    let (num, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        Some('p') => (&t[..t.len() - 1], 50),
        _ => (t, 0),
    };
    let n: f64 = num
        .trim()
        .parse()
        .with_context(|| format!("invalid size {s:?}"))?;
    if !n.is_finite() || n < 0.0 {
        bail!("invalid size {s:?}");
    }
    let v = n * (1u64 << shift) as f64;
    if v > i64::MAX as f64 {
        bail!("size {s:?} is too large");
    }
    Ok(v as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("64KiB").unwrap(), 64 << 10);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        for bad in ["", "m", "-5", "12x", "nan"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
