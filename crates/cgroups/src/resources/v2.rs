//! The cgroup v2 plan: runtime-spec's (v1-shaped) fields converted to
//! the unified hierarchy's files the way runc converts them, then the
//! `unified` map written as given.

use super::{refuse, Probe, Resources, Write};
use crate::Error;

/// cpu.shares (2..262144) to cpu.weight (1..10000), runc's linear map.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// blkio.weight (10..1000) to io.weight (1..10000), runc's linear map.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).max(10) - 10) * 9999 / 990
}

/// runtime-spec's memory+swap to memory.swap.max (swap alone), as runc:
/// `None` leaves the file alone; -1 is "max".
pub fn swap_max(swap: Option<i64>, memory: Option<i64>) -> Result<Option<String>, Error> {
    let (swap, memory) = (swap.unwrap_or(0), memory.unwrap_or(0));
    if memory == -1 && swap == 0 {
        return Ok(Some("max".into()));
    }
    match swap {
        0 => return Ok(None),
        -1 => return Ok(Some("max".into())),
        s if s < -1 => return Err(refuse("memory.swap", "must be -1 or a size")),
        _ => {}
    }
    if memory <= 0 {
        return Err(refuse(
            "memory.swap",
            "a swap limit on cgroup v2 needs a memory limit (memory.swap.max is memory+swap minus it)",
        ));
    }
    if swap < memory {
        return Err(refuse("memory.swap", "memory+swap is below memory.limit"));
    }
    Ok(Some((swap - memory).to_string()))
}

/// 0 unset, -1 "max", else the number.
fn num(v: Option<i64>) -> Option<String> {
    match v? {
        0 => None,
        v if v < 0 => Some("max".into()),
        v => Some(v.to_string()),
    }
}

/// Controllers a `unified` key may belong to ("cgroup" for core files).
const CONTROLLERS: &[&str] = &[
    "cgroup", "cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc",
];

/// Core files a container's limits must not touch: membership, the
/// hierarchy's shape, and the freezer `pause` owns.
const CORE_FILES_REFUSED: &[&str] = &[
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.subtree_control",
    "cgroup.type",
    "cgroup.freeze",
    "cgroup.kill",
];

impl Resources {
    /// The v2 writes. `probe` answers which optional files the container's
    /// cgroup has (BFQ's io.bfq.weight, hugetlb reservations).
    pub fn v2_writes(&self, probe: &dyn Probe) -> Result<Vec<Write>, Error> {
        let mut w = Vec::new();
        self.pids_write(&mut w);
        self.v2_memory(&mut w)?;
        self.v2_io(probe, &mut w)?;
        self.v2_cpu(&mut w)?;
        self.cpuset_writes(&mut w);
        self.hugetlb_writes(probe, "max", "rsvd.max", &mut w);
        self.rdma_writes(&mut w);
        if self.net_class_id.is_some() || !self.net_priorities.is_empty() {
            return Err(refuse(
                "network",
                "cgroup v2 has no net_cls or net_prio controller (classify traffic with BPF or nftables instead)",
            ));
        }
        for (key, value) in &self.unified {
            let prefix = key.split('.').next().unwrap_or_default();
            let Some(controller) = CONTROLLERS.iter().find(|c| **c == prefix) else {
                return Err(refuse(
                    "unified",
                    &format!("{key:?}: no cgroup v2 controller {prefix:?}"),
                ));
            };
            if CORE_FILES_REFUSED.contains(&key.as_str()) {
                return Err(refuse(
                    "unified",
                    &format!("{key:?} is managed by the runtime"),
                ));
            }
            w.push(Write::new(
                controller,
                key.clone(),
                value.clone(),
                "unified",
            ));
        }
        Ok(w)
    }

