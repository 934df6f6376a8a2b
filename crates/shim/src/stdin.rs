//! A process's stdin: a thread opens containerd's stdin fifo (waiting for
//! the client to open its end) and feeds what it reads into the process's
//! side (a pipe, or the pty master), which it closes at the end so the
//! process sees end-of-file.
//!
//! CloseIO (or the process's exit) asks the thread to finish: what the
//! client has already written is still forwarded, then the process's side
//! is closed. A thread still waiting for the client to open the fifo is
//! released by opening and closing a writer.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct Stdin {
    closing: Arc<AtomicBool>,
    path: String,
}

impl Stdin {
    /// Starts forwarding fifo `path` into `dst`.
    pub fn start(path: String, dst: File) -> Stdin {
        let closing = Arc::new(AtomicBool::new(false));
        let (p, c) = (path.clone(), closing.clone());
        let _ = std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || feed(&p, dst, &c));
        Stdin { closing, path }
    }

    /// Forward what is pending, then close the process's stdin.
    pub fn close(&self) {
        if self.closing.swap(true, Ordering::SeqCst) {
            return;
        }
        // Releases a thread blocked opening the fifo; fails harmlessly
        // (ENXIO) when no reader is left.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&self.path);
    }
}

fn feed(path: &str, mut dst: File, closing: &AtomicBool) {
    let Ok(mut fifo) = File::open(path) else {
        return;
    };
    let mut buf = [0u8; 8192];
    loop {
        let asked_to_close = closing.load(Ordering::SeqCst);
        if !crate::poll::readable(fifo.as_fd(), if asked_to_close { 0 } else { 200 }) {
            if asked_to_close {
                break;
            }
            continue;
        }
        match fifo.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if dst.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    // Dropping `dst` gives the process end-of-file.
}
