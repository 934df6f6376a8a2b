//! `create`: everything but the user's program.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use berth_cgroups::{Cgroup, CgroupsPath, DeviceRule, DeviceType, Layout, Mode, Resources};
use oci_spec::runtime::{LinuxDeviceType, Spec};

use crate::hooks::HookPlan;
use crate::plan::{Plan, PlanFlags};
use crate::spawn::{self, InitFds, SpawnInput};
use crate::state::{self, ContainerState, StateDir, Status};
use crate::{config, id, Error};

/// Options of `create` (and of the create half of `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    /// Socket-activation descriptors (LISTEN_FDS) the caller received:
    /// they come first (from fd 3), before the preserved ones, and the
    /// process gets LISTEN_FDS and LISTEN_PID=1, as runc does.
    pub listen_fds: u32,
    /// The caller's NOTIFY_SOCKET: sd_notify is proxied (see `notify`).
    pub notify_socket: Option<PathBuf>,
    pub no_new_keyring: bool,
    /// Where to send the pty master when `process.terminal` is set.
    pub console_socket: Option<PathBuf>,
}

/// Creates the container; on return its init waits for `start`. On error
/// nothing is left behind: no state directory, cgroup or process.
pub fn create(opts: &CreateOptions) -> Result<ContainerState, Error> {
    create_with_console(opts, None)
}

/// `create`, with an already connected console socket (`run` in the
/// foreground makes its own) instead of `--console-socket`.
pub(crate) fn create_with_console(
    opts: &CreateOptions,
    console: Option<OwnedFd>,
) -> Result<ContainerState, Error> {
    id::validate(&opts.id)?;
    // Init is orphaned when the intermediate exits. As a subreaper the
    // runtime inherits it, so a failed create can reap what it killed;
    // after a successful create init passes on to our own reaper, as
    // with runc.
    crate::sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0)
        .map_err(Error::spawn("becoming a subreaper"))?;
    let bundle =
        std::fs::canonicalize(&opts.bundle).map_err(Error::io("opening bundle", &opts.bundle))?;
    let mut spec = config::load(&bundle)?;
    add_listen_fds_env(&mut spec, opts.listen_fds);
    if opts.notify_socket.is_some() {
        super::notify::add_env(&mut spec);
    }
    config::validate(&spec)?;
    let rootfs = rootfs_path(&spec, &bundle)?;
    let layout = Layout::detect()?;
    let linux = spec.linux().as_ref();
    let cg_path = CgroupsPath::parse(
        linux
            .and_then(|l| l.cgroups_path().as_ref())
            .and_then(|p| p.to_str()),
        &opts.id,
    )?;
    let flags = PlanFlags {
        no_pivot: opts.no_pivot,
        preserve_fds: opts.listen_fds + opts.preserve_fds,
        no_new_keyring: opts.no_new_keyring,
    };
    let mut plan = Plan::build(&spec, &bundle, &rootfs, flags)?;
    let console = console_socket(
        plan.terminal.is_some(),
        console,
        opts.console_socket.as_deref(),
    )?;
    tracing::debug!("{}: config validated and planned", opts.id);
    let dir = StateDir::create(&opts.root, &opts.id)?;
    if opts.notify_socket.is_some() {
        let step = super::notify::mount(&dir.path)
            .and_then(|m| crate::plan::mounts::step(&m, plan.rootfs.mounts.len(), &bundle));
        match step {
            Ok(s) => plan.rootfs.mounts.push(s),
            Err(e) => {
                let _ = dir.remove();
                return Err(e);
            }
        }
    }
    let mut state = ContainerState {
        oci_version: spec.version().clone(),
        id: opts.id.clone(),
        pid: 0,
        start_time: 0,
        bundle,
        rootfs,
        created: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        owner: state::user_name(nix::unistd::geteuid().as_raw()),
        annotations: spec.annotations().clone().unwrap_or_default(),
        cgroup: Default::default(),
        poststart: hook_list(&spec, |h| h.poststart()),
        poststop: hook_list(&spec, |h| h.poststop()),
        own_pid_ns: plan.ns.new_pid,
        process: spec.process().clone(),
        resources: resources(&spec),
        notify_socket: opts.notify_socket.clone(),
        seccomp: linux.and_then(|l| l.seccomp().clone()),
    };
    let cgroup = match Cgroup::create(&layout, &cg_path) {
        Ok(c) => c,
        Err(e) => {
            let _ = dir.remove();
            return Err(e.into());
        }
    };
    state.cgroup = cgroup.record().clone();
    tracing::debug!("{}: cgroups created", opts.id);
    plan.rootfs.cgroup_leaves = cgroup_leaves(&cgroup)?;
    plan.rootfs.cgroup2_fs = layout.mode == Mode::Unified;
    match spawn_in(
        &dir,
        &spec,
        &plan,
        &cgroup,
        &mut state,
        opts.pid_file.as_deref(),
        console.as_ref(),
    ) {
        Ok(()) => Ok(state),
        Err(e) => {
            let hook_failed = matches!(&e, Error::Hook { .. })
                || matches!(&e, Error::Child(m) if m.starts_with("createContainer hooks"));
            if hook_failed {
                // runtime-spec: a failed create-time hook stops the
                // container and continues the lifecycle at destroy.
                let _ = super::destroy(dir, &state);
            } else {
                let _ = cgroup.remove();
                let _ = dir.remove();
            }
            Err(e)
        }
    }
}

