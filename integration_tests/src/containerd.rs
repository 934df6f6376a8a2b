//! A private containerd for the engine tests (tests/containerd.rs, and
//! tests/cgroup_v2.rs in the VM): own root, state and sockets, the CRI
//! plugin disabled, its own namespace, a busybox image imported, and
//! everything removed on drop.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test harness: a failed step is a failed test"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{berth_bin, text, Env};

pub const IMAGE: &str = "docker.io/berth/busybox:latest";
pub const RUNTIME: &str = "io.containerd.berth.v2";

/// A private containerd.
pub struct Ctd {
    pub dir: PathBuf,
    pub ns: String,
    daemon: Child,
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}: {}", text(&out));
}

impl Ctd {
    pub fn start(env: &Env, name: &str) -> Ctd {
        let dir = env.dir.join("ctd");
        fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        fs::write(
            dir.join("config.toml"),
            format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{d}/c.sock\"\n[ttrpc]\n  address = \"{d}/c.sock.ttrpc\"\n"
            ),
        )
        .unwrap();
        // containerd finds containerd-shim-berth-v2 on its PATH; the shim
        // finds berth next to itself.
        let bins = berth_bin().parent().unwrap().to_path_buf();
        let path = format!(
            "{}:{}",
            bins.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("containerd.log")).unwrap())
            .stderr(fs::File::create(dir.join("containerd.err")).unwrap())
            .spawn()
            .unwrap();
        let ctd = Ctd {
            dir,
            ns: format!("berth-test-{name}-{}", std::process::id()),
            daemon,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ctd.ctr(&["version"]).status.success() {
            assert!(Instant::now() < deadline, "containerd did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        ctd.import_image();
        ctd
    }

    /// busybox as an image: umoci builds the layout, skopeo the archive;
    /// or, where those tools are missing (the VM), the archive named by
    /// `BERTH_TEST_IMAGE_TAR`, built the same way by hack/test-v2.sh.
    pub fn import_image(&self) {
        if let Some(tar) = std::env::var_os("BERTH_TEST_IMAGE_TAR") {
            let out = self.ctr(&["images", "import", tar.to_str().unwrap()]);
            assert!(out.status.success(), "import: {}", text(&out));
            return;
        }
        let b = self.dir.join("build");
        fs::create_dir_all(&b).unwrap();
        sh(&b, "umoci init --layout img && umoci new --image img:t && umoci unpack --image img:t u >/dev/null");
        let bin = b.join("u/rootfs/bin");
        fs::create_dir_all(&bin).unwrap();
        fs::create_dir_all(b.join("u/rootfs/tmp")).unwrap();
        fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for a in [
            "sh", "echo", "cat", "sleep", "true", "env", "id", "ls", "tty", "touch", "dd", "head",
            "stty",
        ] {
            std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap();
        }
        sh(
            &b,
            "umoci repack --image img:t u && umoci config --image img:t --config.cmd /bin/sh",
        );
        sh(
            &b,
            &format!(
                "skopeo copy -q oci:img:t docker-archive:img.tar:{}",
                IMAGE.trim_start_matches("docker.io/")
            ),
        );
        let out = self.ctr(&["images", "import", b.join("img.tar").to_str().unwrap()]);
        assert!(out.status.success(), "import: {}", text(&out));
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("timeout");
        // `-s KILL` rather than --kill-after: busybox's timeout (the VM) too.
        c.args(["-s", "KILL", "60", "ctr", "-a"])
            .arg(self.dir.join("c.sock"))
            .args(["-n", &self.ns])
            .args(args);
        c
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    /// `ctr run --rm` through the berth shim.
    pub fn run(&self, id: &str, extra: &[&str], cmd: &[&str]) -> Output {
        let mut args = vec!["run", "--rm", "--runtime", RUNTIME];
        args.extend(extra);
        args.extend([IMAGE, id]);
        args.extend(cmd);
        self.ctr(&args)
    }

    /// Runs container `id` with a 16 MiB memory limit and dd's 64 MiB
    /// buffer: asserts the memory limit is enforced (OOM kill, exit 137).
    pub fn assert_oom_killed(&self, id: &str) {
        let out = self.run(
            id,
            &["--memory-limit", "16777216"],
            &[
                "/bin/dd",
                "if=/dev/zero",
                "of=/dev/null",
                "bs=64M",
                "count=1",
            ],
        );
        assert_eq!(out.status.code(), Some(137), "OOM-killed: {}", text(&out));
    }

    /// `ctr run -d` of `sleep 1000` through the berth shim, with `extra`
    /// flags; asserts that it started.
    pub fn sleeper(&self, id: &str, extra: &[&str]) {
        let mut args = vec!["run", "-d", "--runtime", RUNTIME];
        args.extend(extra);
        args.extend([IMAGE, id, "/bin/sleep", "1000"]);
        let out = self.ctr(&args);
        assert!(out.status.success(), "{}", text(&out));
    }

    /// Starts recording `ctr events` until [`Events::stop`].
    pub fn events(&self) -> Events {
        let log = self.dir.join("events.log");
        let child = self
            .command(&["events"])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Subscribed before anything the test does next.
        std::thread::sleep(Duration::from_millis(300));
        Events { child, log }
    }

    pub fn task_pid(&self, id: &str) -> i32 {
        let out = self.ctr(&["task", "ls"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&id)).then(|| f[1].parse().unwrap())
            })
            .unwrap_or(0)
    }

    pub fn status(&self, id: &str) -> String {
        let out = self.ctr(&["task", "ls"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&id)).then(|| f[2].to_string())
            })
            .unwrap_or_default()
    }

    pub fn shim_pid(&self, id: &str) -> Option<i32> {
        let want = format!("-id {id} -address {}", self.dir.join("c.sock").display());
        fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            (cmd.contains("containerd-shim-berth-v2") && cmd.contains(&want)).then_some(pid)
        })
    }

    pub fn remove(&self, id: &str) {
        let _ = self.ctr(&["task", "kill", "-s", "KILL", id]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.status(id) == "RUNNING" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.ctr(&["task", "rm", "-f", id]);
        let _ = self.ctr(&["containers", "rm", id]);
    }
}

