//! `linux.resources` limits as a plan of cgroup file writes (pure
//! functions, unit-tested: [`v1`] and [`v2`]) and the code that applies
//! the plan to a container's cgroups.
//!
//! Every field of runtime-spec's `linux.resources` but `devices` (see
//! `devices.rs` and `bpf_devices.rs`) is here. Where a host cannot apply
//! a field (no such controller, no such file, a kernel that ignores it),
//! the plan or the write fails with the field's name; nothing is
//! silently dropped.

mod shared;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::{Cgroup, Error};

/// The limits of a container; `None` (or empty) leaves the kernel's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Resources {
    pub memory_limit: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// memory+swap, as runtime-spec's `swap` (memsw on v1).
    pub memory_swap: Option<i64>,
    pub memory_kernel: Option<i64>,
    pub memory_kernel_tcp: Option<i64>,
    pub swappiness: Option<u64>,
    pub disable_oom_killer: Option<bool>,
    pub use_hierarchy: Option<bool>,
    /// `update` refuses a memory limit below the current usage.
    pub check_before_update: Option<bool>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_burst: Option<u64>,
    pub cpu_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpu_rt_period: Option<u64>,
    pub cpus: Option<String>,
    pub mems: Option<String>,
    pub cpu_idle: Option<i64>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub blkio_leaf_weight: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blkio_weight_device: Vec<WeightDevice>,
    /// blockIO throttles: (file, major, minor, rate per second).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blkio_throttle: Vec<(BlkioThrottle, i64, i64, u64)>,
    /// (page size as "2MB", limit in bytes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hugepages: Vec<(String, u64)>,
    pub net_class_id: Option<u32>,
    /// (interface, priority).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub net_priorities: Vec<(String, u32)>,
    /// device -> (hca_handles, hca_objects).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rdma: BTreeMap<String, (Option<u32>, Option<u32>)>,
    /// cgroup v2 file -> value, written last.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unified: BTreeMap<String, String>,
}

/// One entry of blockIO.weightDevice.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WeightDevice {
    pub major: i64,
    pub minor: i64,
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
}

/// The four blkio throttles (v1 files; io.max keys on v2).
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

    /// The io.max key.
    pub fn key(self) -> &'static str {
        match self {
            BlkioThrottle::ReadBps => "rbps",
            BlkioThrottle::WriteBps => "wbps",
            BlkioThrottle::ReadIops => "riops",
            BlkioThrottle::WriteIops => "wiops",
        }
    }
}

/// One planned write: the controller that owns the file (on v1 the
/// hierarchy to find; on v2 the controller that must be enabled), the
/// file and the value. `field` names the runtime-spec field for errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    pub field: &'static str,
}

impl Write {
    fn new(
        controller: &'static str,
        file: impl Into<String>,
        value: String,
        field: &'static str,
    ) -> Self {
        Write {
            controller,
            file: file.into(),
            value,
            field,
        }
    }
}

/// What a plan may ask of the cgroup it will be written to: the content
/// of a file, which also tells whether optional files such as
/// `hugetlb.*.rsvd.max` or `io.bfq.weight` exist there.
pub trait Probe {
    fn read(&self, controller: &str, file: &str) -> Option<String>;

    fn has(&self, controller: &str, file: &str) -> bool {
        self.read(controller, file).is_some()
    }
}

/// A field the host cannot apply: `linux.resources.<field>: <why>`.
fn refuse(field: &str, why: &str) -> Error {
    Error::Resources {
        field: field.into(),
        reason: why.into(),
    }
}

