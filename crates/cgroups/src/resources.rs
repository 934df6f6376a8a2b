//! `linux.resources` limits for v1 hierarchies, as a plan of file writes
//! (a pure function, unit-tested) and the code that applies it.
//!
//! This stage covers memory (limit, reservation, swap, swappiness,
//! disableOOMKiller), cpu (shares, quota, period, cpus, mems), pids and
//! the blockIO throttles.
//! The runtime refuses every other field, and all of them on a pure
//! cgroup v2 host, before anything is created.

use std::path::PathBuf;

use crate::{Cgroup, Error};

/// The limits this stage applies; `None` leaves the kernel's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resources {
    pub memory_limit: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// memory+swap, as runtime-spec's `swap` (memsw on v1).
    pub memory_swap: Option<i64>,
    pub swappiness: Option<u64>,
    pub disable_oom_killer: Option<bool>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpus: Option<String>,
    pub mems: Option<String>,
    pub pids_limit: Option<i64>,
    /// blockIO throttles: (file, major, minor, rate per second).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blkio_throttle: Vec<(BlkioThrottle, i64, i64, u64)>,
}

/// The four v1 blkio throttle files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BlkioThrottle {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl BlkioThrottle {
    pub fn file(self) -> &'static str {
        match self {
            BlkioThrottle::ReadBps => "blkio.throttle.read_bps_device",
            BlkioThrottle::WriteBps => "blkio.throttle.write_bps_device",
            BlkioThrottle::ReadIops => "blkio.throttle.read_iops_device",
            BlkioThrottle::WriteIops => "blkio.throttle.write_iops_device",
        }
    }
}

/// One write: controller (hierarchy name), file, value.
pub type Write = (&'static str, &'static str, String);

/// -1 (and for pids, 0 or less) means no limit.
fn limit(v: i64) -> String {
    if v < 0 {
        "-1".into()
    } else {
        v.to_string()
    }
}

impl Resources {
    /// The v1 writes, in the order the kernel needs them: the period
    /// before the quota it scales, the memory limit before memory+swap
    /// (which may not be below it).
    pub fn v1_writes(&self) -> Vec<Write> {
        let mut w: Vec<Write> = Vec::new();
        let mut push = |c, f, v: Option<String>| {
            if let Some(v) = v {
                w.push((c, f, v));
            }
        };
        push(
            "cpuset",
            "cpuset.cpus",
            self.cpus.clone().filter(|s| !s.is_empty()),
        );
        push(
            "cpuset",
            "cpuset.mems",
            self.mems.clone().filter(|s| !s.is_empty()),
        );
        push(
            "cpu",
            "cpu.shares",
            self.cpu_shares.filter(|&s| s > 0).map(|s| s.to_string()),
        );
        push(
            "cpu",
            "cpu.cfs_period_us",
            self.cpu_period.filter(|&p| p > 0).map(|p| p.to_string()),
        );
        push(
            "cpu",
            "cpu.cfs_quota_us",
            self.cpu_quota.filter(|&q| q != 0).map(limit),
        );
        push(
            "memory",
            "memory.limit_in_bytes",
            self.memory_limit.filter(|&m| m != 0).map(limit),
        );
        push(
            "memory",
            "memory.memsw.limit_in_bytes",
            self.memory_swap.filter(|&m| m != 0).map(limit),
        );
        push(
            "memory",
            "memory.soft_limit_in_bytes",
            self.memory_reservation.filter(|&m| m != 0).map(limit),
        );
        push(
            "memory",
            "memory.swappiness",
            self.swappiness.map(|s| s.to_string()),
        );
        push(
            "memory",
            "memory.oom_control",
            self.disable_oom_killer
                .filter(|&d| d)
                .map(|_| "1".to_string()),
        );
        push(
            "pids",
            "pids.max",
            self.pids_limit
                .map(|p| if p > 0 { p.to_string() } else { "max".into() }),
        );
        for (kind, major, minor, rate) in &self.blkio_throttle {
            w.push(("blkio", kind.file(), format!("{major}:{minor} {rate}")));
        }
        w
    }

