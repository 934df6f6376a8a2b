//! The cgroup v1 plan: which file of which hierarchy gets which value,
//! in the order the kernel needs (runc's order: cpuset, memory, cpu,
//! pids, blkio, hugetlb, net_cls, net_prio, rdma).

use super::{refuse, Probe, Resources, Write};
use crate::Error;

/// -1 means no limit.
fn limit(v: i64) -> String {
    if v < 0 {
        "-1".into()
    } else {
        v.to_string()
    }
}

/// Checks a hugepage size as runtime-spec writes it ("2MB", "1GB").
pub(super) fn page_size_bytes(size: &str) -> Result<u64, Error> {
    let bad = || {
        refuse(
            "hugepageLimits.pageSize",
            &format!("{size:?} is not a size like \"2MB\" or \"1GB\""),
        )
    };
    let (num, shift) = [("KB", 10), ("MB", 20), ("GB", 30)]
        .iter()
        .find_map(|(unit, shift)| size.strip_suffix(unit).map(|n| (n, *shift)))
        .ok_or_else(bad)?;
    let n: u64 = num.parse().map_err(|_| bad())?;
    if n == 0 || !n.is_power_of_two() {
        return Err(bad());
    }
    Ok(n << shift)
}

impl Resources {
    /// The v1 writes. `probe` answers which optional files exist and
    /// the current memory limit (to order limit and memory+swap).
    pub fn v1_writes(&self, probe: &dyn Probe) -> Result<Vec<Write>, Error> {
        if !self.unified.is_empty() {
            return Err(refuse(
                "unified",
                "cgroup v2 files need a pure cgroup v2 host (this one has v1 hierarchies)",
            ));
        }
        let mut w = Vec::new();
        self.cpuset_writes(&mut w);
        self.v1_memory(probe, &mut w);
        self.v1_cpu(&mut w);
        self.pids_write(&mut w);
        self.v1_blkio(probe, &mut w);
        self.hugetlb_writes(probe, "limit_in_bytes", "rsvd.limit_in_bytes", &mut w);
        if let Some(id) = self.net_class_id {
            w.push(Write::new(
                "net_cls",
                "net_cls.classid",
                id.to_string(),
                "network.classID",
            ));
        }
        for (ifname, prio) in &self.net_priorities {
            w.push(Write::new(
                "net_prio",
                "net_prio.ifpriomap",
                format!("{ifname} {prio}"),
                "network.priorities",
            ));
        }
        self.rdma_writes(&mut w);
        Ok(w)
    }

    fn v1_memory(&self, probe: &dyn Probe, w: &mut Vec<Write>) {
        let set = |v: Option<i64>| v.filter(|&m| m != 0);
        let mut swap = set(self.memory_swap);
        // runc: unlimited memory with swap unset means unlimited swap too.
        if self.memory_limit == Some(-1)
            && swap.is_none()
            && probe.has("memory", "memory.memsw.limit_in_bytes")
        {
            swap = Some(-1);
        }
        let limit_w = set(self.memory_limit)
            .map(|m| Write::new("memory", "memory.limit_in_bytes", limit(m), "memory.limit"));
        let swap_w = swap.map(|s| {
            Write::new(
                "memory",
                "memory.memsw.limit_in_bytes",
                limit(s),
                "memory.swap",
            )
        });
        // memory+swap may never be below the limit: raise memsw first when
        // it grows past the current limit, lower the limit first otherwise.
        let current: Option<u64> = probe
            .read("memory", "memory.limit_in_bytes")
            .and_then(|s| s.trim().parse().ok());
        let swap_first = swap.is_some_and(|s| s == -1 || current.is_some_and(|c| c < s as u64));
        if swap_first {
            w.extend(swap_w.clone());
            w.extend(limit_w);
        } else {
            w.extend(limit_w);
            w.extend(swap_w);
        }
        if let Some(k) = set(self.memory_kernel) {
            w.push(Write::new(
                "memory",
                "memory.kmem.limit_in_bytes",
                limit(k),
                "memory.kernel",
            ));
        }
        if let Some(k) = set(self.memory_kernel_tcp) {
            w.push(Write::new(
                "memory",
                "memory.kmem.tcp.limit_in_bytes",
                limit(k),
                "memory.kernelTCP",
            ));
        }
        if let Some(r) = set(self.memory_reservation) {
            w.push(Write::new(
                "memory",
                "memory.soft_limit_in_bytes",
                limit(r),
                "memory.reservation",
            ));
        }
        if let Some(s) = self.swappiness {
            w.push(Write::new(
                "memory",
                "memory.swappiness",
                s.to_string(),
                "memory.swappiness",
            ));
        }
        if self.disable_oom_killer == Some(true) {
            w.push(Write::new(
                "memory",
                "memory.oom_control",
                "1".into(),
                "memory.disableOOMKiller",
            ));
        }
        if let Some(h) = self.use_hierarchy {
            w.push(Write::new(
                "memory",
                "memory.use_hierarchy",
                u8::from(h).to_string(),
                "memory.useHierarchy",
            ));
        }
    }

