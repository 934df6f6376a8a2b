//! Cgroup placement for Berth containers.
//!
//! This crate detects the host's cgroup layout (v1, hybrid, unified v2),
//! resolves a container's `cgroupsPath` into one directory per hierarchy,
//! creates those directories, moves a process into them, applies the device
//! rules of v1 hosts and removes exactly the directories it created.
//!
//! Resource limits: devices, and on v1 hierarchies memory, cpu and pids
//! (see [`Resources`]); the runtime library refuses the rest before
//! anything is created.

pub mod bpf_devices;
mod devices;
mod error;
mod freezer;
mod layout;
mod manager;
mod path;
mod resources;
mod stats;

pub use devices::{DeviceRule, DeviceType};
pub use error::Error;
pub use layout::{Hierarchy, Layout, Mode};
pub use manager::{Cgroup, CgroupRecord, JoinFds};
pub use path::CgroupsPath;
pub use resources::{BlkioThrottle, Resources};
pub use stats::Stats;
