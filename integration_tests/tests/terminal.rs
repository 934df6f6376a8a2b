//! Terminals through a console socket, the way containerd and conmon
//! receive them: the pty master arrives with SCM_RIGHTS, it is a real pty
//! master, and I/O flows through it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::io::Write;
use std::os::fd::AsRawFd;

use berth_integration_tests::{assert_fails, read_pty, text, ConsoleSocket, Env};
use serde_json::json;

fn is_pty_master(fd: &std::os::fd::OwnedFd) -> bool {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int; it only succeeds on a
    // pty master.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTN, &mut n) == 0 }
}

#[test]
fn create_sends_the_pty_master_to_the_console_socket() {
    let env = Env::new("tty-create");
    let mut b = env.bundle("b");
    b.config["process"]["terminal"] = true.into();
    b.config["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    b.args(&[
        "/bin/sh",
        "-c",
        "tty; stty size; ls -l /dev/console; read x; echo got-$x",
    ]);
    b.save();
    let console = ConsoleSocket::new(&env.dir);
    let id = env.id("c");
    let out = env.berth(&[
        "create",
        "--console-socket",
        console.arg(),
        "-b",
        b.arg(),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let (master, name) = console.receive();
    assert!(is_pty_master(&master), "received fd is not a pty master");
    assert_eq!(name, "/dev/pts/0");
    assert!(env.berth(&["start", &id]).status.success());
    let mut w = std::fs::File::from(master.try_clone().unwrap());
    w.write_all(b"abc\n").unwrap();
    let output = read_pty(master);
    // The terminal echoes the input wherever it lands among the output.
    let lines: Vec<&str> = output.lines().collect();
    assert!(lines.contains(&"/dev/pts/0"), "{output}");
    assert!(lines.contains(&"30 100"), "consoleSize: {output}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with('c') && l.contains("136,") && l.ends_with("/dev/console")),
        "/dev/console is the pty: {output}"
    );
    assert!(
        lines.contains(&"got-abc"),
        "input reaches the container: {output}"
    );
}

#[test]
fn exec_tty_through_a_console_socket() {
    let env = Env::new("tty-exec");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "1000"]);
    let id = env.id("c");
    env.run_detached(&b, &id);
    let console = ConsoleSocket::new(&env.dir);
    let mut child = env
        .command(&[
            "exec",
            "--tty",
            "--console-socket",
            console.arg(),
            &id,
            "sh",
            "-c",
            "tty; echo exec-ok",
        ])
        .spawn()
        .unwrap();
    let (master, _) = console.receive();
    assert!(is_pty_master(&master));
    let output = read_pty(master);
    assert!(child.wait().unwrap().success());
    assert!(
        output.contains("/dev/pts/") && output.contains("exec-ok"),
        "{output}"
    );
}

#[test]
fn terminal_and_console_socket_come_together() {
    let env = Env::new("tty-mismatch");
    let mut b = env.bundle("b");
    b.config["process"]["terminal"] = true.into();
    env.create_fails(&b, &env.id("a"), "process.terminal");
    b.config["process"]["terminal"] = false.into();
    b.save();
    let console = ConsoleSocket::new(&env.dir);
    let id = env.id("b");
    let out = env.berth(&[
        "create",
        "--console-socket",
        console.arg(),
        "-b",
        b.arg(),
        &id,
    ]);
    assert_fails(&out, "--console-socket");
    env.assert_gone(&id);
}

/// A pty standing in for the user's terminal.
struct UserTerminal {
    master: std::os::fd::OwnedFd,
    slave: std::os::fd::OwnedFd,
}

impl UserTerminal {
    fn new(rows: u16, cols: u16) -> UserTerminal {
        use std::os::fd::FromRawFd;
        let (mut m, mut s) = (0, 0);
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty fills two descriptors; null name and termios are
        // allowed, `ws` outlives the call.
        let r =
            unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
        assert_eq!(r, 0);
        // SAFETY: openpty just created both descriptors for us.
        unsafe {
            UserTerminal {
                master: std::os::fd::OwnedFd::from_raw_fd(m),
                slave: std::os::fd::OwnedFd::from_raw_fd(s),
            }
        }
    }

    fn stdio(&self) -> std::process::Stdio {
        std::process::Stdio::from(self.slave.try_clone().unwrap())
    }

    fn resize(&self, rows: u16, cols: u16) {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ with a valid winsize.
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(r, 0);
    }

    fn type_in(&self, s: &str) {
        std::fs::File::from(self.master.try_clone().unwrap())
            .write_all(s.as_bytes())
            .unwrap();
    }

    /// Reads until `needle` shows up (10 s at most); returns all read.
    fn read_until(&self, needle: &str, seen: &mut String) {
        use std::io::Read;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut f = std::fs::File::from(self.master.try_clone().unwrap());
        while !seen.contains(needle) {
            assert!(
                std::time::Instant::now() < deadline,
                "never saw {needle:?} in {seen:?}"
            );
            let mut pfd = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, 100) } > 0 {
                let mut buf = [0u8; 4096];
                let n = f.read(&mut buf).unwrap_or(0);
                seen.push_str(&String::from_utf8_lossy(&buf[..n]).replace('\r', ""));
            }
        }
    }

    fn canonical(&self) -> bool {
        // SAFETY: zeroed termios is valid; tcgetattr fills it.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: valid descriptor and out-pointer.
        let r = unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) };
        assert_eq!(r, 0);
        t.c_lflag & libc::ICANON != 0 && t.c_lflag & libc::ECHO != 0
    }
}

#[test]
fn foreground_run_relays_an_interactive_terminal() {
    let env = Env::new("tty-run");
    let mut b = env.bundle("b");
    b.config["process"]["terminal"] = true.into();
    b.args(&[
        "/bin/sh",
        "-c",
        "stty size; read x; stty size; echo done-$x; exit 5",
    ]);
    b.save();
    let user = UserTerminal::new(20, 70);
    let id = env.id("c");
    let mut child = env
        .command(&["run", "-b", b.arg(), &id])
        .stdin(user.stdio())
        .stdout(user.stdio())
        .stderr(user.stdio())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    user.read_until("20 70", &mut seen);
    assert!(
        !user.canonical(),
        "the caller's terminal is raw while relaying"
    );
    user.resize(33, 99);
    // SAFETY: kill(2) on our own child, which has not been waited for.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGWINCH) }, 0);
    std::thread::sleep(std::time::Duration::from_millis(200));
    user.type_in("go\r");
    user.read_until("done-go", &mut seen);
    assert_eq!(child.wait().unwrap().code(), Some(5));
    assert!(seen.contains("33 99"), "resized on SIGWINCH: {seen:?}");
    assert!(user.canonical(), "the caller's terminal is restored");
    env.assert_gone(&id);
}

#[test]
fn foreground_exec_tty_relays_too() {
    let env = Env::new("tty-exec-fg");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "1000"]);
    let id = env.id("c");
    env.run_detached(&b, &id);
    let user = UserTerminal::new(24, 80);
    let mut child = env
        .command(&["exec", "-t", &id, "sh", "-c", "tty; read x; echo exec-$x"])
        .stdin(user.stdio())
        .stdout(user.stdio())
        .stderr(user.stdio())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    user.read_until("/dev/pts/", &mut seen);
    user.type_in("yes\r");
    user.read_until("exec-yes", &mut seen);
    assert!(child.wait().unwrap().success());
}