/// The part of create that needs undoing on failure: devices, the start
/// gate, the spawn, state and pid file.
fn spawn_in(
    dir: &StateDir,
    spec: &Spec,
    plan: &Plan,
    cgroup: &Cgroup,
    state: &mut ContainerState,
    pid_file: Option<&Path>,
    console: Option<&OwnedFd>,
) -> Result<(), Error> {
    cgroup.apply_devices(&device_rules(spec))?;
    cgroup.apply_resources(&resources(spec))?;
    let listener = bind_exec_socket(dir)?;
    let stub = crate::exec_stub::sealed().map_err(Error::spawn("creating the exec stub"))?;
    let prestart: Vec<HookPlan> = hook_list(spec, |h| h.prestart())
        .iter()
        .map(HookPlan::from)
        .collect();
    let create_runtime: Vec<HookPlan> = hook_list(spec, |h| h.create_runtime())
        .iter()
        .map(HookPlan::from)
        .collect();
    let base = state.clone();
    let state_json = move |pid: i32| {
        let mut s = base.clone();
        s.pid = pid;
        serde_json::to_vec(&s.spec_state(Status::Creating)).unwrap_or_default()
    };
    let spawned = spawn::spawn(&SpawnInput {
        plan,
        cgroup,
        fds: InitFds {
            exec_listener: &listener,
            console,
            exec_stub: &stub,
        },
        prestart: &prestart,
        create_runtime: &create_runtime,
        state_json: &state_json,
    })?;
    tracing::debug!("{}: init {} ready", state.id, spawned.pid);
    state.pid = spawned.pid;
    state.start_time = state::proc_stat(spawned.pid)
        .map(|(_, t)| t)
        .ok_or(Error::ChildGone("the state was saved"))?;
    dir.save(state)?;
    if let Some(p) = pid_file {
        state::write_atomic(&absolute(p), spawned.pid.to_string().as_bytes(), 0o644)?;
    }
    spawned.keep();
    Ok(())
}

/// LISTEN_FDS and LISTEN_PID for socket activation inside the container.
fn add_listen_fds_env(spec: &mut Spec, n: u32) {
    if n == 0 {
        return;
    }
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".into());
        p.set_env(Some(env));
    }
}

