//! Terminals through a console socket, the way containerd and conmon
//! receive them: the pty master arrives with SCM_RIGHTS, it is a real pty
//! master, and I/O flows through it.

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
