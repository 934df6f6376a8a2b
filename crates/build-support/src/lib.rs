//! Build-script helpers shared by Berth's binaries.

/// Hands lld a binary's function order from `link-order.txt` next to the
/// calling crate's Cargo.toml, for release builds of
/// x86_64-unknown-linux-gnu. The list (made by `hack/link-order.sh`)
/// names the functions a typical run executes, first-run order first, so
/// they sit in a few contiguous pages instead of being spread over the
/// whole text segment: the kernel maps a 64 KB window (or a large folio)
/// around every touched page, and that is what a small binary's resident
/// size is made of (docs/performance.md).
///
/// Only lld reads an ordering file; rustc links this target with its own
/// lld since 1.90, and older compilers get a plain link and a warning.
/// Symbols missing from a build (the list is older than the code) are
/// skipped silently.
pub fn link_order(bin: &str) {
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
    println!("cargo:rustc-link-arg-bin={bin}=-Wl,--symbol-ordering-file={dir}/link-order.txt");
    println!("cargo:rustc-link-arg-bin={bin}=-Wl,--no-warn-symbol-ordering");
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
