//! Device access rules (`linux.resources.devices`): written to the v1
//! devices controller, or on a pure cgroup v2 host compiled into the
//! device filter program of [`crate::bpf_devices`].

use std::fmt;

/// Device kind of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    All,
    Char,
    Block,
}

/// One allow or deny rule, in the order of the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: DeviceType,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl DeviceRule {
    const fn char(
        major: i64,
        minor: Option<i64>,
        access: &'static str,
    ) -> (i64, Option<i64>, &'static str) {
        (major, minor, access)
    }

    /// The devices every container may use, appended after the spec's own
    /// rules exactly as runc does (mknod of anything; null, zero, full,
    /// random, urandom, tty, console, ptmx, the pts range and tun).
    pub fn defaults() -> Vec<DeviceRule> {
        let chars = [
            Self::char(1, Some(3), "rwm"),
            Self::char(1, Some(8), "rwm"),
            Self::char(1, Some(7), "rwm"),
            Self::char(5, Some(0), "rwm"),
            Self::char(1, Some(5), "rwm"),
            Self::char(1, Some(9), "rwm"),
            Self::char(5, Some(1), "rwm"),
            Self::char(136, None, "rwm"),
            Self::char(5, Some(2), "rwm"),
            Self::char(10, Some(200), "rwm"),
        ];
        let mut rules = vec![
            DeviceRule {
                allow: true,
                kind: DeviceType::Char,
                major: None,
                minor: None,
                access: "m".into(),
            },
            DeviceRule {
                allow: true,
                kind: DeviceType::Block,
                major: None,
                minor: None,
                access: "m".into(),
            },
        ];
        rules.extend(chars.iter().map(|&(major, minor, access)| DeviceRule {
            allow: true,
            kind: DeviceType::Char,
            major: Some(major),
            minor,
            access: access.into(),
        }));
        rules
    }

    /// Checks the access string: a non-empty subset of "rwm".
    pub fn validate(&self) -> Result<(), crate::Error> {
        if self.access.is_empty() || !self.access.chars().all(|c| "rwm".contains(c)) {
            return Err(crate::Error::Devices(format!(
                "access {:?} must be a combination of r, w and m",
                self.access
            )));
        }
        Ok(())
    }

    /// The file this rule is written to in a v1 devices cgroup.
    pub fn v1_file(&self) -> &'static str {
        if self.allow {
            "devices.allow"
        } else {
            "devices.deny"
        }
    }
}

impl fmt::Display for DeviceRule {
    /// The v1 line: "c 1:3 rwm", "a *:* rwm".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DeviceType::All => 'a',
            DeviceType::Char => 'c',
            DeviceType::Block => 'b',
        };
        let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        write!(
            f,
            "{kind} {}:{} {}",
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_v1_lines() {
        let deny_all = DeviceRule {
            allow: false,
            kind: DeviceType::All,
            major: None,
            minor: None,
            access: "rwm".into(),
        };
        assert_eq!(deny_all.to_string(), "a *:* rwm");
        assert_eq!(deny_all.v1_file(), "devices.deny");
        let d = DeviceRule::defaults();
        assert_eq!(d[0].to_string(), "c *:* m");
        assert!(d.iter().any(|r| r.to_string() == "c 136:* rwm"));
        assert!(d.iter().any(|r| r.to_string() == "c 1:3 rwm"));
        let bad = DeviceRule {
            access: "rx".into(),
            ..deny_all
        };
        assert!(bad.validate().is_err());
    }
}
