//! Layers are read, verified and decompressed on a thread of their own,
//! one layer ahead of the applier, which applies them in order. Between
//! the two is a bounded channel of 1 MiB chunks (at most 8 in flight),
//! so memory stays small whatever the layer's size. The producer stops
//! when the applier goes away.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::Scope;

const CHUNK: usize = 1 << 20;
const IN_FLIGHT: usize = 8;

/// The applier's end: a reader over the chunks.
pub struct Stream {
    rx: Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
    /// What the producer failed with (reading, verifying, inflating).
    failed: Option<String>,
}

impl Stream {
    /// The producer's error, once the stream has returned it.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }
}

/// Starts producing the stream `open` returns, on a scoped thread.
pub fn spawn<'scope, F>(scope: &'scope Scope<'scope, '_>, open: F) -> Stream
where
    F: FnOnce() -> io::Result<Box<dyn Read + Send>> + Send + 'scope,
{
    let (tx, rx) = sync_channel(IN_FLIGHT);
    scope.spawn(move || {
        let mut r = match open() {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        loop {
            let mut chunk = vec![0u8; CHUNK];
            let mut filled = 0;
            let result = loop {
                match r.read(&mut chunk[filled..]) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        filled += n;
                        if filled == CHUNK {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            chunk.truncate(filled);
            let end = filled < CHUNK;
            if filled > 0 && tx.send(Ok(chunk)).is_err() {
                return;
            }
            if let Err(e) = result {
                let _ = tx.send(Err(e));
                return;
            }
            if end {
                return;
            }
        }
    });
    Stream {
        rx,
        buf: Vec::new(),
        pos: 0,
        failed: None,
    }
}

impl Read for Stream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.failed = Some(e.to_string());
                    return Err(e);
                }
                // The producer is done: end of stream.
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
