//! Records the git commit for `berth --version`, as runc prints it, and
//! for release builds hands lld the function order of `link-order.txt`.
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BERTH_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs");
    link_order();
}

/// The functions a container start runs, listed by hack/link-order.sh,
/// are laid out first and contiguously, so a start maps a few hundred
/// kilobytes of text rather than touching most of the segment (resident
/// size: docs/performance.md). Only lld reads an ordering file; rustc
/// links x86_64-unknown-linux-gnu with its own lld since 1.90, and older
/// compilers get a plain link and a warning. Symbols missing from a build
/// (the list is older than the code) are skipped silently.
fn link_order() {
    println!("cargo:rerun-if-changed=link-order.txt");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !release || target != "x86_64-unknown-linux-gnu" {
        return;
    }
    if !rustc_links_with_lld() {
        println!("cargo:warning=rustc before 1.90 links with the system linker: link-order.txt not applied");
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    if !std::path::Path::new(&dir).join("link-order.txt").exists() {
        return;
    }
    println!("cargo:rustc-link-arg-bin=berth=-Wl,--symbol-ordering-file={dir}/link-order.txt");
    println!("cargo:rustc-link-arg-bin=berth=-Wl,--no-warn-symbol-ordering");
}

fn rustc_links_with_lld() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Some(out) = std::process::Command::new(rustc).arg("-V").output().ok() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // "rustc 1.95.0 (...)"
    let minor = text
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}
