//! Test harness: builds bundles from Debian's busybox-static plus the
//! workspace's static checker, drives the real `berth` binary with a
//! private `--root`, and removes everything it made.
//!
//! Binaries: `BERTH_BIN` and `BERTH_CHECKER` (set by `hack/test.sh`), or
//! the workspace's default build locations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test harness: a failed step is a failed test"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod containerd;
pub mod limits;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `berth` binary under test.
pub fn berth_bin() -> PathBuf {
    std::env::var_os("BERTH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/x86_64-unknown-linux-gnu/debug/berth"))
}

/// The static checker copied into every bundle.
pub fn checker_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_CHECKER") {
        return PathBuf::from(p);
    }
    let base = workspace().join("target/x86_64-unknown-linux-gnu");
    ["release", "debug"]
        .iter()
        .map(|p| base.join(p).join("berth-checker"))
        .find(|p| p.exists())
        .expect("berth-checker not built: run hack/test.sh (or cargo build --workspace --bins)")
}

const APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "sleep", "true", "false", "id", "hostname", "mount", "kill", "test",
    "touch", "mkdir", "stat", "uname", "grep", "env", "pwd", "readlink", "printf", "wc", "head",
    "ps", "trap", "rm", "tty", "stty", "dd",
];

/// A test's private world: a temporary directory holding the state root
/// and bundles. Dropping it force-deletes every container left in its
/// root and removes the directory.
pub struct Env {
    pub dir: PathBuf,
    pub root: PathBuf,
    name: String,
    /// Init pids of the containers this test made, reaped on drop.
    inits: Mutex<Vec<i32>>,
}

/// The test process becomes a subreaper: the init of every container
/// created by `berth create` or `run -d` becomes its child once the
/// runtime exits, so the test can reap it instead of leaving a zombie.
fn become_subreaper() {
    static ONCE: Once = Once::new();
    // SAFETY: prctl with integer arguments only.
    ONCE.call_once(|| unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    });
}

impl Env {
    pub fn new(name: &str) -> Env {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("berth-test-{name}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        become_subreaper();
        Env {
            root: dir.join("state"),
            dir,
            name,
            inits: Mutex::new(Vec::new()),
        }
    }

    /// A container id unique to this test.
    pub fn id(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    /// A new bundle with a busybox + checker rootfs and a config that runs
    /// the checker's report.
    pub fn bundle(&self, name: &str) -> Bundle {
        let path = self.dir.join(name);
        let rootfs = path.join("rootfs");
        for d in ["bin", "etc", "tmp", "home/u", "proc", "sys", "dev"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        link_or_copy(Path::new("/bin/busybox"), &rootfs.join("bin/busybox"));
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
        }
        link_or_copy(&checker_bin(), &rootfs.join("bin/checker"));
        fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000:u:/home/u:/bin/sh\n",
        )
        .unwrap();
        fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nu:x:1000:\nextra:x:2000:u\n",
        )
        .unwrap();
        let mut config = default_spec();
        config["process"]["terminal"] = false.into();
        config["process"]["args"] = serde_json::json!(["/bin/checker", "report"]);
        config["hostname"] = "berth-test".into();
        let b = Bundle { path, config };
        b.save();
        b
    }

    /// Runs `berth --root <root> ARGS`. Output goes through files, not
    /// pipes: a created container's init inherits the runtime's stdio (as
    /// with runc), so a pipe would stay open for the container's lifetime.
    pub fn berth(&self, args: &[&str]) -> Output {
        let out = run_captured(self.command(args), &self.dir);
        let detached = args.contains(&"create")
            || (args.contains(&"run") && (args.contains(&"-d") || args.contains(&"--detach")));
        if detached && out.status.success() {
            if let Some(id) = args.last() {
                self.remember_init(id);
            }
        }
        out
    }

