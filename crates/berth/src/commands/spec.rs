use anyhow::{bail, Context};

/// Writes runc's default config.json into the bundle (or the current
/// directory); refuses to overwrite one.
pub fn spec(s: &liboci_cli::Spec) -> anyhow::Result<()> {
    let dir = s.bundle.clone().unwrap_or_else(|| ".".into());
    let path = dir.join("config.json");
    if path.exists() {
        bail!("{} exists: remove it first", path.display());
    }
    let spec = if s.rootless {
        let (uid, gid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        berth_container::spec_default::rootless_spec(uid, gid)
    } else {
        berth_container::spec_default::default_spec()
    };
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