/// The console socket for a container with a terminal: the one given, or
/// `--console-socket` connected now. A terminal without one, or one
/// without a terminal, is refused.
pub(crate) fn console_socket(
    terminal: bool,
    given: Option<OwnedFd>,
    path: Option<&Path>,
) -> Result<Option<OwnedFd>, Error> {
    match (terminal, given, path) {
        (true, Some(fd), _) => Ok(Some(fd)),
        (true, None, Some(p)) => {
            let s = std::os::unix::net::UnixStream::connect(p)
                .map_err(Error::io("connecting to the console socket", p))?;
            Ok(Some(OwnedFd::from(s)))
        }
        (true, None, None) => Err(Error::invalid(
            "process.terminal",
            "a terminal needs --console-socket, or run/exec in the foreground",
        )),
        (false, _, Some(_)) => Err(Error::invalid(
            "--console-socket",
            "given, but process.terminal is not set",
        )),
        // A socket `run` made for itself just goes unused.
        (false, _, None) => Ok(None),
    }
}

fn hook_list(
    spec: &Spec,
    f: fn(&oci_spec::runtime::Hooks) -> &Option<Vec<oci_spec::runtime::Hook>>,
) -> Vec<oci_spec::runtime::Hook> {
    spec.hooks()
        .as_ref()
        .and_then(|h| f(h).clone())
        .unwrap_or_default()
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `root.path`, relative to the bundle unless absolute; must be a directory.
fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, Error> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::invalid("root", "is required"))?;
    let p = bundle.join(root.path());
    let canon = std::fs::canonicalize(&p)
        .map_err(|e| Error::invalid("root.path", format!("{}: {e}", p.display())))?;
    if !canon.is_dir() {
        return Err(Error::invalid(
            "root.path",
            format!("{} is not a directory", canon.display()),
        ));
    }
    Ok(canon)
}

/// The start gate. Bound through the locked directory's descriptor so the
/// path stays short whatever the length of `--root` and the id.
fn bind_exec_socket(dir: &StateDir) -> Result<OwnedFd, Error> {
    let path = dir.short_path(state::EXEC_SOCK);
    let l = UnixListener::bind(&path).map_err(Error::io(
        "binding the start socket",
        dir.path.join(state::EXEC_SOCK),
    ))?;
    Ok(OwnedFd::from(l))
}

fn cgroup_leaves(cg: &Cgroup) -> Result<Vec<(std::ffi::CString, std::ffi::CString)>, Error> {
    use std::os::unix::ffi::OsStrExt;
    cg.leaves()
        .iter()
        .map(|(name, dir)| {
            let c = |b: &[u8]| {
                std::ffi::CString::new(b)
                    .map_err(|_| Error::invalid("cgroupsPath", "contains a NUL byte"))
            };
            Ok((c(name.as_bytes())?, c(dir.as_os_str().as_bytes())?))
        })
        .collect()
}

/// The limits of `linux.resources` (devices aside).
fn resources(spec: &Spec) -> Resources {
    spec.linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .map(crate::resources::of)
        .unwrap_or_default()
}

/// `linux.resources.devices`, followed by one allow rule per
/// `linux.devices` entry, as runc adds them.
fn device_rules(spec: &Spec) -> Vec<DeviceRule> {
    let Some(linux) = spec.linux() else {
        return Vec::new();
    };
    let kind = |t: LinuxDeviceType| match t {
        LinuxDeviceType::A => DeviceType::All,
        LinuxDeviceType::B => DeviceType::Block,
        _ => DeviceType::Char,
    };
    let mut rules: Vec<DeviceRule> = linux
        .resources()
        .as_ref()
        .and_then(|r| r.devices().as_ref())
        .into_iter()
        .flatten()
        .map(|d| DeviceRule {
            allow: d.allow(),
            kind: d.typ().map(kind).unwrap_or(DeviceType::All),
            major: d.major(),
            minor: d.minor(),
            access: d.access().clone().unwrap_or_else(|| "rwm".into()),
        })
        .collect();
    rules.extend(
        linux
            .devices()
            .iter()
            .flatten()
            .filter(|d| d.typ() != LinuxDeviceType::P)
            .map(|d| DeviceRule {
                allow: true,
                kind: kind(d.typ()),
                major: Some(d.major()),
                minor: Some(d.minor()),
                access: "rwm".into(),
            }),
    );
    rules
}