    fn v1_cpu(&self, w: &mut Vec<Write>) {
        // The realtime period before the runtime it bounds, the CFS period
        // before the quota it scales, the quota before the burst.
        if let Some(p) = self.cpu_rt_period.filter(|&p| p > 0) {
            w.push(Write::new(
                "cpu",
                "cpu.rt_period_us",
                p.to_string(),
                "cpu.realtimePeriod",
            ));
        }
        if let Some(r) = self.cpu_rt_runtime.filter(|&r| r != 0) {
            w.push(Write::new(
                "cpu",
                "cpu.rt_runtime_us",
                limit(r),
                "cpu.realtimeRuntime",
            ));
        }
        if let Some(s) = self.cpu_shares.filter(|&s| s > 0) {
            w.push(Write::new("cpu", "cpu.shares", s.to_string(), "cpu.shares"));
        }
        if let Some(p) = self.cpu_period.filter(|&p| p > 0) {
            w.push(Write::new(
                "cpu",
                "cpu.cfs_period_us",
                p.to_string(),
                "cpu.period",
            ));
        }
        if let Some(q) = self.cpu_quota.filter(|&q| q != 0) {
            w.push(Write::new("cpu", "cpu.cfs_quota_us", limit(q), "cpu.quota"));
        }
        if let Some(b) = self.cpu_burst {
            w.push(Write::new(
                "cpu",
                "cpu.cfs_burst_us",
                b.to_string(),
                "cpu.burst",
            ));
        }
        if let Some(i) = self.cpu_idle {
            w.push(Write::new("cpu", "cpu.idle", i.to_string(), "cpu.idle"));
        }
    }

    fn v1_blkio(&self, probe: &dyn Probe, w: &mut Vec<Write>) {
        // Kernels with BFQ but without CFQ offer the bfq files only.
        let bfq = !probe.has("blkio", "blkio.weight") && probe.has("blkio", "blkio.bfq.weight");
        let (weight, weight_device) = if bfq {
            ("blkio.bfq.weight", "blkio.bfq.weight_device")
        } else {
            ("blkio.weight", "blkio.weight_device")
        };
        if let Some(v) = self.blkio_weight {
            w.push(Write::new("blkio", weight, v.to_string(), "blockIO.weight"));
        }
        if let Some(v) = self.blkio_leaf_weight {
            w.push(Write::new(
                "blkio",
                "blkio.leaf_weight",
                v.to_string(),
                "blockIO.leafWeight",
            ));
        }
        for d in &self.blkio_weight_device {
            if let Some(v) = d.weight {
                let line = format!("{}:{} {v}", d.major, d.minor);
                w.push(Write::new(
                    "blkio",
                    weight_device,
                    line,
                    "blockIO.weightDevice",
                ));
            }
            if let Some(v) = d.leaf_weight {
                let line = format!("{}:{} {v}", d.major, d.minor);
                w.push(Write::new(
                    "blkio",
                    "blkio.leaf_weight_device",
                    line,
                    "blockIO.weightDevice",
                ));
            }
        }
        for (kind, major, minor, rate) in &self.blkio_throttle {
            let line = format!("{major}:{minor} {rate}");
            w.push(Write::new("blkio", kind.file(), line, "blockIO.throttle"));
        }
    }
}
