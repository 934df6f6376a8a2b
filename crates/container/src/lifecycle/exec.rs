//! `exec`: run another process in a created or running container.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use berth_cgroups::Cgroup;
use nix::sys::signal::SigSet;
use oci_spec::runtime::{Capability, Process};

use crate::plan::{ProcessPlan, TerminalPlan};
use crate::spawn::exec::{spawn_exec, ExecInput};
use crate::state::{self, Status};
use crate::{config, sys, Error};

/// Where the process comes from: a runtime-spec process JSON
/// (`--process`), or the container's own process with the command-line
/// overrides, as runc builds it.
#[derive(Debug, Clone)]
pub enum ExecProcess {
    File(PathBuf),
    Args(ExecArgs),
}

/// `exec`'s command-line overrides.
#[derive(Debug, Clone, Default)]
pub struct ExecArgs {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub tty: bool,
    /// LSM labels: ignored where that LSM is not enabled, refused as
    /// unsupported where it is (the same rule as for config.json).
    pub apparmor: Option<String>,
    pub selinux_label: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub root: PathBuf,
    pub id: String,
    pub process: ExecProcess,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    /// Where the pty master goes when the process has a terminal.
    pub console_socket: Option<PathBuf>,
    /// Exec into a paused container too (the process starts frozen).
    pub ignore_paused: bool,
}

/// Starts the process; returns its exit code (128+signal when killed),
/// or 0 at once when detached.
pub fn exec(opts: &ExecOptions) -> Result<i32, Error> {
    if !opts.detach {
        // Every signal is held from the start, as `run` does: one that
        // arrives while the process is being set up is forwarded to it
        // once it runs, instead of ending berth and orphaning it.
        SigSet::all()
            .thread_block()
            .map_err(|e| Error::spawn("blocking signals")(e.into()))?;
    }
    let r = exec_blocked(opts);
    if !opts.detach {
        let _ = SigSet::all().thread_unblock();
    }
    r
}

fn exec_blocked(opts: &ExecOptions) -> Result<i32, Error> {
    let (dir, st) = super::open(&opts.root, &opts.id)?;
    let status = st.status(&dir.path);
    if status == Status::Paused && !opts.ignore_paused {
        return Err(Error::WrongStatus {
            id: opts.id.clone(),
            status,
            op: "exec in it without --ignore-paused",
        });
    }
    if !matches!(status, Status::Created | Status::Running | Status::Paused) {
        return Err(Error::WrongStatus {
            id: opts.id.clone(),
            status,
            op: "exec in it: it is not running",
        });
    }
    let process = build_process(st.process.clone(), &opts.process)?;
    config::validate_process_fields(&process)?;
    let mut plan = ProcessPlan::build(&process, &st.rootfs, None)?;
    plan.seccomp = st
        .seccomp
        .as_ref()
        .map(berth_seccomp::Filter::compile)
        .transpose()?;
    let mut terminal = TerminalPlan::of(&process);
    if let Some(t) = terminal
        .as_mut()
        .filter(|t| t.size.is_none() && opts.console_socket.is_none())
    {
        // Relaying our own terminal: the process starts with its size.
        t.size = crate::sys::get_winsize(std::os::fd::AsFd::as_fd(&std::io::stdin()));
    }
    // In the foreground without --console-socket, berth relays the
    // terminal itself (see `terminal`).
    let (theirs, ours) = match (&terminal, &opts.console_socket, opts.detach) {
        (Some(_), None, false) => {
            let (a, b) = super::terminal::console_pair()?;
            (Some(a), Some(b))
        }
        _ => (None, None),
    };
    let console =
        super::create::console_socket(terminal.is_some(), theirs, opts.console_socket.as_deref())?;
    let (joins, in_userns) = container_namespaces(st.pid, st.start_time, &opts.id)?;
    let cgroup = Cgroup::from_record(st.cgroup.clone());
    // The process is our grandchild: as a subreaper we can reap it, when
    // it fails to start and, in the foreground, when it exits.
    sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0).map_err(Error::spawn("becoming a subreaper"))?;
    // Release the container before spawning: the exec may outlive any
    // command, and no child may inherit the lock.
    drop(dir);
    let stub = crate::exec_stub::sealed().map_err(Error::spawn("creating the exec stub"))?;
    let pid = spawn_exec(&ExecInput {
        process: &plan,
        joins: &joins,
        in_userns,
        cgroup: &cgroup,
        preserve_fds: opts.preserve_fds,
        join_late: status == Status::Paused,
        terminal: terminal.zip(console.as_ref()),
        state_json: &|| st.spec_state_json(status),
        exec_stub: &stub,
    })?;
    drop(console);
    let master = match &ours {
        Some(fd) => super::terminal::receive_master(fd)?,
        None => None,
    };
    if let Some(p) = &opts.pid_file {
        state::write_atomic(p, pid.to_string().as_bytes(), 0o644)?;
    }
    if opts.detach {
        return Ok(0);
    }
    match master {
        Some(m) => super::terminal::proxy(pid, m),
        None => super::run::wait_forwarding(pid),
    }
}

