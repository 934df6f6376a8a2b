//! Where an image's files are: an OCI layout directory, or a tar archive
//! (an OCI archive or `docker save` output) indexed once so that each
//! member can be read in place.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use crate::Error;

/// JSON documents larger than this are refused (an index or config is a
/// few kilobytes; this bounds what a hostile image can make us hold).
pub const MAX_JSON: u64 = 16 << 20;

pub enum Source {
    Dir(PathBuf),
    Tar {
        path: PathBuf,
        /// member name -> (offset of its data, size)
        members: HashMap<String, (u64, u64)>,
    },
}

impl Source {
    pub fn open(path: &Path) -> Result<Source, Error> {
        let meta = std::fs::metadata(path).map_err(Error::io("opening image", path))?;
        if meta.is_dir() {
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let file = File::open(path).map_err(Error::io("opening image", path))?;
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        let entries = archive
            .entries_with_seek()
            .map_err(Error::io("reading archive", path))?;
        for e in entries {
            let e = e.map_err(Error::io("reading archive", path))?;
            if !matches!(
                e.header().entry_type(),
                tar::EntryType::Regular | tar::EntryType::Continuous
            ) {
                continue;
            }
            let name = e.path().map_err(Error::io("reading archive", path))?;
            if let Some(name) = normal(&name) {
                members.insert(name, (e.raw_file_position(), e.size()));
            }
        }
        Ok(Source::Tar {
            path: path.to_path_buf(),
            members,
        })
    }

    pub fn has(&self, name: &str) -> bool {
        match self {
            Source::Dir(d) => normal(Path::new(name)).is_some_and(|n| d.join(n).is_file()),
            Source::Tar { members, .. } => {
                normal(Path::new(name)).is_some_and(|n| members.contains_key(&n))
            }
        }
    }

    /// A member for streaming, and its size.
    pub fn reader(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64), Error> {
        let n = normal(Path::new(name))
            .ok_or_else(|| Error::Read(format!("{name:?}: not a path inside the image")))?;
        match self {
            Source::Dir(d) => {
                let p = d.join(&n);
                let f = File::open(&p).map_err(Error::io("opening", &p))?;
                let size = f.metadata().map_err(Error::io("opening", &p))?.len();
                Ok((Box::new(f), size))
            }
            Source::Tar { path, members } => {
                let (off, size) = *members.get(&n).ok_or_else(|| {
                    Error::NotFound(format!("{name} is not in {}", path.display()))
                })?;
                let mut f = File::open(path).map_err(Error::io("opening", path))?;
                f.seek(SeekFrom::Start(off))
                    .map_err(Error::io("reading", path))?;
                Ok((Box::new(f.take(size)), size))
            }
        }
    }

    /// A small member, read whole.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, Error> {
        let (r, size) = self.reader(name)?;
        if size > MAX_JSON {
            return Err(Error::Read(format!(
                "{name}: {size} bytes is too large for a JSON document"
            )));
        }
        let mut buf = Vec::with_capacity(size as usize);
        r.take(MAX_JSON)
            .read_to_end(&mut buf)
            .map_err(Error::io("reading", name))?;
        Ok(buf)
    }
}

/// A member name as a clean relative path (no `..`, no root), or None.
fn normal(p: &Path) -> Option<String> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            _ => return None,
        }
    }
    let s = out.to_str()?.to_string();
    (!s.is_empty()).then_some(s)
}