    fn remember_init(&self, id: &str) {
        let out = run_captured(self.command(&["state", id]), &self.dir);
        if let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) {
            if let Some(pid) = v["pid"].as_i64().filter(|p| *p > 0) {
                self.inits.lock().unwrap().push(pid as i32);
            }
        }
    }

    /// The command, for tests that need to spawn it themselves.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(berth_bin());
        c.arg("--root").arg(&self.root).args(args);
        c
    }

    /// `berth run` of the bundle, expecting success and one JSON line.
    pub fn run_json(&self, bundle: &Bundle, id: &str) -> Value {
        bundle.save();
        let out = self.berth(&["run", "--bundle", bundle.path.to_str().unwrap(), id]);
        assert!(out.status.success(), "berth run failed: {}", text(&out));
        parse_last_json(&out.stdout)
    }

    /// Runs the checker with `args` in a fresh container and returns its JSON.
    pub fn check(&self, bundle: &mut Bundle, args: &[&str]) -> Value {
        let mut argv = vec!["/bin/checker"];
        argv.extend_from_slice(args);
        bundle.config["process"]["args"] = serde_json::json!(argv);
        let id = self.id(&format!("c{}", COUNTER.fetch_add(1, Ordering::SeqCst)));
        self.run_json(bundle, &id)
    }

    /// The state JSON of a container.
    pub fn state(&self, id: &str) -> Value {
        let out = self.berth(&["state", id]);
        assert!(out.status.success(), "state {id}: {}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits (10 s at most) until container `id` reports `want`; a
    /// container that does not exist yet just keeps the wait going.
    pub fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.berth(&["state", id]);
            let now = serde_json::from_slice::<Value>(&out.stdout)
                .map(|v| v["status"].clone())
                .unwrap_or_default();
            if now == want {
                return;
            }
            assert!(Instant::now() < deadline, "{id} never became {want}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `run --detach` of the bundle as container `id`; returns its pid.
    pub fn run_detached(&self, bundle: &Bundle, id: &str) -> i64 {
        bundle.save();
        let out = self.berth(&["run", "-d", "-b", bundle.arg(), id]);
        assert!(out.status.success(), "run -d {id}: {}", text(&out));
        self.state(id)["pid"].as_i64().unwrap()
    }

    /// `create` must fail with `needle` in its error and leave nothing.
    pub fn create_fails(&self, bundle: &Bundle, id: &str, needle: &str) {
        bundle.save();
        let out = self.berth(&["create", "-b", bundle.arg(), id]);
        assert_fails(&out, needle);
        self.assert_gone(id);
    }

    /// Asserts that nothing of container `id` remains: no state entry, no
    /// cgroup directory in any hierarchy.
    pub fn assert_gone(&self, id: &str) {
        assert!(
            !self.root.join(id).exists(),
            "state dir of {id} left behind"
        );
        let leftovers = cgroup_dirs_named(id);
        assert!(leftovers.is_empty(), "cgroups left behind: {leftovers:?}");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(entries) = fs::read_dir(&self.root) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                self.remember_init(&id);
                let _ = self.berth(&["delete", "--force", &id]);
            }
        }
        for pid in self.inits.lock().unwrap().drain(..) {
            reap(pid);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Makes `cmd` start with copies of `fd` at each of `targets`, without
/// close-on-exec: descriptors a runtime's caller might leak into it.
pub fn inherit_fd(cmd: &mut Command, fd: i32, targets: &'static [i32]) {
    // SAFETY: pre_exec runs in the forked child before exec; dup2 and
    // fcntl are async-signal-safe and `fd` is open in the child.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, move || {
            for &t in targets {
                // dup2 onto itself keeps close-on-exec: clear it explicitly.
                if fd != t {
                    libc::dup2(fd, t);
                }
                libc::fcntl(t, libc::F_SETFD, 0);
            }
            Ok(())
        });
    }
}

/// Reaps `pid` if it is our (dead or dying) child; gives up after 2 s.
pub fn reap(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        // SAFETY: waitpid on one pid with WNOHANG and a null status pointer.
        let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        if r != 0 || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs a command with stdout and stderr sent to files in `dir`.
pub fn run_captured(mut cmd: Command, dir: &Path) -> Output {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let (o, e) = (dir.join(format!(".out{n}")), dir.join(format!(".err{n}")));
    let status = cmd
        .stdin(Stdio::null())
        .stdout(fs::File::create(&o).unwrap())
        .stderr(fs::File::create(&e).unwrap())
        .status()
        .unwrap();
    let out = Output {
        status,
        stdout: fs::read(&o).unwrap(),
        stderr: fs::read(&e).unwrap(),
    };
    let _ = fs::remove_file(o);
    let _ = fs::remove_file(e);
    out
}

/// A console socket as containerd and conmon run one: a listening unix
/// socket that receives the pty master with SCM_RIGHTS.
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: std::os::unix::net::UnixListener,
}

impl ConsoleSocket {
    pub fn new(dir: &Path) -> ConsoleSocket {
        let path = dir.join(format!(
            "console-{}.sock",
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        ConsoleSocket { path, listener }
    }

    pub fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Accepts one connection and receives the descriptor and the name
    /// sent with it.
    pub fn receive(&self) -> (std::os::fd::OwnedFd, String) {
        use std::os::fd::{AsRawFd, FromRawFd};
        let (conn, _) = self.listener.accept().unwrap();
        let mut name = [0u8; 256];
        let mut iov = libc::iovec {
            iov_base: name.as_mut_ptr().cast(),
            iov_len: name.len(),
        };
        let mut cmsg = [0u64; 8];
        // SAFETY: zeroed msghdr is valid; every pointer set below points
        // into buffers that outlive the recvmsg call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cmsg);
        // SAFETY: `msg` describes valid buffers (above).
        let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, 0) };
        assert!(n > 0, "recvmsg: {}", std::io::Error::last_os_error());
        // SAFETY: the kernel filled the control buffer; CMSG_FIRSTHDR and
        // CMSG_DATA stay inside it for one SCM_RIGHTS message.
        let fd = unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            assert!(
                !c.is_null() && (*c).cmsg_type == libc::SCM_RIGHTS,
                "no descriptor received"
            );
            std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const i32)
        };
        // SAFETY: SCM_RIGHTS installed this descriptor for us alone.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        (
            fd,
            String::from_utf8_lossy(&name[..n as usize]).into_owned(),
        )
    }
}

