//! Running OCI hooks: the state JSON on stdin, `timeout` enforced, output
//! captured for the error message.

use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{sys, Error};

/// One hook, converted from oci-spec so that child-side code does not
/// depend on the spec types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookPlan {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<Duration>,
}

impl From<&oci_spec::runtime::Hook> for HookPlan {
    fn from(h: &oci_spec::runtime::Hook) -> Self {
        Self {
            path: h.path().clone(),
            args: h.args().clone().unwrap_or_default(),
            env: h.env().clone().unwrap_or_default(),
            timeout: h.timeout().map(|t| Duration::from_secs(t.max(0) as u64)),
        }
    }
}

/// Runs each hook in order; the first failure stops the list.
pub fn run_all(kind: &'static str, hooks: &[HookPlan], state: &[u8]) -> Result<(), Error> {
    hooks.iter().try_for_each(|h| run(kind, h, state))
}

/// Runs hooks where a failure is only a warning (poststart, poststop).
pub fn run_all_warn(kind: &'static str, hooks: &[HookPlan], state: &[u8]) {
    for h in hooks {
        if let Err(e) = run(kind, h, state) {
            tracing::warn!("{e}");
        }
    }
}

fn run(kind: &'static str, hook: &HookPlan, state: &[u8]) -> Result<(), Error> {
    let fail = |reason: String| Error::Hook {
        kind,
        path: hook.path.clone(),
        reason,
    };
    // Output goes to an unlinked temporary file so a chatty hook can never
    // block on a full pipe while we wait for it.
    let out = tempfile_fd().map_err(|e| fail(format!("creating output file: {e}")))?;
    let mut cmd = Command::new(&hook.path);
    if let Some((arg0, rest)) = hook.args.split_first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
        cmd.args(rest);
    }
    cmd.env_clear();
    for kv in &hook.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        cmd.env(k, v);
    }
    let out_err = out.try_clone().map_err(|e| fail(e.to_string()))?;
    let out_out = out.try_clone().map_err(|e| fail(e.to_string()))?;
    cmd.stdin(Stdio::piped()).stdout(out_out).stderr(out_err);
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state);
    }
    let status = wait(&mut child, hook.timeout).map_err(|e| fail(e.to_string()))?;
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(fail(format!("{s}{}", output_suffix(out)))),
        None => Err(fail(format!(
            "timed out after {:?}{}",
            hook.timeout.unwrap_or_default(),
            output_suffix(out)
        ))),
    }
}

/// Waits for the hook; on timeout kills it and returns None.
fn wait(
    child: &mut std::process::Child,
    timeout: Option<Duration>,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let Some(timeout) = timeout else {
        return child.wait().map(Some);
    };
    let pidfd = sys::pidfd_open(child.id() as i32)?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if sys::poll_readable(pidfd.as_fd(), left.as_millis().min(i32::MAX as u128) as i32)? {
            return child.wait().map(Some);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
    }
}

fn tempfile_fd() -> std::io::Result<std::fs::File> {
    let fd = nix::sys::memfd::memfd_create(
        c"berth-hook-output",
        nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
    )?;
    Ok(std::fs::File::from(fd))
}

fn output_suffix(mut out: std::fs::File) -> String {
    let mut text = String::new();
    let _ = out.rewind();
    let _ = out.take(4096).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(", output: {text}")
    }
}
