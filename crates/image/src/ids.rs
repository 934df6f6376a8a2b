//! Ownership on the host: as in the layer, through `--uid-map` /
//! `--gid-map` (umoci's form, `CONTAINER:HOST:SIZE`), or not at all when
//! unpacking without privileges (`--rootless`: files belong to the
//! caller, devices are skipped).

/// How layer ids become host ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMap {
    pub uid: Vec<(u32, u32, u32)>,
    pub gid: Vec<(u32, u32, u32)>,
    pub rootless: bool,
}

impl IdMap {
    /// Whether ownership and devices can be set as the layer says.
    pub fn privileged(&self) -> bool {
        !self.rootless
    }

    /// The host owner for a layer's `uid:gid`; None when ownership is
    /// not set (rootless).
    pub fn host(&self, uid: u32, gid: u32) -> Result<Option<(u32, u32)>, String> {
        if self.rootless {
            return Ok(None);
        }
        let u = map(&self.uid, uid).ok_or_else(|| format!("uid {uid} is outside --uid-map"))?;
        let g = map(&self.gid, gid).ok_or_else(|| format!("gid {gid} is outside --gid-map"))?;
        Ok(Some((u, g)))
    }

    /// Parses `CONTAINER:HOST:SIZE`.
    pub fn parse_range(s: &str) -> Result<(u32, u32, u32), String> {
        let parts: Vec<u32> = s
            .split(':')
            .map(|p| {
                p.parse()
                    .map_err(|_| format!("{s:?}: expected CONTAINER:HOST:SIZE"))
            })
            .collect::<Result<_, _>>()?;
        match parts[..] {
            [c, h, n] if n > 0 && c.checked_add(n).is_some() && h.checked_add(n).is_some() => {
                Ok((c, h, n))
            }
            _ => Err(format!("{s:?}: expected CONTAINER:HOST:SIZE with SIZE > 0")),
        }
    }
}

fn map(ranges: &[(u32, u32, u32)], id: u32) -> Option<u32> {
    if ranges.is_empty() {
        return Some(id);
    }
    ranges
        .iter()
        .find(|(c, _, n)| id >= *c && id - c < *n)
        .map(|(c, h, _)| h + (id - c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_ids() {
        let m = IdMap {
            uid: vec![(0, 100000, 65536)],
            gid: vec![(0, 200000, 10)],
            rootless: false,
        };
        assert_eq!(m.host(0, 0), Ok(Some((100000, 200000))));
        assert_eq!(m.host(1000, 9), Ok(Some((101000, 200009))));
        assert!(m.host(0, 10).is_err());
        assert_eq!(IdMap::default().host(5, 6), Ok(Some((5, 6))));
        assert_eq!(
            IdMap {
                rootless: true,
                ..Default::default()
            }
            .host(5, 6),
            Ok(None)
        );
        assert_eq!(IdMap::parse_range("0:1000:1"), Ok((0, 1000, 1)));
        assert!(IdMap::parse_range("0:1000").is_err());
        assert!(IdMap::parse_range("0:1000:0").is_err());
    }
}