impl Resources {
    /// `self` with every field `newer` sets replaced (for `update`).
    pub fn merged(&self, newer: &Resources) -> Resources {
        fn list<T: Clone>(old: &[T], new: &[T]) -> Vec<T> {
            if new.is_empty() { old } else { new }.to_vec()
        }
        fn map<V: Clone>(
            old: &BTreeMap<String, V>,
            new: &BTreeMap<String, V>,
        ) -> BTreeMap<String, V> {
            let mut m = old.clone();
            m.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
            m
        }
        let o = self;
        let n = newer;
        Resources {
            memory_limit: n.memory_limit.or(o.memory_limit),
            memory_reservation: n.memory_reservation.or(o.memory_reservation),
            memory_swap: n.memory_swap.or(o.memory_swap),
            memory_kernel: n.memory_kernel.or(o.memory_kernel),
            memory_kernel_tcp: n.memory_kernel_tcp.or(o.memory_kernel_tcp),
            swappiness: n.swappiness.or(o.swappiness),
            disable_oom_killer: n.disable_oom_killer.or(o.disable_oom_killer),
            use_hierarchy: n.use_hierarchy.or(o.use_hierarchy),
            check_before_update: n.check_before_update.or(o.check_before_update),
            cpu_shares: n.cpu_shares.or(o.cpu_shares),
            cpu_quota: n.cpu_quota.or(o.cpu_quota),
            cpu_burst: n.cpu_burst.or(o.cpu_burst),
            cpu_period: n.cpu_period.or(o.cpu_period),
            cpu_rt_runtime: n.cpu_rt_runtime.or(o.cpu_rt_runtime),
            cpu_rt_period: n.cpu_rt_period.or(o.cpu_rt_period),
            cpus: n.cpus.clone().or_else(|| o.cpus.clone()),
            mems: n.mems.clone().or_else(|| o.mems.clone()),
            cpu_idle: n.cpu_idle.or(o.cpu_idle),
            pids_limit: n.pids_limit.or(o.pids_limit),
            blkio_weight: n.blkio_weight.or(o.blkio_weight),
            blkio_leaf_weight: n.blkio_leaf_weight.or(o.blkio_leaf_weight),
            blkio_weight_device: list(&o.blkio_weight_device, &n.blkio_weight_device),
            blkio_throttle: list(&o.blkio_throttle, &n.blkio_throttle),
            hugepages: list(&o.hugepages, &n.hugepages),
            net_class_id: n.net_class_id.or(o.net_class_id),
            net_priorities: list(&o.net_priorities, &n.net_priorities),
            rdma: map(&o.rdma, &n.rdma),
            unified: map(&o.unified, &n.unified),
        }
    }

