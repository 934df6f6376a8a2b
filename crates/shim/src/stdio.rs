//! A process's standard streams from containerd's request: fifo paths
//! (what `ctr` and the CRI use), `file:///path` and `binary:///path?k=v`
//! log URIs, or nothing (/dev/null). With a terminal, the pty master
//! comes back from the runtime over a console socket and is copied to
//! and from the fifos.
//!
//! stdout and stderr fifos are handed to the runtime as they are (the
//! process writes straight into them). stdin goes through a pipe fed by a
//! thread (`stdin.rs`): the process must see end-of-file when the client
//! closes its end (or calls CloseIO), and not before the client has
//! opened it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::runtime::ProcIo;
use crate::stdin::Stdin;

/// The paths containerd gave for one process.
#[derive(Debug, Clone, Default)]
pub struct StdioPaths {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
}

/// What the shim keeps of a process's IO once it started.
#[derive(Default)]
pub struct IoState {
    pub stdin: Option<Stdin>,
    /// The pty master, for ResizePty.
    pub console: Option<Arc<File>>,
}

impl IoState {
    pub fn close_stdin(&self) {
        if let Some(s) = &self.stdin {
            s.close();
        }
    }
}

fn pipe() -> Result<(File, File), Error> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("creating a pipe")(e.into()))?;
    Ok((File::from(r), File::from(w)))
}

fn open_fifo_write(path: &str) -> Result<File, Error> {
    // Blocks until the reader (containerd's client) has it open, as
    // containerd-shim-runc-v2 does.
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(Error::io(format!("opening {path}")))
}

/// Copies `src` into `dst` on a thread until either side ends.
fn copy_thread(
    name: &str,
    mut src: impl Read + Send + 'static,
    mut dst: impl Write + Send + 'static,
) {
    let _ = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = std::io::copy(&mut src, &mut dst);
        });
}

/// A `binary://` logger: started with the container's id and namespace in
/// its environment, stdout on fd 3, stderr on fd 4, and fd 5 to close
/// when it is ready; returns the write ends for the process.
fn binary_logger(uri: &str, id: &str, namespace: &str) -> Result<(File, File), Error> {
    let rest = uri.trim_start_matches("binary://");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (mut ready_r, ready_w) = pipe()?;
    let mut cmd = std::process::Command::new(path);
    // Each query pair becomes two arguments, key then value, as
    // containerd's runc shim passes them.
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        cmd.arg(k);
        if !v.is_empty() {
            cmd.arg(v);
        }
    }
    cmd.env("CONTAINER_ID", id)
        .env("CONTAINER_NAMESPACE", namespace)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let fds = [out_r.as_raw_fd(), err_r.as_raw_fd(), ready_w.as_raw_fd()];
    // SAFETY: the closure only calls dup2, which is async-signal-safe, on
    // descriptors that stay open in the parent until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            for (i, fd) in fds.iter().enumerate() {
                if libc::dup2(*fd, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(Error::io(format!("starting logger {path}")))?;
    drop((out_r, err_r, ready_w));
    // The logger closes fd 5 (or exits) when it is ready.
    let _ = ready_r.read(&mut [0u8; 1]);
    Ok((out_w, err_w))
}

fn log_file(uri: &str) -> Result<File, Error> {
    let path = uri.trim_start_matches("file://");
    if let Some(dir) = Path::new(path).parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    }
    OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(Error::io(format!("opening {path}")))
}

/// The streams to give the runtime for a process without a terminal, and
/// what the shim keeps.
pub fn open(p: &StdioPaths, id: &str, namespace: &str) -> Result<(ProcIo, IoState), Error> {
    let mut io = ProcIo::default();
    let mut state = IoState::default();
    if !p.stdin.is_empty() {
        let (r, w) = pipe()?;
        io.stdin = Some(r.into());
        state.stdin = Some(Stdin::start(p.stdin.clone(), w));
    }
    if p.stdout.starts_with("binary://") {
        let (out, err) = binary_logger(&p.stdout, id, namespace)?;
        io.stdout = Some(out.into());
        io.stderr = Some(err.into());
    } else if p.stdout.starts_with("file://") {
        let f = log_file(&p.stdout)?;
        io.stderr = Some(
            f.try_clone()
                .map_err(Error::io("duplicating the log file"))?
                .into(),
        );
        io.stdout = Some(f.into());
    } else {
        if !p.stdout.is_empty() {
            io.stdout = Some(open_fifo_write(&p.stdout)?.into());
        }
        if !p.stderr.is_empty() {
            io.stderr = Some(open_fifo_write(&p.stderr)?.into());
        }
    }
    Ok((io, state))
}

/// A console socket for `--console-socket`.
pub struct ConsoleSocket {
    dir: PathBuf,
    pub path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// In a private directory under the temporary directory: bundle paths
    /// can exceed a socket address's 108 bytes.
    pub fn new() -> Result<Self, Error> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("berth-shim-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&dir)
            .map_err(Error::io(format!("creating {}", dir.display())))?;
        let path = dir.join("s");
        let listener =
            UnixListener::bind(&path).map_err(Error::io(format!("binding {}", path.display())))?;
        Ok(ConsoleSocket {
            dir,
            path,
            listener,
        })
    }

    /// After the runtime sent the master: receives it, wires it to the
    /// fifos, and returns the state to keep.
    pub fn finish(self, p: &StdioPaths) -> Result<IoState, Error> {
        self.listener
            .set_nonblocking(true)
            .map_err(Error::io("console socket"))?;
        let (conn, _) = self.listener.accept().map_err(|_| {
            Error::Runtime("the runtime sent no terminal on the console socket".into())
        })?;
        conn.set_nonblocking(false)
            .map_err(Error::io("console socket"))?;
        let master = recv_fd(&conn)?;
        let master = Arc::new(File::from(master));
        let mut state = IoState {
            console: Some(master.clone()),
            ..IoState::default()
        };
        if !p.stdin.is_empty() {
            let w = master
                .try_clone()
                .map_err(Error::io("duplicating the pty"))?;
            state.stdin = Some(Stdin::start(p.stdin.clone(), w));
        }
        if !p.stdout.is_empty() {
            let out = open_fifo_write(&p.stdout)?;
            let r = master
                .try_clone()
                .map_err(Error::io("duplicating the pty"))?;
            copy_thread("console", r, out);
        }
        Ok(state)
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One descriptor received with SCM_RIGHTS.
fn recv_fd(conn: &std::os::unix::net::UnixStream) -> Result<OwnedFd, Error> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::io("receiving the terminal")(e.into()))?;
    for c in msg
        .cmsgs()
        .map_err(|e| Error::io("receiving the terminal")(e.into()))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(Error::Runtime(
        "the console socket carried no descriptor".into(),
    ))
}

/// TIOCSWINSZ on the pty master.
pub fn resize(master: &File, width: u32, height: u32) -> Result<(), Error> {
    let ws = libc::winsize {
        ws_row: height as u16,
        ws_col: width as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize struct that outlives the call.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if r < 0 {
        return Err(Error::io("resizing the terminal")(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
