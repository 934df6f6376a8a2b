//! Applies one layer (a tar stream) onto a rootfs, as the image-spec's
//! changeset rules say, and never outside it.
//!
//! Written by hand: the tar crate's own unpack applies no whiteouts,
//! writes devices and fifos as regular files and checks symlinks in a
//! racy way (`../shared/notes/crates.md`); here the tar crate only reads.
//! Safety rules, all in [`Applier::entry`]:
//! - an entry's path is made relative (a leading `/` is dropped) and one
//!   with a `..` component is refused;
//! - its parent directory is opened from the rootfs descriptor with
//!   openat2(RESOLVE_IN_ROOT): a symlink from an earlier layer is
//!   followed, but only inside the rootfs; missing parents are created;
//! - the entry itself is made with the *at calls on that parent, never
//!   following a symlink (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW);
//! - a hardlink's target is resolved the same way, inside the rootfs;
//! - whiteouts remove only a name in that parent, and are refused when
//!   the name is empty, `.` or `..`.

mod fs;

pub(crate) use fs::open_in_root;

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::ids::IdMap;
use crate::Error;

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// What applying needs besides the layer.
pub struct Applier<'a> {
    root: BorrowedFd<'a>,
    ids: &'a IdMap,
    /// Shown in errors.
    layer: String,
    /// Our own uid and gid, and the umask new files get.
    me: (u32, u32),
    umask: u32,
}

/// What a layer did that the caller may want to report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub entries: u64,
    /// Entries skipped (devices when unpacking without privileges).
    pub skipped: Vec<String>,
}

