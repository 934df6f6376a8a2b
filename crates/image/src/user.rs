//! `User` of an image config to ids, through the unpacked rootfs's own
//! /etc/passwd and /etc/group (read inside the rootfs: both are image
//! content and may be symlinks anywhere).

use std::io::Read;
use std::os::fd::BorrowedFd;

use crate::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

fn read_in_root(root: BorrowedFd<'_>, path: &std::ffi::CStr) -> String {
    let Ok(fd) = crate::apply::open_in_root(root, path, libc::O_RDONLY) else {
        return String::new();
    };
    let mut s = String::new();
    let _ = std::fs::File::from(fd)
        .take(crate::source::MAX_JSON)
        .read_to_string(&mut s);
    s
}

/// Resolves `spec` (`user`, `uid`, `user:group`, `uid:gid`, mixed; empty
/// is root).
pub fn resolve(root: BorrowedFd<'_>, spec: &str) -> Result<User, Error> {
    let passwd = read_in_root(root, c"etc/passwd");
    let group = read_in_root(root, c"etc/group");
    resolve_in(spec, &passwd, &group)
}

pub(crate) fn resolve_in(spec: &str, passwd: &str, group: &str) -> Result<User, Error> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entries = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split(':').map(String::from).collect())
            .collect()
    };
    let users = entries(passwd);
    let groups = entries(group);
    let by_name = |list: &[Vec<String>], name: &str, id_field: usize| {
        list.iter()
            .find(|f| f.first().is_some_and(|n| n == name))
            .and_then(|f| f.get(id_field)?.parse::<u32>().ok())
    };
    let (uid, name, primary) = if user.is_empty() {
        (0, Some("root".to_string()), Some(0))
    } else if let Ok(uid) = user.parse::<u32>() {
        let entry = users
            .iter()
            .find(|f| f.get(2).and_then(|u| u.parse().ok()) == Some(uid));
        (
            uid,
            entry.and_then(|f| f.first().cloned()),
            entry.and_then(|f| f.get(3)?.parse().ok()),
        )
    } else {
        let uid = by_name(&users, user, 2).ok_or_else(|| {
            Error::NotFound(format!("user {user:?} is not in the image's /etc/passwd"))
        })?;
        let gid = users
            .iter()
            .find(|f| f.first().is_some_and(|n| n == user))
            .and_then(|f| f.get(3)?.parse().ok());
        (uid, Some(user.to_string()), gid)
    };
    let gid = match grp {
        Some(g) if g.parse::<u32>().is_ok() => g.parse().unwrap_or(0),
        Some(g) => by_name(&groups, g, 2).ok_or_else(|| {
            Error::NotFound(format!("group {g:?} is not in the image's /etc/group"))
        })?,
        None => primary.unwrap_or(0),
    };
    // Supplementary groups: where the user is listed, unless a group was
    // named explicitly (as docker does).
    let mut additional_gids = Vec::new();
    if let (None, Some(name)) = (grp, &name) {
        for f in &groups {
            let members = f
                .get(3)
                .map(|m| m.split(',').any(|x| x == name))
                .unwrap_or(false);
            if let Some(id) = f
                .get(2)
                .and_then(|g| g.parse::<u32>().ok())
                .filter(|id| members && *id != gid)
            {
                additional_gids.push(id);
            }
        }
    }
    Ok(User {
        uid,
        gid,
        additional_gids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nalice:x:1000:\nwheel:x:10:alice,bob\naudio:x:29:alice\n";

    #[test]
    fn forms() {
        let r = |s| resolve_in(s, PASSWD, GROUP);
        let cases: [(&str, u32, u32, Vec<u32>); 6] = [
            ("", 0, 0, vec![]),
            ("alice", 1000, 1000, vec![10, 29]),
            ("1000", 1000, 1000, vec![10, 29]),
            ("alice:wheel", 1000, 10, vec![]),
            ("1234:5678", 1234, 5678, vec![]),
            ("4242", 4242, 0, vec![]),
        ];
        for (spec, uid, gid, additional_gids) in cases {
            let want = User {
                uid,
                gid,
                additional_gids,
            };
            assert_eq!(r(spec).unwrap(), want, "{spec:?}");
        }
        assert!(r("nobody").is_err());
        assert!(r("alice:nogroup").is_err());
    }
}
