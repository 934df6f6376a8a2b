//! `ls` and `inspect`: what an image holds, without unpacking it.

use std::path::Path;

use serde_json::{json, Value};

use crate::resolve::{self, Platform};
use crate::source::Source;
use crate::Error;

/// The references (OCI ref names, or docker RepoTags) in an image.
pub fn ls(path: &Path) -> Result<Vec<String>, Error> {
    let src = Source::open(path)?;
    if src.has("index.json") {
        Ok(resolve::refs(&resolve::read_index(&src)?))
    } else {
        Ok(resolve::docker_entries(&src)?
            .into_iter()
            .flat_map(|e| e.repo_tags.unwrap_or_default())
            .collect())
    }
}

/// One image's references, platforms, layers and configuration.
pub fn inspect(path: &Path, reference: Option<&str>, platform: &Platform) -> Result<Value, Error> {
    let src = Source::open(path)?;
    let image = resolve::resolve(&src, reference, platform)?;
    let platforms = if src.has("index.json") {
        resolve::platforms(&src)?
    } else {
        Vec::new()
    };
    let layers: Vec<Value> = image
        .layers
        .iter()
        .map(|l| {
            json!({
                "digest": l.digest.as_ref().map(|d| d.to_string()),
                "diffID": l.diff_id.as_ref().map(|d| d.to_string()),
                "size": l.size,
                "mediaType": l.media_type,
            })
        })
        .collect();
    let c = image.config.config().clone().unwrap_or_default();
    Ok(json!({
        "reference": image.reference,
        "references": ls(path)?,
        "platforms": platforms,
        "config": {
            "digest": image.config_digest.to_string(),
            "os": image.config.os().to_string(),
            "architecture": image.config.architecture().to_string(),
            "created": image.config.created(),
            "entrypoint": c.entrypoint(),
            "cmd": c.cmd(),
            "env": c.env(),
            "user": c.user(),
            "workingDir": c.working_dir(),
        },
        "layers": layers,
        "size": image.layers.iter().filter_map(|l| l.size).sum::<u64>(),
    }))
}
