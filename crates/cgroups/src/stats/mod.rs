//! Resource usage of a container's cgroups, in the JSON shape `runc
//! events` prints: v1 and hybrid hosts here, pure v2 in `v2.rs`.

mod v2;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;

use crate::{Cgroup, Error};

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct CpuUsage {
    #[serde(rename = "percpu_usage", skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Nanoseconds.
    pub total: u64,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Memory {
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct MemoryEntry {
    pub limit: u64,
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Pids {
    pub current: u64,
    /// 0 when unlimited.
    pub limit: u64,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Blkio {
    #[serde(rename = "ioServiceBytesRecursive")]
    pub io_service_bytes: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive")]
    pub io_serviced: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Hugetlb {
    pub usage: u64,
    pub max_usage: u64,
    pub failcnt: u64,
}

/// Nanoseconds per USER_HZ tick of cpuacct.stat.
const NS_PER_TICK: u64 = 10_000_000;

pub(crate) fn num(dir: &Path, file: &str) -> u64 {
    let text = fs::read_to_string(dir.join(file)).unwrap_or_default();
    let t = text.trim();
    if t == "max" {
        return 0;
    }
    t.parse().unwrap_or(0)
}

/// `key value` lines.
pub(crate) fn pairs(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// `MAJ:MIN Op value` lines (the `Total` line left out).
fn blkio(dir: &Path, file: &str) -> Vec<BlkioEntry> {
    fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, op, value) = (f.next()?, f.next()?, f.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

fn entry(dir: &Path, prefix: &str) -> MemoryEntry {
    MemoryEntry {
        limit: num(dir, &format!("{prefix}.limit_in_bytes")),
        usage: num(dir, &format!("{prefix}.usage_in_bytes")),
        max: num(dir, &format!("{prefix}.max_usage_in_bytes")),
        failcnt: num(dir, &format!("{prefix}.failcnt")),
    }
}

impl Cgroup {
    /// Usage and limits as the kernel reports them now.
    pub fn stats(&self) -> Result<Stats, Error> {
        if self.record().v2 {
            let leaf = self.record().leaves.first().map(|(_, d)| d.clone());
            return Ok(leaf.map(|d| v2::stats(&d)).unwrap_or_default());
        }
        let mut s = Stats::default();
        if let Some(d) = self.v1_dir("cpuacct") {
            s.cpu.usage.total = num(&d, "cpuacct.usage");
            s.cpu.usage.percpu = fs::read_to_string(d.join("cpuacct.usage_percpu"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            let stat = pairs(&d, "cpuacct.stat");
            s.cpu.usage.user = stat.get("user").copied().unwrap_or(0) * NS_PER_TICK;
            s.cpu.usage.kernel = stat.get("system").copied().unwrap_or(0) * NS_PER_TICK;
        }
        if let Some(d) = self.v1_dir("cpu") {
            let stat = pairs(&d, "cpu.stat");
            let get = |k: &str| stat.get(k).copied().unwrap_or(0);
            s.cpu.throttling = Throttling {
                periods: get("nr_periods"),
                throttled_periods: get("nr_throttled"),
                throttled_time: get("throttled_time"),
            };
        }
        if let Some(d) = self.v1_dir("memory") {
            s.memory.usage = entry(&d, "memory");
            s.memory.swap = entry(&d, "memory.memsw");
            s.memory.kernel = entry(&d, "memory.kmem");
            s.memory.kernel_tcp = entry(&d, "memory.kmem.tcp");
            s.memory.raw = pairs(&d, "memory.stat");
            s.memory.cache = s.memory.raw.get("total_cache").copied().unwrap_or(0);
        }
        if let Some(d) = self.v1_dir("pids") {
            s.pids = Pids {
                current: num(&d, "pids.current"),
                limit: num(&d, "pids.max"),
            };
        }
        if let Some(d) = self.v1_dir("blkio") {
            s.blkio.io_service_bytes = blkio(&d, "blkio.throttle.io_service_bytes_recursive");
            s.blkio.io_serviced = blkio(&d, "blkio.throttle.io_serviced_recursive");
        }
        if let Some(d) = self.v1_dir("hugetlb") {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(size) = name
                    .strip_prefix("hugetlb.")
                    .and_then(|n| n.strip_suffix(".usage_in_bytes"))
                else {
                    continue;
                };
                s.hugetlb.insert(
                    size.to_string(),
                    Hugetlb {
                        usage: num(&d, &name),
                        max_usage: num(&d, &format!("hugetlb.{size}.max_usage_in_bytes")),
                        failcnt: num(&d, &format!("hugetlb.{size}.failcnt")),
                    },
                );
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_files() {
        let d = std::env::temp_dir().join(format!("berth-stats-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("memory.stat"), "cache 10\ntotal_cache 20\nrss 5\n").unwrap();
        fs::write(
            d.join("blkio.throttle.io_service_bytes_recursive"),
            "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
        )
        .unwrap();
        fs::write(d.join("pids.max"), "max\n").unwrap();
        fs::write(d.join("memory.limit_in_bytes"), "1048576\n").unwrap();
        assert_eq!(pairs(&d, "memory.stat").get("total_cache"), Some(&20));
        let b = blkio(&d, "blkio.throttle.io_service_bytes_recursive");
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].major, b[0].minor, b[0].op.as_str(), b[0].value),
            (8, 0, "Read", 4096)
        );
        assert_eq!(num(&d, "pids.max"), 0, "max is unlimited: 0");
        assert_eq!(entry(&d, "memory").limit, 1 << 20);
        assert_eq!(num(&d, "missing"), 0);
        fs::remove_dir_all(&d).unwrap();
    }
}
