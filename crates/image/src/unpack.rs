//! `unpack`: an image into a new bundle directory, all or nothing.
//!
//! Everything is written into a temporary directory next to the target
//! and renamed into place at the end; any failure (a digest or size that
//! does not match, a truncated blob, a refused entry) removes it. Each
//! layer is streamed once: read, verified (stored digest and size), then
//! decompressed, verified again (the config's diff_id) and applied.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use crate::apply::{Applied, Applier};
use crate::decompress::{self, Compression};
use crate::digest::{drain, Verify};
use crate::ids::IdMap;
use crate::prefetch::{self, Stream};
use crate::resolve::{resolve, Image, Layer, Platform};
use crate::source::Source;
use crate::Error;

pub struct UnpackOptions<'a> {
    pub image: &'a Path,
    pub reference: Option<&'a str>,
    pub platform: Platform,
    pub bundle: &'a Path,
    pub ids: IdMap,
    /// Called before each layer with (index, count, stored size).
    pub progress: Option<&'a dyn Fn(usize, usize, u64)>,
}

#[derive(Debug, Clone)]
pub struct Unpacked {
    pub reference: Option<String>,
    pub layers: usize,
    pub entries: u64,
    pub skipped: Vec<String>,
}

pub fn unpack(o: &UnpackOptions<'_>) -> Result<Unpacked, Error> {
    if o.bundle.symlink_metadata().is_ok() {
        return Err(Error::Read(format!(
            "{} already exists",
            o.bundle.display()
        )));
    }
    let src = Source::open(o.image)?;
    let image = resolve(&src, o.reference, &o.platform)?;
    let tmp = temp_dir(o.bundle)?;
    let result = fill(&src, &image, &tmp, o);
    match result {
        Ok(done) => {
            std::fs::rename(&tmp, o.bundle).map_err(|e| {
                let _ = std::fs::remove_dir_all(&tmp);
                Error::io("moving the bundle into place", o.bundle)(e)
            })?;
            Ok(done)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

fn temp_dir(bundle: &Path) -> Result<PathBuf, Error> {
    let name = bundle
        .file_name()
        .ok_or_else(|| Error::Read(format!("{}: not a directory name", bundle.display())))?;
    let parent = bundle
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(
        ".{}.unpack-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::create_dir(&tmp).map_err(Error::io("creating", &tmp))?;
    Ok(tmp)
}

fn fill(src: &Source, image: &Image, tmp: &Path, o: &UnpackOptions<'_>) -> Result<Unpacked, Error> {
    let rootfs = tmp.join("rootfs");
    std::fs::create_dir(&rootfs).map_err(Error::io("creating", &rootfs))?;
    let root = std::fs::File::open(&rootfs).map_err(Error::io("opening", &rootfs))?;
    let mut done = Unpacked {
        reference: image.reference.clone(),
        layers: image.layers.len(),
        entries: 0,
        skipped: Vec::new(),
    };
    std::thread::scope(|scope| -> Result<(), Error> {
        let start = |i: usize| -> Option<Stream> {
            let layer = image.layers.get(i)?;
            Some(prefetch::spawn(scope, move || layer_stream(src, layer)))
        };
        let mut next = start(0);
        for (i, layer) in image.layers.iter().enumerate() {
            if let Some(p) = o.progress {
                p(i, image.layers.len(), layer.size.unwrap_or(0));
            }
            let stream = next.take();
            // The next layer inflates while this one is applied.
            next = start(i + 1);
            let Some(stream) = stream else { break };
            let a = apply_layer(stream, layer, root.as_fd(), &o.ids, i)?;
            done.entries += a.entries;
            done.skipped.extend(a.skipped);
        }
        Ok(())
    })?;
    let user = crate::user::resolve(
        root.as_fd(),
        image
            .config
            .config()
            .as_ref()
            .and_then(|c| c.user().clone())
            .as_deref()
            .unwrap_or(""),
    )?;
    let config = crate::convert::runtime_config(&image.config, &user);
    let path = tmp.join("config.json");
    let text = serde_json::to_vec_pretty(&config).map_err(|source| Error::Json {
        what: "config.json".into(),
        source,
    })?;
    std::fs::write(&path, text).map_err(Error::io("writing", &path))?;
    Ok(done)
}

/// The uncompressed, verified stream of `layer` (runs on the prefetch
/// thread): the stored blob checked against its descriptor, inflated, and
/// where no descriptor digest exists (docker archives) checked against
/// the config's diff_id.
fn layer_stream(src: &Source, layer: &Layer) -> std::io::Result<Box<dyn std::io::Read + Send>> {
    let fail = |e: Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string());
    let compression = Compression::of_media_type(&layer.media_type).ok_or_else(|| {
        fail(Error::Unsupported(format!(
            "layer media type {:?}",
            layer.media_type
        )))
    })?;
    if !src.has(&layer.member) {
        let name = layer_name(layer);
        return Err(fail(if layer.urls.is_empty() {
            Error::NotFound(format!("layer {name} is missing from the image"))
        } else {
            Error::NotFound(format!(
                "layer {name} is a foreign layer not in the image; it is at {} (berth-image does not download)",
                layer.urls.join(", ")
            ))
        }));
    }
    let (stored, _) = src.reader(&layer.member).map_err(fail)?;
    let stored = Verify::new(stored, layer.digest.clone(), layer.size);
    let plain = decompress::open(Box::new(stored), compression)?;
    let diff_id = layer
        .digest
        .is_none()
        .then(|| layer.diff_id.clone())
        .flatten();
    Ok(Box::new(Verify::new(plain, diff_id, None)))
}

fn layer_name(layer: &Layer) -> String {
    layer
        .digest
        .as_ref()
        .map_or_else(|| layer.member.clone(), |d| d.to_string())
}

fn apply_layer(
    mut plain: Stream,
    layer: &Layer,
    root: std::os::fd::BorrowedFd<'_>,
    ids: &IdMap,
    i: usize,
) -> Result<Applied, Error> {
    let name = layer_name(layer);
    let applier = Applier::new(root, ids, format!("{} ({name})", i + 1));
    let applied = applier
        .apply(&mut plain)
        .map_err(|e| match plain.failure() {
            // The stream failed under the tar parser: the blob's fault.
            Some(reason) => Error::blob(&name, reason),
            None => e,
        })?;
    // The tar may end before the blob does (padding): the rest must be
    // read for the digests to be checked.
    drain(&mut plain).map_err(|e| Error::blob(&name, e.to_string()))?;
    Ok(applied)
}
