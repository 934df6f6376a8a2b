//! From an image source, a reference and a platform to one image: its
//! configuration and its layers in order.
//!
//! OCI layouts and archives: `index.json`, the manifest whose
//! `org.opencontainers.image.ref.name` is the reference (default: the
//! only one, else `latest`), nested indexes followed, a platform chosen
//! from an index. `docker save` archives: `manifest.json`, the entry whose
//! `RepoTags` has the reference; its layers are checked against the
//! config's `rootfs.diff_ids`.

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;

use crate::digest::Digest;
use crate::source::Source;
use crate::Error;

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        Platform {
            os: "linux".into(),
            arch: arch.into(),
            variant: None,
        }
    }

    pub fn parse(s: &str) -> Result<Platform, String> {
        let p: Vec<&str> = s.split('/').collect();
        match p[..] {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.into(),
                arch: arch.into(),
                variant: p.get(2).map(|v| v.to_string()),
            }),
            _ => Err(format!("{s:?}: expected os/arch[/variant]")),
        }
    }

    fn matches(&self, d: &Descriptor) -> bool {
        let Some(p) = d.platform() else { return false };
        p.os().to_string() == self.os
            && p.architecture().to_string() == self.arch
            && self
                .variant
                .as_ref()
                .is_none_or(|v| p.variant().as_ref() == Some(v))
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// One layer to apply.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Member of the source holding it.
    pub member: String,
    pub media_type: String,
    /// Digest and size of the blob as stored (OCI descriptors).
    pub digest: Option<Digest>,
    pub size: Option<u64>,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Option<Digest>,
    pub urls: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Image {
    pub config: ImageConfiguration,
    pub config_digest: Digest,
    pub layers: Vec<Layer>,
    /// The reference it was found by, when it had one.
    pub reference: Option<String>,
}

pub fn resolve(src: &Source, reference: Option<&str>, platform: &Platform) -> Result<Image, Error> {
    if src.has("index.json") {
        oci(src, reference, platform)
    } else if src.has("manifest.json") {
        docker(src, reference)
    } else {
        Err(Error::Read(
            "neither an OCI layout (index.json) nor a docker archive (manifest.json)".into(),
        ))
    }
}

pub(crate) fn blob_member(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn parse_digest(d: &Descriptor) -> Result<Digest, Error> {
    Digest::parse(d.digest().as_ref()).map_err(Error::Read)
}

/// A JSON blob named by a descriptor, checked against its digest and size.
fn json_blob<T: serde::de::DeserializeOwned>(
    src: &Source,
    d: &Descriptor,
    what: &str,
) -> Result<T, Error> {
    let digest = parse_digest(d)?;
    let bytes = src.read(&blob_member(&digest))?;
    if bytes.len() as u64 != d.size() || Digest::of(&bytes) != digest {
        return Err(Error::blob(
            &digest,
            format!("the {what} does not match its descriptor"),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        what: format!("{what} {digest}"),
        source,
    })
}

/// The references an OCI index names.
pub fn refs(index: &ImageIndex) -> Vec<String> {
    let mut r: Vec<String> = index
        .manifests()
        .iter()
        .filter_map(|m| m.annotations().as_ref()?.get(REF_NAME).cloned())
        .collect();
    r.dedup();
    r
}

/// Every platform an OCI image offers, nested indexes included.
pub fn platforms(src: &Source) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut stack: Vec<(Descriptor, u32)> = read_index(src)?
        .manifests()
        .iter()
        .map(|d| (d.clone(), 0))
        .collect();
    while let Some((d, depth)) = stack.pop() {
        if let Some(p) = d.platform() {
            let mut name = format!("{}/{}", p.os(), p.architecture());
            if let Some(v) = p.variant() {
                name = format!("{name}/{v}");
            }
            out.push(name);
        }
        if *d.media_type() == MediaType::ImageIndex && depth < 8 {
            let nested: ImageIndex = json_blob(src, &d, "index")?;
            stack.extend(nested.manifests().iter().map(|m| (m.clone(), depth + 1)));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub fn read_index(src: &Source) -> Result<ImageIndex, Error> {
    let bytes = src.read("index.json")?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        what: "index.json".into(),
        source,
    })
}

fn oci(src: &Source, reference: Option<&str>, platform: &Platform) -> Result<Image, Error> {
    let index = read_index(src)?;
    let names = refs(&index);
    let want = match reference {
        Some(r) => Some(r.to_string()),
        None if names.len() <= 1 => names.first().cloned(),
        None if names.iter().any(|n| n == "latest") => Some("latest".into()),
        None => {
            return Err(Error::NotFound(format!(
                "the image has several references ({}): name one",
                names.join(", ")
            )))
        }
    };
    let candidates: Vec<Descriptor> = index
        .manifests()
        .iter()
        .filter(|m| {
            let name = m.annotations().as_ref().and_then(|a| a.get(REF_NAME));
            want.is_none() || name == want.as_ref()
        })
        .cloned()
        .collect();
    if candidates.is_empty() {
        return Err(Error::NotFound(format!(
            "no reference {:?} (the image has: {})",
            want.unwrap_or_default(),
            names.join(", ")
        )));
    }
    let manifest = pick(src, candidates, platform, 0)?;
    from_manifest(src, &manifest, want)
}

/// Follows indexes down to one manifest for `platform`.
fn pick(
    src: &Source,
    candidates: Vec<Descriptor>,
    platform: &Platform,
    depth: u32,
) -> Result<Descriptor, Error> {
    if depth > 8 {
        return Err(Error::Read("indexes nested more than 8 deep".into()));
    }
    let chosen = if candidates.len() == 1 {
        candidates.into_iter().next()
    } else {
        candidates.into_iter().find(|d| platform.matches(d))
    };
    let Some(d) = chosen else {
        return Err(Error::NotFound(format!(
            "no manifest for platform {platform}"
        )));
    };
    match d.media_type() {
        MediaType::ImageIndex => {
            let nested: ImageIndex = json_blob(src, &d, "index")?;
            let list: Vec<Descriptor> = nested.manifests().to_vec();
            let for_us: Vec<Descriptor> = list
                .iter()
                .filter(|m| platform.matches(m))
                .cloned()
                .collect();
            match (for_us.is_empty(), list.len()) {
                (false, _) => pick(src, for_us, platform, depth + 1),
                (true, 1) => pick(src, list, platform, depth + 1),
                _ => Err(Error::NotFound(format!(
                    "no manifest for platform {platform}"
                ))),
            }
        }
        MediaType::ImageManifest => Ok(d),
        MediaType::Other(t) if t == "application/vnd.docker.distribution.manifest.v2+json" => Ok(d),
        other => Err(Error::Unsupported(format!("manifest media type {other}"))),
    }
}

fn from_manifest(src: &Source, d: &Descriptor, reference: Option<String>) -> Result<Image, Error> {
    let manifest: ImageManifest = json_blob(src, d, "manifest")?;
    let config: ImageConfiguration = json_blob(src, manifest.config(), "config")?;
    let config_digest = parse_digest(manifest.config())?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(Error::Read(format!(
            "the manifest has {} layers, the config {} diff_ids",
            manifest.layers().len(),
            diff_ids.len()
        )));
    }
    let mut layers = Vec::new();
    for (l, diff) in manifest.layers().iter().zip(diff_ids) {
        let digest = parse_digest(l)?;
        layers.push(Layer {
            member: blob_member(&digest),
            media_type: l.media_type().to_string(),
            digest: Some(digest),
            size: Some(l.size()),
            diff_id: Some(Digest::parse(diff).map_err(Error::Read)?),
            urls: l.urls().clone().unwrap_or_default(),
        });
    }
    Ok(Image {
        config,
        config_digest,
        layers,
        reference,
    })
}

/// One entry of a docker archive's manifest.json.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    pub layers: Vec<String>,
}

pub fn docker_entries(src: &Source) -> Result<Vec<DockerEntry>, Error> {
    serde_json::from_slice(&src.read("manifest.json")?).map_err(|source| Error::Json {
        what: "manifest.json".into(),
        source,
    })
}

fn docker(src: &Source, reference: Option<&str>) -> Result<Image, Error> {
    let entries = docker_entries(src)?;
    let tags = |e: &DockerEntry| e.repo_tags.clone().unwrap_or_default();
    let matches = |e: &DockerEntry, r: &str| {
        tags(e)
            .iter()
            .any(|t| t == r || t.rsplit_once(':').is_some_and(|(_, tag)| tag == r))
    };
    let entry = match reference {
        Some(r) => entries.iter().find(|e| matches(e, r)),
        None if entries.len() == 1 => entries.first(),
        None => entries.iter().find(|e| matches(e, "latest")),
    }
    .ok_or_else(|| {
        let all: Vec<String> = entries.iter().flat_map(tags).collect();
        Error::NotFound(format!(
            "no image {:?} in the archive (it has: {})",
            reference.unwrap_or("latest"),
            all.join(", ")
        ))
    })?;
    let bytes = src.read(&entry.config)?;
    let config_digest = Digest::of(&bytes);
    // The config's file name is its digest (legacy `<hex>.json` or
    // `blobs/sha256/<hex>`): checked when it says so.
    let stem = entry
        .config
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".json");
    if stem.len() == 64 && stem != config_digest.hex() {
        return Err(Error::blob(
            &config_digest,
            format!("{} does not match its name", entry.config),
        ));
    }
    let config: ImageConfiguration =
        serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            what: entry.config.clone(),
            source,
        })?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != entry.layers.len() {
        return Err(Error::Read(format!(
            "manifest.json lists {} layers, the config {} diff_ids",
            entry.layers.len(),
            diff_ids.len()
        )));
    }
    let layers = entry
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(member, diff)| {
            Ok(Layer {
                member: member.clone(),
                media_type: String::new(),
                digest: None,
                size: None,
                diff_id: Some(Digest::parse(diff).map_err(Error::Read)?),
                urls: Vec::new(),
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Image {
        config,
        config_digest,
        layers,
        reference: reference.map(String::from),
    })
}
