//! `containerd-shim-berth-v2`: containerd's runtime v2 shim for berth
//! (runtime type `io.containerd.berth.v2`, task API v2). One shim per
//! container; synchronous code and threads, no async runtime. See
//! docs/containerd.md.

mod error;
mod metrics;
mod oom;
mod options;
mod poll;
mod process;
mod reaper;
mod runtime;
mod shim;
mod stdin;
mod stdio;
mod task;

fn main() {
    // One malloc arena for all threads: the shim's threads mostly wait,
    // and an arena per thread costs resident pages for nothing.
    // SAFETY: mallopt with integer arguments, before any thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    // The crate reaps the children and reports exits on its monitor
    // (reaper.rs files them).
    containerd_shim::run::<shim::BerthShim>("io.containerd.berth.v2", None);
}
