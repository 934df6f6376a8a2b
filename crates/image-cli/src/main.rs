//! `berth-image`: unpack, inspect and list images. Parses, calls
//! `berth_image`, prints; errors are reported once, here.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use berth_image::{IdMap, Platform};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "berth-image", version, about = "Images to runtime bundles")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Unpack an image into a new bundle directory (rootfs + config.json).
    Unpack {
        /// PATH[:REF]: an OCI layout directory, an OCI archive or a
        /// `docker save` archive, and a reference in it.
        #[arg(long)]
        image: String,
        /// os/arch[/variant] to pick from an index (default: this host's).
        #[arg(long)]
        platform: Option<String>,
        /// Unpack without privileges: files owned by the caller, devices skipped.
        #[arg(long)]
        rootless: bool,
        /// CONTAINER:HOST:SIZE, repeatable: map layer uids to host uids.
        #[arg(long = "uid-map")]
        uid_map: Vec<String>,
        /// CONTAINER:HOST:SIZE, repeatable: map layer gids to host gids.
        #[arg(long = "gid-map")]
        gid_map: Vec<String>,
        /// No progress bar, even on a terminal.
        #[arg(long, short)]
        quiet: bool,
        bundle: PathBuf,
    },
    /// References, platforms, layers and configuration of an image, as JSON.
    Inspect {
        /// PATH[:REF]
        image: String,
        #[arg(long)]
        platform: Option<String>,
    },
    /// The references in an image, one per line.
    Ls { path: PathBuf },
}

/// PATH[:REF]: the reference is what follows the last `:` when that
/// part names no directory and PATH alone exists.
fn split_image(s: &str) -> (PathBuf, Option<String>) {
    if let Some((p, r)) = s.rsplit_once(':') {
        if !r.contains('/') && !r.is_empty() && Path::new(p).exists() {
            return (PathBuf::from(p), Some(r.to_string()));
        }
    }
    (PathBuf::from(s), None)
}

fn platform(p: Option<String>) -> anyhow::Result<Platform> {
    p.map_or(Ok(Platform::host()), |p| {
        Platform::parse(&p).map_err(|e| anyhow!(e))
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-image: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Unpack {
            image,
            platform: pl,
            rootless,
            uid_map,
            gid_map,
            quiet,
            bundle,
        } => {
            let (path, reference) = split_image(&image);
            let parse = |v: &[String]| -> anyhow::Result<Vec<(u32, u32, u32)>> {
                v.iter()
                    .map(|s| IdMap::parse_range(s).map_err(|e| anyhow!(e)))
                    .collect()
            };
            let ids = IdMap {
                uid: parse(&uid_map)?,
                gid: parse(&gid_map)?,
                rootless,
            };
            // A bar over the layers, on a terminal only.
            let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
                let b = indicatif::ProgressBar::new(0);
                if let Ok(style) =
                    indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} layers {msg}")
                {
                    b.set_style(style);
                }
                b
            });
            let progress = |i: usize, n: usize, size: u64| {
                if let Some(b) = &bar {
                    b.set_length(n as u64);
                    b.set_position(i as u64);
                    b.set_message(format!("({} kB)", size / 1024));
                }
            };
            let done = berth_image::unpack(&berth_image::UnpackOptions {
                image: &path,
                reference: reference.as_deref(),
                platform: platform(pl)?,
                bundle: &bundle,
                ids,
                progress: Some(&progress),
            })
            .with_context(|| format!("unpacking {image}"))?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            for s in &done.skipped {
                eprintln!("berth-image: skipped device {s} (no privileges)");
            }
            eprintln!(
                "unpacked {} layers ({} entries) into {}",
                done.layers,
                done.entries,
                bundle.display()
            );
        }
        Command::Inspect {
            image,
            platform: pl,
        } => {
            let (path, reference) = split_image(&image);
            let v = berth_image::inspect::inspect(&path, reference.as_deref(), &platform(pl)?)
                .with_context(|| format!("inspecting {image}"))?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Command::Ls { path } => {
            for r in berth_image::inspect::ls(&path)
                .with_context(|| format!("listing {}", path.display()))?
            {
                println!("{r}");
            }
        }
    }
    Ok(())
}