impl<'a> Applier<'a> {
    pub fn new(root: BorrowedFd<'a>, ids: &'a IdMap, layer: String) -> Self {
        // SAFETY: umask cannot fail; the first call reads the mask by
        // setting one, the second puts it back. No other thread of this
        // program creates files.
        let umask = unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m
        };
        // SAFETY: plain getters.
        let me = unsafe { (libc::geteuid(), libc::getegid()) };
        Applier {
            root,
            ids,
            layer,
            me,
            umask: umask as u32,
        }
    }

    /// Applies the tar stream `layer`; reads it to its end.
    pub fn apply(&self, layer: impl Read) -> Result<Applied, Error> {
        let mut archive = tar::Archive::new(layer);
        let mut done = Applied::default();
        // Paths this layer wrote: an opaque whiteout removes only what
        // lower layers left in its directory.
        let mut ours: HashSet<PathBuf> = HashSet::new();
        let mut dir_times: Vec<(PathBuf, i64)> = Vec::new();
        // The parent of the last regular file: tar lists a directory's
        // files together, and each lookup costs a few syscalls.
        let mut cache: Option<Parent> = None;
        let entries = archive.entries().map_err(|e| self.err("(archive)", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| self.err("(archive)", e))?;
            let raw = entry
                .path()
                .map_err(|e| self.err("(name)", e))?
                .into_owned();
            let path = self.relative(&raw)?;
            done.entries += 1;
            let kind = entry.header().entry_type();
            if matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous)
                && !is_whiteout(&path)
            {
                self.file(entry, &path, &mut cache)?;
                ours.insert(path);
                continue;
            }
            // Anything else may change what a cached path leads to.
            cache = None;
            self.entry(entry, &path, &mut ours, &mut dir_times, &mut done)?;
        }
        // Directory times last: every entry inside changed them.
        for (path, secs) in dir_times.iter().rev() {
            let (parent, name) = self.parent(path, false)?;
            fs::set_mtime_at(parent.as_fd(), &name, *secs).map_err(|e| self.err_at(path, e))?;
        }
        Ok(done)
    }

    /// The entry's path inside the rootfs: no leading `/`, no `.`, and
    /// no `..` at all.
    fn relative(&self, raw: &Path) -> Result<PathBuf, Error> {
        let mut out = PathBuf::new();
        for c in raw.components() {
            match c {
                Component::Normal(n) => out.push(n),
                Component::CurDir => {}
                Component::RootDir => {
                    tracing::warn!(
                        "{}: {} is absolute: placed inside the rootfs",
                        self.layer,
                        raw.display()
                    );
                }
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(self.refuse(raw, "the path leaves the rootfs (`..`)"))
                }
            }
        }
        Ok(out)
    }

    /// A regular file, with every attribute set through its descriptor.
    fn file<R: Read>(
        &self,
        mut entry: tar::Entry<'_, R>,
        path: &Path,
        cache: &mut Option<Parent>,
    ) -> Result<(), Error> {
        let at = |e: io::Error| self.err_at(path, e);
        let dir = path.parent().unwrap_or(Path::new(""));
        if cache.as_ref().is_none_or(|c| c.path != dir) {
            let (fd, _) = self.parent(path, true)?;
            // New files take a setgid directory's group, not ours.
            let st = std::fs::File::from(fd.try_clone().map_err(at)?)
                .metadata()
                .map_err(at)?;
            let setgid = std::os::unix::fs::PermissionsExt::mode(&st.permissions()) & 0o2000 != 0;
            *cache = Some(Parent {
                path: dir.to_path_buf(),
                fd,
                setgid,
            });
        }
        let Some(Parent {
            fd: parent, setgid, ..
        }) = cache.as_ref()
        else {
            return Err(self.refuse(path, "no parent"));
        };
        let p = parent.as_fd();
        let name = path
            .file_name()
            .ok_or_else(|| self.refuse(path, "no name"))?;
        let name = cstr(name.as_bytes()).map_err(at)?;
        let h = entry.header();
        let mode = h.mode().map_err(at)? & 0o7777;
        let mtime = h.mtime().map_err(at)?;
        let (uid, gid) = (h.uid().map_err(at)? as u32, h.gid().map_err(at)? as u32);
        let owner = self.ids.host(uid, gid).map_err(|r| self.refuse(path, &r))?;
        let chown = owner.filter(|o| *o != self.me || *setgid);
        // Most files are the caller's already and have plain modes: then
        // the mode is given at creation and no chown or chmod is needed.
        let direct = chown.is_none() && mode & 0o7000 == 0 && mode & self.umask == 0;
        let create = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY;
        let initial = if direct { mode } else { 0o600 };
        let fd = match fs::open_at(p, &name, create, initial) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                remove(p, &name).map_err(at)?;
                fs::open_at(p, &name, create, initial).map_err(at)?
            }
            r => r.map_err(at)?,
        };
        let mut file = std::fs::File::from(fd);
        io::copy(&mut entry, &mut file).map_err(at)?;
        if let Some((uid, gid)) = chown {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid)).map_err(at)?;
        }
        if !direct {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(at)?;
        }
        let fd = std::os::fd::AsFd::as_fd(&file);
        self.xattrs(&mut entry, path, |k, v| fs::set_xattr_fd(fd, k, v))?;
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
        file.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t))
            .map_err(at)
    }

    fn entry<R: Read>(
        &self,
        mut entry: tar::Entry<'_, R>,
        path: &Path,
        ours: &mut HashSet<PathBuf>,
        dir_times: &mut Vec<(PathBuf, i64)>,
        done: &mut Applied,
    ) -> Result<(), Error> {
        if path.as_os_str().is_empty() {
            // The rootfs itself ("./"): keep it as the unpacker made it.
            return Ok(());
        }
        let name_os = path.file_name().unwrap_or_default();
        let name = name_os.to_string_lossy();
        if name == OPAQUE {
            let dir = path.parent().unwrap_or(Path::new(""));
            return self.opaque(dir, ours);
        }
        if let Some(victim) = name.strip_prefix(WHITEOUT) {
            if victim.is_empty() || victim == "." || victim == ".." || victim.contains('/') {
                return Err(self.refuse(path, "a whiteout of no plain name"));
            }
            let (parent, _) = self.parent(path, true)?;
            let victim = cstr(victim.as_bytes()).map_err(|e| self.err_at(path, e))?;
            return remove(parent.as_fd(), &victim).map_err(|e| self.err_at(path, e));
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        let (parent, cname) = self.parent(path, true)?;
        let p = parent.as_fd();
        let mode = header.mode().map_err(|e| self.err_at(path, e))? & 0o7777;
        let mtime = header.mtime().map_err(|e| self.err_at(path, e))? as i64;
        let existing = fs::lstat_at(p, &cname).map_err(|e| self.err_at(path, e))?;
        let existing_dir = existing.is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
        if existing.is_some() && !(kind.is_dir() && existing_dir) {
            remove(p, &cname).map_err(|e| self.err_at(path, e))?;
        }
        let at = |e: io::Error| self.err_at(path, e);
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = fs::open_at(
                    p,
                    &cname,
                    libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
                    0o600,
                )
                .map_err(at)?;
                let mut file = std::fs::File::from(fd);
                io::copy(&mut entry, &mut file).map_err(at)?;
            }
            tar::EntryType::Directory => {
                if !existing_dir {
                    fs::mkdir_at(p, &cname, 0o700).map_err(at)?;
                }
            }
            tar::EntryType::Symlink => {
                let target = link_name(&entry).map_err(at)?;
                fs::symlink_at(&target, p, &cname).map_err(at)?;
            }
            tar::EntryType::Link => {
                let target = link_name(&entry).map_err(at)?;
                let target =
                    self.relative(Path::new(std::ffi::OsStr::from_bytes(target.to_bytes())))?;
                let (tparent, tname) = self.parent(&target, false)?;
                fs::link_at(tparent.as_fd(), &tname, p, &cname).map_err(at)?;
                ours.insert(path.to_path_buf());
                // A hardlink shares its target's inode, owner and mode.
                return Ok(());
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                if !self.ids.privileged() && !kind.is_fifo() {
                    done.skipped.push(path.display().to_string());
                    tracing::warn!(
                        "{}: skipping device {} without privileges",
                        self.layer,
                        path.display()
                    );
                    return Ok(());
                }
                let ftype = match kind {
                    tar::EntryType::Char => libc::S_IFCHR,
                    tar::EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                fs::mknod_at(p, &cname, ftype | 0o600, libc::makedev(major, minor)).map_err(at)?;
            }
            other => {
                return Err(self.refuse(path, &format!("entry type {other:?} is not supported")))
            }
        }
        ours.insert(path.to_path_buf());
        self.attributes(&mut entry, p, &cname, path, kind, mode)?;
        if kind.is_dir() {
            dir_times.push((path.to_path_buf(), mtime));
        } else {
            fs::set_mtime_at(p, &cname, mtime).map_err(at)?;
        }
        Ok(())
    }

    /// Owner, mode (after the owner: chown clears setuid) and xattrs.
    fn attributes<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        p: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
        kind: tar::EntryType,
        mode: u32,
    ) -> Result<(), Error> {
        let header = entry.header();
        let uid = header.uid().map_err(|e| self.err_at(path, e))? as u32;
        let gid = header.gid().map_err(|e| self.err_at(path, e))? as u32;
        if let Some((uid, gid)) = self.ids.host(uid, gid).map_err(|r| self.refuse(path, &r))? {
            fs::chown_at(p, name, uid, gid).map_err(|e| self.err_at(path, e))?;
        }
        if !kind.is_symlink() {
            fs::chmod_at(p, name, mode).map_err(|e| self.err_at(path, e))?;
        }
        self.xattrs(entry, path, |k, v| fs::set_xattr_at(p, name, k, v))
    }

    /// The entry's PAX `SCHILY.xattr.*` records, each through `set`. A
    /// failure is an error, except without privileges (some namespaces
    /// need them): then it is a warning.
    fn xattrs<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
        set: impl Fn(&CStr, &[u8]) -> io::Result<()>,
    ) -> Result<(), Error> {
        let Ok(Some(exts)) = entry.pax_extensions() else {
            return Ok(());
        };
        for ext in exts.flatten() {
            let Some(key) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                continue;
            };
            let key = cstr(key).map_err(|e| self.err_at(path, e))?;
            if let Err(e) = set(&key, ext.value_bytes()) {
                if self.ids.privileged() {
                    return Err(self.err_at(path, e));
                }
                tracing::warn!(
                    "{}: xattr {key:?} of {} not set: {e}",
                    self.layer,
                    path.display()
                );
            }
        }
        Ok(())
    }

    /// Removes from `dir` whatever lower layers put there.
    fn opaque(&self, dir: &Path, ours: &HashSet<PathBuf>) -> Result<(), Error> {
        let d = fs::open_in_root(self.root, &cpath(dir)?, libc::O_RDONLY | libc::O_DIRECTORY)
            .map_err(|e| self.err_at(dir, e))?;
        let names: Vec<CString> = std::fs::read_dir(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&d)
        ))
        .map_err(|e| self.err_at(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| !ours.contains(&dir.join(n)))
        .filter_map(|n| CString::new(n.as_bytes()).ok())
        .collect();
        for n in names {
            remove(d.as_fd(), &n).map_err(|e| self.err_at(dir, e))?;
        }
        Ok(())
    }

    /// The parent directory of `path` (opened inside the root, created
    /// when `create`) and the last component.
    fn parent(&self, path: &Path, create: bool) -> Result<(OwnedFd, CString), Error> {
        let name = path
            .file_name()
            .ok_or_else(|| self.refuse(path, "no name"))?;
        let name = cstr(name.as_bytes()).map_err(|e| self.err_at(path, e))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let fd = if create {
            self.ensure_dir(dir, 0)?
        } else {
            fs::open_in_root(self.root, &cpath(dir)?, DIR).map_err(|e| self.err_at(dir, e))?
        };
        Ok((fd, name))
    }

    /// Opens directory `dir` inside the root, creating what is missing
    /// (mode 0755) as docker does: a missing component that is a dangling
    /// symlink gets its target created, inside the root.
    fn ensure_dir(&self, dir: &Path, depth: u32) -> Result<OwnedFd, Error> {
        match fs::open_in_root(self.root, &cpath(dir)?, DIR) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            r => return r.map_err(|e| self.err_at(dir, e)),
        }
        if depth > 40 {
            return Err(self.err_at(dir, io::Error::from_raw_os_error(libc::ELOOP)));
        }
        let mut done = PathBuf::new();
        for c in dir.components() {
            let next = done.join(c);
            match fs::open_in_root(self.root, &cpath(&next)?, DIR) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let parent = self.ensure_dir(&done, depth + 1)?;
                    let part = cstr(c.as_os_str().as_bytes()).map_err(|e| self.err_at(dir, e))?;
                    let st =
                        fs::lstat_at(parent.as_fd(), &part).map_err(|e| self.err_at(dir, e))?;
                    match st.map(|s| s.st_mode & libc::S_IFMT) {
                        None => fs::mkdir_at(parent.as_fd(), &part, 0o755)
                            .map_err(|e| self.err_at(dir, e))?,
                        Some(libc::S_IFLNK) => {
                            let target = fs::readlink_at(parent.as_fd(), &part)
                                .map_err(|e| self.err_at(dir, e))?;
                            let target =
                                in_root(&done, Path::new(std::ffi::OsStr::from_bytes(&target)));
                            self.ensure_dir(&target, depth + 1)?;
                        }
                        Some(_) => {
                            return Err(
                                self.err_at(&next, io::Error::from_raw_os_error(libc::ENOTDIR))
                            )
                        }
                    }
                }
                Err(e) => return Err(self.err_at(&next, e)),
            }
            done = next;
        }
        fs::open_in_root(self.root, &cpath(dir)?, DIR).map_err(|e| self.err_at(dir, e))
    }

    fn err(&self, entry: &str, e: io::Error) -> Error {
        Error::Entry {
            layer: self.layer.clone(),
            entry: entry.into(),
            reason: e.to_string(),
        }
    }

    fn err_at(&self, path: &Path, e: io::Error) -> Error {
        self.err(&path.display().to_string(), e)
    }

    fn refuse(&self, path: &Path, reason: &str) -> Error {
        Error::Entry {
            layer: self.layer.clone(),
            entry: path.display().to_string(),
            reason: reason.into(),
        }
    }
}