    /// `self` with every field `newer` sets replaced (for `update`).
    pub fn merged(&self, newer: &Resources) -> Resources {
        Resources {
            memory_limit: newer.memory_limit.or(self.memory_limit),
            memory_reservation: newer.memory_reservation.or(self.memory_reservation),
            memory_swap: newer.memory_swap.or(self.memory_swap),
            swappiness: newer.swappiness.or(self.swappiness),
            disable_oom_killer: newer.disable_oom_killer.or(self.disable_oom_killer),
            cpu_shares: newer.cpu_shares.or(self.cpu_shares),
            cpu_quota: newer.cpu_quota.or(self.cpu_quota),
            cpu_period: newer.cpu_period.or(self.cpu_period),
            cpus: newer.cpus.clone().or_else(|| self.cpus.clone()),
            mems: newer.mems.clone().or_else(|| self.mems.clone()),
            pids_limit: newer.pids_limit.or(self.pids_limit),
            blkio_throttle: if newer.blkio_throttle.is_empty() {
                self.blkio_throttle.clone()
            } else {
                newer.blkio_throttle.clone()
            },
        }
    }

    /// Checks what the kernel would refuse less clearly.
    pub fn validate(&self) -> Result<(), Error> {
        if self.swappiness.is_some_and(|s| s > 100) {
            return Err(Error::Resources(
                "memory.swappiness must be 0 to 100".into(),
            ));
        }
        if let (Some(m), Some(s)) = (self.memory_limit, self.memory_swap) {
            if m > 0 && s > 0 && s < m {
                return Err(Error::Resources(
                    "memory.swap (memory+swap) is below memory.limit".into(),
                ));
            }
        }
        Ok(())
    }
}

impl Cgroup {
    /// Writes the limits into the container's v1 cgroups.
    pub fn apply_resources(&self, r: &Resources) -> Result<(), Error> {
        r.validate()?;
        for (controller, file, value) in r.v1_writes() {
            let Some((_, dir)) = self
                .record()
                .leaves
                .iter()
                .find(|(n, _)| n.split(',').any(|c| c == controller))
            else {
                return Err(Error::Resources(format!(
                    "the {controller} controller is not mounted"
                )));
            };
            let path: PathBuf = dir.join(file);
            std::fs::write(&path, &value).map_err(|source| Error::Write {
                path,
                value,
                source,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkio_throttles_are_one_line_per_device_and_survive_update() {
        let r = Resources {
            blkio_throttle: vec![
                (BlkioThrottle::ReadBps, 8, 0, 1024),
                (BlkioThrottle::WriteIops, 8, 16, 7),
            ],
            ..Default::default()
        };
        assert_eq!(
            r.v1_writes(),
            [
                (
                    "blkio",
                    "blkio.throttle.read_bps_device",
                    "8:0 1024".to_string()
                ),
                (
                    "blkio",
                    "blkio.throttle.write_iops_device",
                    "8:16 7".to_string()
                ),
            ]
        );
        let updated = r.merged(&Resources {
            pids_limit: Some(5),
            ..Default::default()
        });
        assert_eq!(updated.blkio_throttle, r.blkio_throttle);
    }

    #[test]
    fn order_and_values() {
        let r = Resources {
            memory_limit: Some(64 << 20),
            memory_swap: Some(128 << 20),
            memory_reservation: Some(32 << 20),
            swappiness: Some(10),
            disable_oom_killer: Some(true),
            cpu_shares: Some(512),
            cpu_quota: Some(50000),
            cpu_period: Some(100000),
            cpus: Some("0".into()),
            pids_limit: Some(0),
            ..Resources::default()
        };
        let w: Vec<String> = r
            .v1_writes()
            .iter()
            .map(|(c, f, v)| format!("{c}/{f}={v}"))
            .collect();
        assert_eq!(
            w,
            [
                "cpuset/cpuset.cpus=0",
                "cpu/cpu.shares=512",
                "cpu/cpu.cfs_period_us=100000",
                "cpu/cpu.cfs_quota_us=50000",
                "memory/memory.limit_in_bytes=67108864",
                "memory/memory.memsw.limit_in_bytes=134217728",
                "memory/memory.soft_limit_in_bytes=33554432",
                "memory/memory.swappiness=10",
                "memory/memory.oom_control=1",
                "pids/pids.max=max",
            ]
        );
    }

    #[test]
    fn unlimited_and_checks() {
        let r = Resources {
            memory_limit: Some(-1),
            cpu_quota: Some(-1),
            pids_limit: Some(7),
            ..Resources::default()
        };
        let w: Vec<String> = r
            .v1_writes()
            .iter()
            .map(|(_, f, v)| format!("{f}={v}"))
            .collect();
        assert_eq!(
            w,
            [
                "cpu.cfs_quota_us=-1",
                "memory.limit_in_bytes=-1",
                "pids.max=7"
            ]
        );
        assert!(Resources {
            swappiness: Some(101),
            ..Resources::default()
        }
        .validate()
        .is_err());
        assert!(Resources {
            memory_limit: Some(100),
            memory_swap: Some(50),
            ..Resources::default()
        }
        .validate()
        .is_err());
    }
}