/// Reads a pty master until the other side is gone (EIO).
pub fn read_pty(master: std::os::fd::OwnedFd) -> String {
    use std::io::Read;
    let mut f = fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).replace('\r', "")
}

/// Every directory named `id` in the first levels of the cgroup tree.
pub fn cgroup_dirs_named(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name() == id {
                found.push(e.path());
            }
            if depth < 4 {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    found
}

/// Never copies onto an existing path: that path may be a hard link to
/// `from` itself, and the copy would truncate the host's binary.
fn link_or_copy(from: &Path, to: &Path) {
    assert!(!to.exists(), "{} exists already", to.display());
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to).unwrap();
    }
}

/// A bundle directory and its config, written by [`Bundle::save`].
pub struct Bundle {
    pub path: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn save(&self) {
        fs::write(
            self.path.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path.join("rootfs")
    }

    /// A character device node the image brings along, at `rel` in the
    /// rootfs (mode 0666).
    pub fn mknod_char(&self, rel: &str, major: u32, minor: u32) {
        let node = self.rootfs().join(rel);
        let c = std::ffi::CString::new(node.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path that outlives the call.
        let made = unsafe {
            libc::mknod(
                c.as_ptr(),
                libc::S_IFCHR | 0o666,
                libc::makedev(major, minor),
            )
        };
        assert_eq!(made, 0, "mknod {}", node.display());
    }

    pub fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Adds `{"type": kind}` (a new namespace) to `linux.namespaces`.
    pub fn add_namespace(&mut self, kind: &str) -> &mut Self {
        if let Some(ns) = self.config["linux"]["namespaces"].as_array_mut() {
            ns.push(serde_json::json!({ "type": kind }));
        }
        self
    }

    /// Adds a new user namespace mapping 0-65535 to host 100000-165535.
    pub fn add_userns(&mut self) -> &mut Self {
        self.add_namespace("user");
        let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        self.config["linux"]["uidMappings"] = map.clone();
        self.config["linux"]["gidMappings"] = map;
        self
    }

    /// Sets `process.args`.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = serde_json::json!(args);
        self
    }
}

/// The default spec as `berth spec` writes it.
pub fn default_spec() -> Value {
    let dir = std::env::temp_dir().join(format!(
        "berth-spec-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(berth_bin());
    cmd.args(["spec", "--bundle"]).arg(&dir);
    let out = run_captured(cmd, &dir);
    assert!(out.status.success(), "berth spec: {}", text(&out));
    let v = serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    v
}

/// A command's standard output, line by line.
pub fn stdout_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// A child of some process, from /proc/PID/stat.
pub struct ProcChild {
    pub pid: i32,
    /// The command name, truncated to 15 bytes by the kernel.
    pub comm: String,
    /// R, S, Z, ...
    pub state: String,
}

/// The processes whose parent is `ppid`.
pub fn children_of(ppid: u32) -> Vec<ProcChild> {
    let ppid = ppid.to_string();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid ...; comm may hold spaces and ')'.
            let (head, rest) = stat.rsplit_once(") ")?;
            let (_, comm) = head.split_once(" (")?;
            let mut f = rest.split(' ');
            let state = f.next()?.to_string();
            (f.next()? == ppid).then(|| ProcChild {
                pid,
                comm: comm.to_string(),
                state,
            })
        })
        .collect()
}

/// stdout and stderr of a command, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The command failed and its stderr mentions `needle`.
pub fn assert_fails(out: &Output, needle: &str) {
    assert!(!out.status.success(), "succeeded: {}", text(out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(needle),
        "expected {needle:?} in the error: {}",
        text(out)
    );
}

/// The last line of output that parses as JSON.
pub fn parse_last_json(out: &[u8]) -> Value {
    let s = String::from_utf8_lossy(out);
    s.lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON in output: {s}"))
}

/// The strings of a JSON array (env lists, namespace types, ...).
pub fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Parses a hex capability mask as /proc/self/status prints it.
pub fn cap_mask(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap_or("0"), 16).unwrap()
}

/// Capability bit of a name like "CAP_KILL".
pub fn cap_bit(name: &str) -> u64 {
    const NAMES: &[&str] = &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
    ];
    1u64 << NAMES
        .iter()
        .position(|n| *n == name)
        .expect("known capability")
}

/// The namespace links of the test process itself.
pub fn host_ns(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

/// Lines of mountinfo whose mount point is `path`.
pub fn mount_lines<'a>(report: &'a Value, path: &str) -> Vec<&'a str> {
    report["mountinfo"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(path))
        .collect()
}
