use anyhow::{bail, Context};

/// Writes runc's default config.json into the bundle (or the current
/// directory); refuses to overwrite one.
pub fn spec(s: &liboci_cli::Spec) -> anyhow::Result<()> {
    if s.rootless {
        bail!("--rootless: a rootless default spec is not supported yet");
    }
    let dir = s.bundle.clone().unwrap_or_else(|| ".".into());
    let path = dir.join("config.json");
    if path.exists() {
        bail!("{} exists: remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&berth_container::spec_default::default_spec())?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
