//! Blobs are checked while they stream: a reader that hashes and counts
//! what passes through it and fails at the end (or as soon as it has
//! read more than the descriptor's size) when the blob is not the one
//! the descriptor names.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// A `sha256:` digest, checked for form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest(String);

impl Digest {
    pub fn parse(s: &str) -> Result<Digest, String> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| format!("{s:?}: only sha256 digests are supported"))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(format!("{s:?} is not a sha256 digest"));
        }
        Ok(Digest(s.to_string()))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }

    pub fn of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex(&Sha256::digest(bytes))))
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Passes `inner` through, hashing it; at EOF the hash and the length
/// must match `digest` and `size` (when known), else the read fails.
pub struct Verify<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    digest: Option<Digest>,
    size: Option<u64>,
    done: bool,
}

impl<R: Read> Verify<R> {
    pub fn new(inner: R, digest: Option<Digest>, size: Option<u64>) -> Self {
        Verify {
            inner,
            hasher: Sha256::new(),
            read: 0,
            digest,
            size,
            done: false,
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.done = true;
        if let Some(size) = self.size.filter(|s| *s != self.read) {
            return Err(bad(format!(
                "{} bytes where the descriptor says {size}",
                self.read
            )));
        }
        let got = format!("sha256:{}", hex(&self.hasher.clone().finalize()));
        match &self.digest {
            Some(want) if want.0 != got => Err(bad(format!("content is {got}, not {want}"))),
            _ => Ok(()),
        }
    }
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<R: Read> Read for Verify<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.finish()?;
            return Ok(0);
        }
        if self.digest.is_some() {
            self.hasher.update(&buf[..n]);
        }
        self.read += n as u64;
        if let Some(size) = self.size.filter(|s| self.read > *s) {
            return Err(bad(format!(
                "more than the {size} bytes the descriptor says"
            )));
        }
        Ok(n)
    }
}

/// Reads `r` to its end (so a verifying reader checks the whole blob).
pub fn drain(mut r: impl Read) -> io::Result<()> {
    io::copy(&mut r, &mut io::sink()).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_digest_and_size() {
        let data = b"hello";
        let d = Digest::of(data);
        assert!(drain(Verify::new(&data[..], Some(d.clone()), Some(5))).is_ok());
        assert!(drain(Verify::new(&data[..], Some(d.clone()), Some(4))).is_err());
        assert!(drain(Verify::new(&data[..], Some(d), Some(6))).is_err());
        let other = Digest::of(b"hellO");
        assert!(drain(Verify::new(&data[..], Some(other), None)).is_err());
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse("md5:00").is_err());
    }
}