/// The process to run: from a file, or the container's process with the
/// overrides applied.
fn build_process(base: Option<Process>, source: &ExecProcess) -> Result<Process, Error> {
    let a = match source {
        ExecProcess::File(path) => return load_process(path),
        ExecProcess::Args(a) => a,
    };
    if a.args.is_empty() {
        return Err(Error::invalid(
            "exec",
            "a command (or --process) is required",
        ));
    }
    let mut p = base.unwrap_or_default();
    p.set_args(Some(a.args.clone()));
    let mut env = p.env().clone().unwrap_or_default();
    for (k, v) in &a.env {
        env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != k);
        env.push(format!("{k}={v}"));
    }
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some((uid, gid)) = a.user {
        p.user_mut().set_uid(uid);
        if let Some(gid) = gid {
            p.user_mut().set_gid(gid);
        }
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    add_caps(&mut p, &a.caps)?;
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    p.set_terminal(Some(a.tty));
    if a.apparmor.is_some() {
        p.set_apparmor_profile(a.apparmor.clone());
    }
    if a.selinux_label.is_some() {
        p.set_selinux_label(a.selinux_label.clone());
    }
    Ok(p)
}

/// `--cap` adds to the bounding, effective and permitted sets (never
/// inheritable, since CVE-2022-29162).
fn add_caps(p: &mut Process, names: &[String]) -> Result<(), Error> {
    if names.is_empty() {
        return Ok(());
    }
    let mut caps = p.capabilities().clone().unwrap_or_default();
    for name in names {
        let upper = name.to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        let cap = Capability::from_str(bare)
            .map_err(|_| Error::invalid("--cap", format!("unknown capability {name:?}")))?;
        let with = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut s = set.clone().unwrap_or_default();
            s.insert(cap);
            Some(s)
        };
        let (b, e, p) = (
            with(caps.bounding()),
            with(caps.effective()),
            with(caps.permitted()),
        );
        caps.set_bounding(b);
        caps.set_effective(e);
        caps.set_permitted(p);
    }
    p.set_capabilities(Some(caps));
    Ok(())
}

fn load_process(path: &Path) -> Result<Process, Error> {
    let data = std::fs::read(path).map_err(|source| Error::ReadConfig {
        path: path.to_path_buf(),
        source,
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&data);
    serde_path_to_error::deserialize(de).map_err(|e| Error::ParseConfig {
        path: path.to_path_buf(),
        field: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

const NAMESPACES: [(&str, i32); 8] = [
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
    ("pid", libc::CLONE_NEWPID),
    ("net", libc::CLONE_NEWNET),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", libc::CLONE_NEWTIME),
];

/// Every namespace of the container's init that is not ours, opened
/// through /proc/<pid>/ns after checking the pid is still the
/// container's, user first. Also whether one of them is a user namespace.
fn container_namespaces(
    pid: i32,
    start_time: u64,
    id: &str,
) -> Result<(Vec<(std::os::fd::OwnedFd, i32)>, bool), Error> {
    let mut joins = Vec::new();
    for (name, flag) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let fd = std::fs::File::open(&theirs).map_err(Error::io("opening namespace", &theirs))?;
        let same = std::fs::read_link(&theirs).ok()
            == std::fs::read_link(format!("/proc/self/ns/{name}")).ok();
        if !same {
            joins.push((std::os::fd::OwnedFd::from(fd), flag));
        }
    }
    // Opened first, checked after: the descriptors are the container's.
    if !state::process_alive(pid, start_time) {
        return Err(Error::WrongStatus {
            id: id.into(),
            status: Status::Stopped,
            op: "exec in it: it is not running",
        });
    }
    let in_userns = joins.iter().any(|(_, f)| *f == libc::CLONE_NEWUSER);
    Ok((joins, in_userns))
}
