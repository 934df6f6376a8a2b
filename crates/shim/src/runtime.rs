//! Driving the OCI runtime through its command line, as
//! containerd-shim-runc-v2 drives runc: `--root R --log B/log.json
//! --log-format json COMMAND ...`. A failed command's error is the last
//! `error` line of that JSON log (the runtime's own message).

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use crate::error::Error;
use crate::reaper::Reaper;

/// A runc-compatible binary and its state root.
#[derive(Clone)]
pub struct Runtime {
    pub binary: PathBuf,
    pub root: PathBuf,
    /// The JSON log, in the bundle.
    pub log: PathBuf,
    pub reaper: Arc<Reaper>,
}

/// Standard streams for the process a command starts (create, exec).
#[derive(Default)]
pub struct ProcIo {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

impl Runtime {
    /// Runs one command to its end. `io` becomes the command's stdio (and
    /// so the container process's); without it the command gets
    /// /dev/null and its output is discarded (errors are in the log).
    fn run(&self, args: &[&str], io: ProcIo) -> Result<(), Error> {
        // std's spawn waits for a child whose exec failed, which would race
        // with the reaper: make sure the exec cannot fail for that reason.
        if nix::unistd::access(&self.binary, nix::unistd::AccessFlags::X_OK).is_err() {
            return Err(Error::Runtime(format!(
                "runtime binary {} is not an executable file",
                self.binary.display()
            )));
        }
        let stdio = |fd: Option<OwnedFd>| fd.map_or_else(Stdio::null, Stdio::from);
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(&self.log)
            .args(["--log-format", "json"])
            .args(args)
            .stdin(stdio(io.stdin))
            .stdout(stdio(io.stdout))
            .stderr(stdio(io.stderr));
        let start = fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let child = cmd
            .spawn()
            .map_err(|e| Error::Runtime(format!("starting {}: {e}", self.binary.display())))?;
        // Drop the parent's copies of the container's streams now, so the
        // reader sees end-of-file when the container closes them.
        drop(cmd);
        let code = self.reaper.wait(child.id() as i32);
        if code == 0 {
            return Ok(());
        }
        Err(Error::Runtime(last_error(&self.log, start).unwrap_or_else(
            || format!("{} {} exited with {code}", self.binary.display(), args[0]),
        )))
    }

    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        console: Option<&Path>,
        io: ProcIo,
    ) -> Result<i32, Error> {
        let b = bundle.to_string_lossy();
        let pid_file = bundle.join("init.pid");
        self.run_for_pid(&["create", "--bundle", &b], &pid_file, console, id, io)
    }

    pub fn start(&self, id: &str) -> Result<(), Error> {
        self.run(&["start", id], ProcIo::default())
    }

    /// `exec --detach`: the process's pid.
    pub fn exec(
        &self,
        id: &str,
        process: &Path,
        pid_file: &Path,
        console: Option<&Path>,
        io: ProcIo,
    ) -> Result<i32, Error> {
        let pr = process.to_string_lossy();
        let args = ["exec", "--process", &pr, "--detach"];
        self.run_for_pid(&args, pid_file, console, id, io)
    }

    /// `ARGS --pid-file PID_FILE [--console-socket SOCK] ID`: the pid the
    /// runtime wrote.
    fn run_for_pid(
        &self,
        args: &[&str],
        pid_file: &Path,
        console: Option<&Path>,
        id: &str,
        io: ProcIo,
    ) -> Result<i32, Error> {
        let p = pid_file.to_string_lossy();
        let mut all = args.to_vec();
        all.extend(["--pid-file", &p]);
        let c;
        if let Some(sock) = console {
            c = sock.to_string_lossy();
            all.extend(["--console-socket", &c]);
        }
        all.push(id);
        self.run(&all, io)?;
        read_pid(pid_file)
    }

    pub fn kill(&self, id: &str, signal: u32, all: bool) -> Result<(), Error> {
        let sig = signal.to_string();
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([id, &sig]);
        self.run(&args, ProcIo::default())
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<(), Error> {
        let args: &[&str] = if force {
            &["delete", "--force", id]
        } else {
            &["delete", id]
        };
        self.run(args, ProcIo::default())
    }

    pub fn pause(&self, id: &str) -> Result<(), Error> {
        self.run(&["pause", id], ProcIo::default())
    }

    pub fn resume(&self, id: &str) -> Result<(), Error> {
        self.run(&["resume", id], ProcIo::default())
    }

    /// `update -r FILE`: a runtime-spec `linux.resources` JSON.
    pub fn update(&self, id: &str, resources: &Path) -> Result<(), Error> {
        let r = resources.to_string_lossy();
        self.run(&["update", "-r", &r, id], ProcIo::default())
    }
}

fn read_pid(path: &Path) -> Result<i32, Error> {
    let text = fs::read_to_string(path)
        .map_err(|e| Error::Runtime(format!("reading {}: {e}", path.display())))?;
    text.trim()
        .parse()
        .map_err(|_| Error::Runtime(format!("{} holds no pid: {text:?}", path.display())))
}

/// The message of the last `"level":"error"` line a runtime wrote to its
/// JSON log after byte `from`.
pub fn last_error(log: &Path, from: u64) -> Option<String> {
    let text = fs::read(log).ok()?;
    let text = String::from_utf8_lossy(text.get(from as usize..)?);
    text.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v["level"] == "error").then(|| v["msg"].as_str().map(String::from))?
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_error_line_wins() {
        let p = std::env::temp_dir().join(format!("berth-shim-log-{}", std::process::id()));
        std::fs::write(
            &p,
            "{\"level\":\"error\",\"msg\":\"first\"}\nnot json\n{\"level\":\"error\",\"msg\":\"second\"}\n{\"level\":\"info\",\"msg\":\"x\"}\n",
        )
        .unwrap();
        assert_eq!(super::last_error(&p, 0).as_deref(), Some("second"));
        assert_eq!(super::last_error(&p, 200), None);
        std::fs::remove_file(&p).unwrap();
    }
}