impl Drop for Ctd {
    fn drop(&mut self) {
        let out = self.ctr(&["containers", "ls", "-q"]);
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            self.remove(id.trim());
        }
        let _ = self.ctr(&["images", "rm", IMAGE]);
        let _ = self.ctr(&["namespaces", "rm", &self.ns]);
        // SAFETY: kill(2) on the containerd this test started.
        unsafe { libc::kill(self.daemon.id() as i32, libc::SIGTERM) };
        let _ = self.daemon.wait();
        let dir = self.dir.to_string_lossy().into_owned();
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&dir))
            .collect();
        ours.reverse();
        for m in ours {
            let c = std::ffi::CString::new(m).unwrap();
            // SAFETY: NUL-terminated path of a mount under this test's dir.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = fs::remove_dir_all(Path::new("/run/containerd/berth").join(&self.ns));
        reap_exited_shims();
    }
}

/// Shims outlive the `start` command that spawned them, so the test (a
/// subreaper) inherits them: reaps those that have exited.
fn reap_exited_shims() {
    for c in crate::children_of(std::process::id()) {
        if c.comm == "containerd-shim" && c.state == "Z" {
            crate::reap(c.pid);
        }
    }
}

/// A running `ctr events`.
pub struct Events {
    child: Child,
    log: PathBuf,
}

impl Events {
    /// Stops recording (after a moment for the last events to arrive) and
    /// returns the lines seen.
    pub fn stop(mut self) -> String {
        std::thread::sleep(Duration::from_millis(500));
        let _ = self.child.kill();
        let _ = self.child.wait();
        fs::read_to_string(&self.log).unwrap()
    }
}