    fn v2_memory(&self, w: &mut Vec<Write>) -> Result<(), Error> {
        let nonzero = |v: Option<i64>| v.is_some_and(|v| v != 0);
        if nonzero(self.memory_kernel) || nonzero(self.memory_kernel_tcp) {
            let f = if nonzero(self.memory_kernel) {
                "memory.kernel"
            } else {
                "memory.kernelTCP"
            };
            return Err(refuse(
                f,
                "cgroup v2 has no separate kernel memory limit (memory.max covers it)",
            ));
        }
        if self.swappiness.is_some() {
            return Err(refuse(
                "memory.swappiness",
                "cgroup v2 has no per-cgroup swappiness",
            ));
        }
        if self.disable_oom_killer == Some(true) {
            return Err(refuse(
                "memory.disableOOMKiller",
                "cgroup v2 cannot disable the OOM killer",
            ));
        }
        if self.use_hierarchy == Some(false) {
            return Err(refuse(
                "memory.useHierarchy",
                "cgroup v2 accounting is always hierarchical",
            ));
        }
        let swap = swap_max(self.memory_swap, self.memory_limit)?;
        // memory+swap equal to the limit means no swap at all.
        if let Some(s) = swap {
            w.push(Write::new("memory", "memory.swap.max", s, "memory.swap"));
        }
        if let Some(m) = num(self.memory_limit) {
            w.push(Write::new("memory", "memory.max", m, "memory.limit"));
        }
        if let Some(r) = num(self.memory_reservation) {
            w.push(Write::new("memory", "memory.low", r, "memory.reservation"));
        }
        Ok(())
    }

    fn v2_cpu(&self, w: &mut Vec<Write>) -> Result<(), Error> {
        if self.cpu_rt_runtime.is_some_and(|v| v != 0) || self.cpu_rt_period.is_some_and(|v| v != 0)
        {
            return Err(refuse(
                "cpu.realtimeRuntime",
                "cgroup v2 has no realtime cpu limits (the kernel's RT group scheduling is v1-only)",
            ));
        }
        if let Some(s) = self.cpu_shares.filter(|&s| s > 0) {
            w.push(Write::new(
                "cpu",
                "cpu.weight",
                shares_to_weight(s).to_string(),
                "cpu.shares",
            ));
        }
        let quota = self.cpu_quota.unwrap_or(0);
        let period = self.cpu_period.unwrap_or(0);
        if quota != 0 || period != 0 {
            let mut v = if quota > 0 {
                quota.to_string()
            } else {
                "max".into()
            };
            if period != 0 {
                v.push_str(&format!(" {period}"));
            }
            w.push(Write::new("cpu", "cpu.max", v, "cpu.quota"));
        }
        if let Some(b) = self.cpu_burst {
            w.push(Write::new(
                "cpu",
                "cpu.max.burst",
                b.to_string(),
                "cpu.burst",
            ));
        }
        if let Some(i) = self.cpu_idle {
            w.push(Write::new("cpu", "cpu.idle", i.to_string(), "cpu.idle"));
        }
        Ok(())
    }

    fn v2_io(&self, probe: &dyn Probe, w: &mut Vec<Write>) -> Result<(), Error> {
        if self.blkio_leaf_weight.is_some()
            || self
                .blkio_weight_device
                .iter()
                .any(|d| d.leaf_weight.is_some())
        {
            return Err(refuse(
                "blockIO.leafWeight",
                "cgroup v2 has no leaf weights",
            ));
        }
        // BFQ takes blkio's 10..1000 range as is; io.weight needs converting.
        let bfq = probe.has("io", "io.bfq.weight");
        let (file, conv): (&str, fn(u16) -> u64) = if bfq {
            ("io.bfq.weight", u64::from)
        } else {
            ("io.weight", blkio_to_io_weight)
        };
        if let Some(v) = self.blkio_weight {
            w.push(Write::new(
                "io",
                file,
                format!("default {}", conv(v)),
                "blockIO.weight",
            ));
        }
        for d in &self.blkio_weight_device {
            if let Some(v) = d.weight {
                let line = format!("{}:{} {}", d.major, d.minor, conv(v));
                w.push(Write::new("io", file, line, "blockIO.weightDevice"));
            }
        }
        for (kind, major, minor, rate) in &self.blkio_throttle {
            let line = format!("{major}:{minor} {}={rate}", kind.key());
            w.push(Write::new("io", "io.max", line, "blockIO.throttle"));
        }
        Ok(())
    }
}
