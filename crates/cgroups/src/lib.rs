//! Cgroup placement for Berth containers.
//!
//! This crate detects the host's cgroup layout (v1, hybrid, unified v2),
//! resolves a container's `cgroupsPath` into one directory per hierarchy,
//! creates those directories, moves a process into them, applies the device
//! rules of v1 hosts and removes exactly the directories it created.
//!
//! Resource limits: every field of `linux.resources` on v1, hybrid and
//! pure v2 hosts (see [`Resources`]; device rules in `devices.rs` and
//! `bpf_devices.rs`), statistics ([`Stats`]) and OOM notices
//! ([`OomWatch`]).

pub mod bpf_devices;
mod devices;
mod error;
mod freezer;
mod layout;
mod manager;
mod oom;
mod path;
mod resources;
pub mod stats;

pub use devices::{DeviceRule, DeviceType};
pub use error::Error;
pub use layout::{Hierarchy, Layout, Mode};
pub use manager::{Cgroup, CgroupRecord, JoinFds};
pub use oom::OomWatch;
pub use path::CgroupsPath;
pub use resources::{BlkioThrottle, Probe, Resources, WeightDevice, Write};
pub use stats::Stats;
