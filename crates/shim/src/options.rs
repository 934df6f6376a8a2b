//! Which runtime the shim drives and where the container's root
//! filesystem comes from.
//!
//! The runtime: containerd's runc options (`BinaryName`, `Root`) when
//! given, as containerd-shim-runc-v2 reads them, so the same shim can
//! drive runc; otherwise the `berth` binary next to the shim and the root
//! `/run/containerd/berth/<namespace>`. The choice is kept in the bundle
//! (`berth-shim.json`) for the `delete` subcommand, which runs after a
//! shim died and gets no options.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::Message;
use containerd_shim::protos::shim::oci::Options;
use containerd_shim::protos::types::mount::Mount;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::reaper::Reaper;
use crate::runtime::Runtime;

const SAVED: &str = "berth-shim.json";

#[derive(Serialize, Deserialize)]
struct Saved {
    binary: PathBuf,
    root: PathBuf,
}

fn default_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("berth")))
        .unwrap_or_else(|| "berth".into())
}

fn default_root(namespace: &str) -> PathBuf {
    Path::new("/run/containerd/berth").join(namespace)
}

/// The runtime for a new task, from the request's options; saved in the
/// bundle.
pub fn runtime(
    bundle: &Path,
    namespace: &str,
    options: Option<&Any>,
    reaper: Arc<Reaper>,
) -> Result<Runtime, Error> {
    let opts = options
        .filter(|a| !a.value.is_empty())
        .map(decode_options)
        .transpose()?;
    let binary = opts
        .as_ref()
        .map(|o| o.binary_name.clone())
        .filter(|b| !b.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(default_binary);
    let root = opts
        .as_ref()
        .map(|o| o.root.clone())
        .filter(|r| !r.is_empty())
        .map(|r| Path::new(&r).join(namespace))
        .unwrap_or_else(|| default_root(namespace));
    let saved = Saved {
        binary: binary.clone(),
        root: root.clone(),
    };
    let json = serde_json::to_vec(&saved).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    std::fs::write(bundle.join(SAVED), json)
        .map_err(Error::io("saving the runtime choice in the bundle"))?;
    Ok(Runtime {
        binary,
        root,
        log: bundle.join("log.json"),
        reaper,
    })
}

/// The runtime a previous shim used for this bundle (defaults if none).
pub fn saved_runtime(bundle: &Path, namespace: &str, reaper: Arc<Reaper>) -> Runtime {
    let saved: Option<Saved> = std::fs::read(bundle.join(SAVED))
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok());
    let (binary, root) = match saved {
        Some(s) => (s.binary, s.root),
        None => (default_binary(), default_root(namespace)),
    };
    Runtime {
        binary,
        root,
        log: bundle.join("log.json"),
        reaper,
    }
}

/// Mounts the snapshotter's mounts on `bundle/rootfs`; false when there
/// were none (the bundle brings its own rootfs).
pub fn mount_rootfs(bundle: &Path, mounts: &[Mount]) -> Result<bool, Error> {
    if mounts.is_empty() {
        return Ok(false);
    }
    let target = bundle.join("rootfs");
    std::fs::create_dir_all(&target)
        .map_err(Error::io(format!("creating {}", target.display())))?;
    for (i, m) in mounts.iter().enumerate() {
        let r = containerd_shim::mount::mount_rootfs(
            Some(&m.type_),
            Some(&m.source),
            &m.options,
            &target,
        );
        if let Err(e) = r {
            if i > 0 {
                unmount_rootfs(bundle);
            }
            return Err(Error::Runtime(format!(
                "mounting the root filesystem ({} {}): {e}",
                m.type_, m.source
            )));
        }
    }
    Ok(true)
}

pub fn unmount_rootfs(bundle: &Path) {
    let target = bundle.join("rootfs");
    // Everything mounted there, deepest first; nothing to do if not mounted.
    while nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH).is_ok() {}
}

/// Decodes containerd's runc options (`containerd.runc.v1.Options`), the
/// only runtime options this shim reads; anything else is refused.
pub fn decode_options(any: &Any) -> Result<Options, Error> {
    if !any.type_url.ends_with("containerd.runc.v1.Options") {
        return Err(Error::InvalidArgument(format!(
            "runtime options of type {:?}: only containerd.runc.v1.Options (BinaryName, Root) are read",
            any.type_url
        )));
    }
    let o = Options::parse_from_bytes(&any.value)
        .map_err(|e| Error::InvalidArgument(format!("runtime options: {e}")))?;
    if o.systemd_cgroup {
        return Err(Error::Unsupported(
            "SystemdCgroup (the systemd cgroup driver)",
        ));
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_options_are_read_and_others_refused() {
        let o = Options {
            binary_name: "/usr/bin/runc".into(),
            root: "/run/r".into(),
            ..Default::default()
        };
        let any = Any {
            type_url: "containerd.runc.v1.Options".into(),
            value: o.write_to_bytes().unwrap(),
            ..Default::default()
        };
        let got = decode_options(&any).unwrap();
        assert_eq!(
            (got.binary_name.as_str(), got.root.as_str()),
            ("/usr/bin/runc", "/run/r")
        );
        let other = Any {
            type_url: "runtimeoptions.v1.Options".into(),
            value: vec![10, 1, 47],
            ..Default::default()
        };
        let e = decode_options(&other).unwrap_err().to_string();
        assert!(e.contains("runtimeoptions.v1.Options"), "{e}");
        let systemd = Any {
            value: Options {
                systemd_cgroup: true,
                ..Default::default()
            }
            .write_to_bytes()
            .unwrap(),
            ..any
        };
        let e = decode_options(&systemd).unwrap_err().to_string();
        assert!(e.contains("SystemdCgroup"), "{e}");
    }
}
