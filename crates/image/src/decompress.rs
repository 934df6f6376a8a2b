//! Layer compression: from the media type, or, where there is none
//! (docker archives), from the first bytes.

use std::io::{self, BufRead, BufReader, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// From a layer media type; None for types that are not layers.
    pub fn of_media_type(t: &str) -> Option<Option<Compression>> {
        let known = [
            "application/vnd.oci.image.layer.v1.tar",
            "application/vnd.oci.image.layer.nondistributable.v1.tar",
            "application/vnd.docker.image.rootfs.diff.tar",
            "application/vnd.docker.image.rootfs.foreign.diff.tar",
        ];
        if t.is_empty() {
            return Some(None);
        }
        let (base, suffix) = match t.split_once('+') {
            Some((b, s)) => (b, Some(s)),
            None => (t, None),
        };
        let base = base.strip_suffix(".gzip").map_or(base, |b| b);
        let gzip_docker = t.ends_with(".tar.gzip");
        if !known.contains(&base) {
            return None;
        }
        Some(Some(match (suffix, gzip_docker) {
            (Some("gzip"), _) | (None, true) => Compression::Gzip,
            (Some("zstd"), _) => Compression::Zstd,
            (None, false) => Compression::None,
            _ => return None,
        }))
    }
}

/// The uncompressed stream of `r`, by `c` or, when None, by magic bytes.
pub fn open(r: Box<dyn Read + Send>, c: Option<Compression>) -> io::Result<Box<dyn Read + Send>> {
    let mut r = BufReader::with_capacity(1 << 16, r);
    let c = match c {
        Some(c) => c,
        None => {
            let head = r.fill_buf()?;
            if head.starts_with(&[0x1f, 0x8b]) {
                Compression::Gzip
            } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                Compression::Zstd
            } else {
                Compression::None
            }
        }
    };
    Ok(match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(
            ruzstd::decoding::StreamingDecoder::new(r)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        use Compression::*;
        let m = Compression::of_media_type;
        assert_eq!(
            m("application/vnd.oci.image.layer.v1.tar"),
            Some(Some(None))
        );
        assert_eq!(
            m("application/vnd.oci.image.layer.v1.tar+gzip"),
            Some(Some(Gzip))
        );
        assert_eq!(
            m("application/vnd.oci.image.layer.v1.tar+zstd"),
            Some(Some(Zstd))
        );
        assert_eq!(
            m("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"),
            Some(Some(Gzip))
        );
        assert_eq!(
            m("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Some(Some(Gzip))
        );
        assert_eq!(
            m("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"),
            Some(Some(Gzip))
        );
        assert_eq!(m(""), Some(Option::None));
        assert_eq!(m("application/json"), Option::None);
    }
}