    /// Checks what the kernel would refuse less clearly, on any host.
    pub fn validate(&self) -> Result<(), Error> {
        if self.swappiness.is_some_and(|s| s > 100) {
            return Err(refuse("memory.swappiness", "must be 0 to 100"));
        }
        if let (Some(m), Some(s)) = (self.memory_limit, self.memory_swap) {
            if m > 0 && s > 0 && s < m {
                return Err(refuse("memory.swap", "memory+swap is below memory.limit"));
            }
        }
        if self.cpu_idle.is_some_and(|i| !(0..=1).contains(&i)) {
            return Err(refuse("cpu.idle", "must be 0 or 1"));
        }
        let weights = self
            .blkio_weight
            .iter()
            .chain(self.blkio_leaf_weight.iter())
            .chain(
                self.blkio_weight_device
                    .iter()
                    .flat_map(|d| d.weight.iter().chain(d.leaf_weight.iter())),
            );
        if weights.copied().any(|w| !(10..=1000).contains(&w)) {
            return Err(refuse("blockIO.weight", "weights must be 10 to 1000"));
        }
        for (size, _) in &self.hugepages {
            v1::page_size_bytes(size)?;
        }
        for key in self.unified.keys() {
            if key.contains('/') || key.starts_with('.') || !key.contains('.') {
                return Err(refuse(
                    "unified",
                    &format!("{key:?} is not a cgroup v2 interface file name"),
                ));
            }
        }
        Ok(())
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

impl Cgroup {
    /// Writes the limits into the container's cgroups.
    pub fn apply_resources(&self, r: &Resources) -> Result<(), Error> {
        r.validate()?;
        if r.is_empty() {
            return Ok(());
        }
        let writes = if self.record().v2 {
            let leaf = self.v2_leaf()?;
            let plan = r.v2_writes(&V2Probe(&leaf))?;
            self.check_controllers(&plan)?;
            plan
        } else {
            r.v1_writes(&V1Probe(self))?
        };
        for w in &writes {
            let dir = self.dir_for(w)?;
            write_checked(&dir, w)?;
        }
        Ok(())
    }

    /// The memory controller's current usage, for checkBeforeUpdate.
    pub fn memory_usage(&self) -> Option<u64> {
        let (dir, file) = if self.record().v2 {
            (self.v2_leaf().ok()?, "memory.current")
        } else {
            (self.v1_dir("memory")?, "memory.usage_in_bytes")
        };
        fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
    }

    /// The single directory of a pure v2 container.
    fn v2_leaf(&self) -> Result<PathBuf, Error> {
        self.record()
            .leaves
            .first()
            .map(|(_, d)| d.clone())
            .ok_or(Error::NoHierarchy)
    }

    /// Where a write goes: the v2 leaf, or the v1 hierarchy holding the
    /// controller (on a hybrid host, hugetlb may live in the cgroup2
    /// mount instead, when that mount delegates it).
    fn dir_for(&self, w: &Write) -> Result<PathBuf, Error> {
        if self.record().v2 {
            return self.v2_leaf();
        }
        if let Some(d) = self.v1_dir(w.controller) {
            return Ok(d);
        }
        if let Some((_, d)) = self.record().leaves.iter().find(|(n, _)| n == "unified") {
            if controllers(d).iter().any(|c| c == w.controller) {
                return Ok(d.clone());
            }
        }
        Err(refuse(
            w.field,
            &format!(
                "this host has no {} controller for the container (no v1 hierarchy, and the cgroup2 mount does not delegate it)",
                w.controller
            ),
        ))
    }

    /// cgroup v2: a controller is usable in the leaf only when every
    /// ancestor enables it for its children. The directories this runtime
    /// created pass on all they have (see `Cgroup::create`); an ancestor
    /// it did not create is left alone, and a controller it does not
    /// delegate is an error naming that ancestor.
    fn check_controllers(&self, plan: &[Write]) -> Result<(), Error> {
        let leaf = self.v2_leaf()?;
        let have = controllers(&leaf);
        let Some(w) = plan
            .iter()
            .find(|w| w.controller != "cgroup" && !have.iter().any(|c| c == w.controller))
        else {
            return Ok(());
        };
        let top = self.record().created.first().unwrap_or(&leaf);
        Err(not_delegated(w, top.parent().unwrap_or(top)))
    }
}

fn not_delegated(w: &Write, ancestor: &Path) -> Error {
    refuse(
        w.field,
        &format!(
            "the {} controller is not enabled in {}/cgroup.subtree_control, a cgroup this runtime did not create",
            w.controller,
            ancestor.display()
        ),
    )
}

/// The controllers a v2 cgroup may use (`cgroup.controllers`).
fn controllers(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Writes one planned value; a missing file is "not offered by this
/// kernel", and a value the kernel accepts but ignores (v1 kernel memory
/// on Linux >= 6.x) an error rather than a silent no-op.
fn write_checked(dir: &Path, w: &Write) -> Result<(), Error> {
    let path = dir.join(&w.file);
    // cgroupfs refuses to create files with EACCES: look first, to say why.
    if !path.exists() {
        return Err(refuse(
            w.field,
            &format!("this kernel offers no {} ({})", w.file, dir.display()),
        ));
    }
    if let Err(source) = fs::write(&path, &w.value) {
        return Err(Error::Write {
            path,
            value: w.value.clone(),
            source,
        });
    }
    if w.file == "memory.kmem.limit_in_bytes" && w.value != "-1" {
        let now = fs::read_to_string(&path).unwrap_or_default();
        if now.trim() != w.value {
            return Err(refuse(
                w.field,
                "this kernel accepts but ignores v1 kernel memory limits (memory.kmem.limit_in_bytes reads back unlimited)",
            ));
        }
    }
    Ok(())
}

struct V1Probe<'a>(&'a Cgroup);

impl Probe for V1Probe<'_> {
    fn read(&self, controller: &str, file: &str) -> Option<String> {
        fs::read_to_string(self.0.v1_dir(controller)?.join(file)).ok()
    }
}

struct V2Probe<'a>(&'a Path);

impl Probe for V2Probe<'_> {
    fn read(&self, _controller: &str, file: &str) -> Option<String> {
        fs::read_to_string(self.0.join(file)).ok()
    }
}

#[cfg(test)]
mod tests;