const DIR: i32 = libc::O_PATH | libc::O_DIRECTORY;

/// The directory of the last regular file, kept for the next ones.
struct Parent {
    path: PathBuf,
    fd: OwnedFd,
    setgid: bool,
}

fn is_whiteout(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.as_bytes().starts_with(WHITEOUT.as_bytes()))
}

/// Where symlink `target`, found in directory `base`, leads inside the
/// root: absolute targets start at the root, `..` stops at it.
fn in_root(base: &Path, target: &Path) -> PathBuf {
    let mut out: Vec<&std::ffi::OsStr> = if target.is_absolute() {
        Vec::new()
    } else {
        base.components().map(|c| c.as_os_str()).collect()
    };
    for c in target.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out.iter().collect()
}

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "NUL in a name"))
}

fn cpath(p: &Path) -> Result<CString, Error> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Error::Read(format!("{p:?}: NUL in a path")))
}

fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> io::Result<CString> {
    let target = entry
        .link_name_bytes()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a link without a target"))?;
    cstr(&target)
}

/// Removes `name` from `dir`: a file, a symlink (never followed), or a
/// directory tree.
fn remove(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let Some(st) = fs::lstat_at(dir, name)? else {
        return Ok(());
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return fs::unlink_at(dir, name, false);
    }
    let d = fs::open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let children: Vec<CString> = std::fs::read_dir(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&d)
    ))?
    .filter_map(|e| e.ok())
    .filter_map(|e| CString::new(e.file_name().as_bytes()).ok())
    .collect();
    for c in children {
        remove(d.as_fd(), &c)?;
    }
    fs::unlink_at(dir, name, true)
}
