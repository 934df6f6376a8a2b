//! The writes whose files are the same on v1 and v2 (pids, cpuset, rdma)
//! or differ only by suffix (hugetlb); each version's plan calls them in
//! its own order.

use super::{Probe, Resources, Write};

impl Resources {
    pub(super) fn pids_write(&self, w: &mut Vec<Write>) {
        if let Some(p) = self.pids_limit {
            let v = if p > 0 { p.to_string() } else { "max".into() };
            w.push(Write::new("pids", "pids.max", v, "pids.limit"));
        }
    }

    pub(super) fn cpuset_writes(&self, w: &mut Vec<Write>) {
        let set = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        if let Some(v) = set(&self.cpus) {
            w.push(Write::new("cpuset", "cpuset.cpus", v, "cpu.cpus"));
        }
        if let Some(v) = set(&self.mems) {
            w.push(Write::new("cpuset", "cpuset.mems", v, "cpu.mems"));
        }
    }

    /// `hugetlb.<size>.<limit>`, and `hugetlb.<size>.<rsvd>` where the
    /// kernel has reservation accounting.
    pub(super) fn hugetlb_writes(
        &self,
        probe: &dyn Probe,
        limit: &str,
        rsvd: &str,
        w: &mut Vec<Write>,
    ) {
        for (size, bytes) in &self.hugepages {
            let v = bytes.to_string();
            w.push(Write::new(
                "hugetlb",
                format!("hugetlb.{size}.{limit}"),
                v.clone(),
                "hugepageLimits",
            ));
            let r = format!("hugetlb.{size}.{rsvd}");
            if probe.has("hugetlb", &r) {
                w.push(Write::new("hugetlb", r, v, "hugepageLimits"));
            }
        }
    }

    /// rdma.max lines; unset counts are "max".
    pub(super) fn rdma_writes(&self, w: &mut Vec<Write>) {
        let n = |v: Option<u32>| v.map_or("max".to_string(), |v| v.to_string());
        for (dev, (handles, objects)) in &self.rdma {
            let line = format!(
                "{dev} hca_handle={} hca_object={}",
                n(*handles),
                n(*objects)
            );
            w.push(Write::new("rdma", "rdma.max", line, "rdma"));
        }
    }
}
