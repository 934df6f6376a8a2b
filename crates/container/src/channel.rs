//! The handshake between the runtime and the container's processes: one
//! SOCK_SEQPACKET socketpair, one message per packet.
//!
//! ```text
//! runtime                      intermediate                 init
//!    │  clone3 into the v2 cgroup │ join v1 cgroups itself
//!    │  (or fork) ──────────────▶ │ join namespaces by path
//!    │                           │ [new userns] unshare(USER)
//!    │ ◀──────── UserNsReady ─── │
//!    │ write uid/gid maps        │
//!    │ ── Continue ────────────▶ │ unshare other namespaces
//!    │                           │ fork ─────────────────────▶ │ (pid 1 of a new pid ns)
//!    │ ◀─────────── InitPid ──── │ exit                       │
//!    │ ── Go ──────────────────────────────────────────────▶ │ mounts, devices
//!    │ ◀───────────────────────────────────────── Hooks ───── │ [only if hooks need a pause]
//!    │ prestart, createRuntime                                │
//!    │ ── HooksDone(state) ───────────────────────────────▶ │ createContainer hooks
//!    │                                                        │ pivot_root, process setup
//!    │ ◀───────────────────────────────────────── Ready ───── │ then waits on exec.sock
//! ```
//! Any child step that fails sends `Error(message)` and exits. EOF where a
//! message was expected is an error naming that message.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::{sys, Error};

/// Every message of the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    UserNsReady,
    Continue,
    InitPid(i32),
    Go,
    Hooks,
    HooksDone(Vec<u8>),
    Ready,
    Error(String),
    /// Comes with the seccomp listener descriptor (SCM_RIGHTS).
    SeccompListener,
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        let (tag, body): (u8, &[u8]) = match self {
            Msg::UserNsReady => (1, &[]),
            Msg::Continue => (2, &[]),
            Msg::InitPid(pid) => return [&[3u8][..], &pid.to_le_bytes()].concat(),
            Msg::Go => (4, &[]),
            Msg::Hooks => (5, &[]),
            Msg::HooksDone(s) => (6, s),
            Msg::Ready => (7, &[]),
            Msg::Error(e) => (8, e.as_bytes()),
            Msg::SeccompListener => (9, &[]),
        };
        [&[tag][..], body].concat()
    }

    fn decode(buf: &[u8]) -> Option<Msg> {
        let (tag, body) = buf.split_first()?;
        Some(match tag {
            1 => Msg::UserNsReady,
            2 => Msg::Continue,
            3 => Msg::InitPid(i32::from_le_bytes(body.try_into().ok()?)),
            4 => Msg::Go,
            5 => Msg::Hooks,
            6 => Msg::HooksDone(body.to_vec()),
            7 => Msg::Ready,
            8 => Msg::Error(String::from_utf8_lossy(body).into_owned()),
            9 => Msg::SeccompListener,
            _ => return None,
        })
    }

    fn name(&self) -> String {
        match self {
            Msg::Error(e) => format!("error: {e}"),
            other => format!("{other:?}")
                .split('(')
                .next()
                .unwrap_or_default()
                .to_string(),
        }
    }
}

/// One end of the handshake socket.
pub struct Channel {
    fd: OwnedFd,
}

const MAX_MSG: usize = 1 << 20;

impl Channel {
    /// A connected pair, both ends close-on-exec.
    pub fn pair() -> Result<(Channel, Channel), Error> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::spawn("creating the handshake socket")(e.into()))?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub fn send(&self, msg: &Msg) -> io::Result<()> {
        sys::write_all(self.fd.as_fd(), &msg.encode())
    }

    /// Receives one message; `None` on EOF.
    /// Sends `msg` with a descriptor attached.
    pub fn send_fd(&self, msg: &Msg, fd: BorrowedFd<'_>) -> io::Result<()> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        let fds = [fd.as_raw_fd()];
        let body = msg.encode();
        sendmsg::<()>(
            self.fd.as_raw_fd(),
            &[io::IoSlice::new(&body)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )?;
        Ok(())
    }

    #[cfg(test)]
    pub fn recv(&self) -> io::Result<Option<Msg>> {
        Ok(self.recv_with_fd()?.map(|(m, _)| m))
    }

    /// The next message and the descriptor that came with it, if any
    /// (close-on-exec).
    pub fn recv_with_fd(&self) -> io::Result<Option<(Msg, Option<OwnedFd>)>> {
        use nix::sys::socket::{recv, recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::FromRawFd;
        // Peek with MSG_TRUNC for the packet's size, then read it whole.
        let size = loop {
            match recv(
                self.fd.as_raw_fd(),
                &mut [],
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if size > MAX_MSG {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "handshake message too large",
            ));
        }
        let mut buf = vec![0u8; size.max(1)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [io::IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => {
                    let mut fd = None;
                    for c in m.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for raw in fds {
                                // SAFETY: SCM_RIGHTS just installed this
                                // descriptor for us; nothing else owns it.
                                fd = Some(unsafe { OwnedFd::from_raw_fd(raw) });
                            }
                        }
                    }
                    break (m.bytes, fd);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = Msg::decode(&buf[..n]).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "malformed handshake message")
        })?;
        Ok(Some((msg, fd)))
    }

    /// Receives and returns the message when it is `expected`'s kind;
    /// a child error, EOF or another message becomes an error.
    pub fn expect(
        &self,
        expected: &'static str,
        accept: impl Fn(&Msg) -> bool,
    ) -> Result<Msg, Error> {
        self.expect_with_fd(expected, accept).map(|(m, _)| m)
    }

    /// [`Channel::expect`], keeping a descriptor that came along.
    pub fn expect_with_fd(
        &self,
        expected: &'static str,
        accept: impl Fn(&Msg) -> bool,
    ) -> Result<(Msg, Option<OwnedFd>), Error> {
        match self
            .recv_with_fd()
            .map_err(Error::spawn("reading the handshake"))?
        {
            None => Err(Error::ChildGone(expected)),
            Some((Msg::Error(e), _)) => Err(Error::Child(e)),
            Some((m, fd)) if accept(&m) => Ok((m, fd)),
            Some((m, _)) => Err(Error::Protocol {
                expected,
                got: m.name(),
            }),
        }
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let (a, b) = Channel::pair().unwrap();
        for m in [
            Msg::UserNsReady,
            Msg::InitPid(4242),
            Msg::HooksDone(b"{\"x\":1}".to_vec()),
            Msg::Error("boom".into()),
            Msg::Ready,
        ] {
            a.send(&m).unwrap();
            assert_eq!(b.recv().unwrap(), Some(m));
        }
        a.send(&Msg::Ready).unwrap();
        assert!(matches!(
            b.expect("Go", |m| *m == Msg::Go),
            Err(Error::Protocol { .. })
        ));
        a.send(&Msg::Error("bad".into())).unwrap();
        assert!(matches!(
            b.expect("Go", |m| *m == Msg::Go),
            Err(Error::Child(_))
        ));
        drop(a);
        assert!(matches!(
            b.expect("Go", |m| *m == Msg::Go),
            Err(Error::ChildGone("Go"))
        ));
    }
}
