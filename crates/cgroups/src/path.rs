//! `linux.cgroupsPath` semantics, as runc's cgroupfs driver has them.

use crate::Error;

/// Where a container's cgroup sits, relative to each hierarchy's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupsPath {
    /// An absolute path: taken from each hierarchy's root.
    Absolute(String),
    /// A relative path: taken from the caller's own cgroup in each hierarchy.
    Relative(String),
}

impl CgroupsPath {
    /// Parses `cgroupsPath`; `None` gives runc's default, the container id
    /// under the caller's cgroup.
    pub fn parse(value: Option<&str>, id: &str) -> Result<Self, Error> {
        let raw = match value {
            None | Some("") => return Ok(Self::Relative(id.to_string())),
            Some(v) => v,
        };
        let invalid = |reason| Error::InvalidPath {
            path: raw.to_string(),
            reason,
        };
        if raw.contains(':') && !raw.starts_with('/') {
            return Err(invalid(
                "the systemd \"slice:prefix:name\" form needs the systemd cgroup driver, which is not supported yet",
            ));
        }
        let trimmed = raw.trim_matches('/');
        if trimmed.split('/').any(|c| c == ".." || c == ".") {
            return Err(invalid("\".\" and \"..\" components are not allowed"));
        }
        if trimmed.is_empty() {
            return Err(invalid("the root cgroup cannot hold a container"));
        }
        let clean = trimmed
            .split('/')
            .filter(|c| !c.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        Ok(if raw.starts_with('/') {
            Self::Absolute(clean)
        } else {
            Self::Relative(clean)
        })
    }

    /// The path below the hierarchy root, given the caller's cgroup there.
    pub fn resolve(&self, caller: &str) -> String {
        match self {
            Self::Absolute(p) => p.clone(),
            Self::Relative(p) => {
                let base = caller.trim_matches('/');
                if base.is_empty() {
                    p.clone()
                } else {
                    format!("{base}/{p}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_id_under_caller() {
        let p = CgroupsPath::parse(None, "abc").unwrap();
        assert_eq!(p.resolve("/process_api/x"), "process_api/x/abc");
        assert_eq!(p.resolve("/"), "abc");
    }

    #[test]
    fn absolute_ignores_caller() {
        let p = CgroupsPath::parse(Some("/a//b/"), "id").unwrap();
        assert_eq!(p, CgroupsPath::Absolute("a/b".into()));
        assert_eq!(p.resolve("/process_api/x"), "a/b");
    }

    #[test]
    fn relative_and_rejections() {
        let p = CgroupsPath::parse(Some("x/y"), "id").unwrap();
        assert_eq!(p.resolve("/c"), "c/x/y");
        assert!(CgroupsPath::parse(Some("/a/../b"), "id").is_err());
        assert!(CgroupsPath::parse(Some("system.slice:berth:abc"), "id").is_err());
        assert!(CgroupsPath::parse(Some("/"), "id").is_err());
    }
}
