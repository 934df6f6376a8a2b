//! `berth-image`: images built here from hand-made layers (and by umoci
//! and skopeo) are unpacked, compared entry by entry with what they
//! should give, and run with `berth`; hostile layers must leave the host
//! untouched and no half-written bundle behind.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_integration_tests::{text, Env};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn image_bin() -> PathBuf {
    std::env::var_os("BERTH_IMAGE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| berth_integration_tests::berth_bin().with_file_name("berth-image"))
}

fn berth_image(dir: &Path, args: &[&str]) -> Output {
    berth_integration_tests::run_captured(
        {
            let mut c = Command::new(image_bin());
            c.args(args);
            c
        },
        dir,
    )
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

// ---- layers ----------------------------------------------------------

/// One tar entry as a test writes it.
#[derive(Clone)]
enum E {
    File(&'static str, &'static [u8], u32),
    Dir(&'static str, u32),
    /// A directory with a group.
    DirG(&'static str, u32, u64),
    Symlink(&'static str, &'static str),
    Hardlink(&'static str, &'static str),
    Fifo(&'static str),
    Char(&'static str, u32, u32),
    /// A file with an owner, a time and an xattr.
    Owned(&'static str, u64, u64, u64),
    /// Any name, unchecked (hostile entries).
    Raw(&'static str, &'static [u8]),
}

fn header(kind: tar::EntryType, name: &[u8], mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_600_000_000);
    h.set_uid(0);
    h.set_gid(0);
    // The name field is written raw: the tar crate's own setters refuse
    // `..`, which hostile layers need.
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name);
    h
}

fn layer(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::File(p, data, mode) => {
                let mut h = header(
                    tar::EntryType::Regular,
                    p.as_bytes(),
                    *mode,
                    data.len() as u64,
                );
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            E::Raw(p, data) => {
                let mut h = header(
                    tar::EntryType::Regular,
                    p.as_bytes(),
                    0o644,
                    data.len() as u64,
                );
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            E::Dir(p, mode) => {
                let mut h = header(tar::EntryType::Directory, p.as_bytes(), *mode, 0);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            E::DirG(p, mode, gid) => {
                let mut h = header(tar::EntryType::Directory, p.as_bytes(), *mode, 0);
                h.set_gid(*gid);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            E::Symlink(p, t) | E::Hardlink(p, t) => {
                let kind = if matches!(e, E::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                let mut h = header(kind, p.as_bytes(), 0o777, 0);
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            E::Fifo(p) => {
                let mut h = header(tar::EntryType::Fifo, p.as_bytes(), 0o640, 0);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            E::Char(p, major, minor) => {
                let mut h = header(tar::EntryType::Char, p.as_bytes(), 0o666, 0);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            E::Owned(p, uid, gid, mtime) => {
                b.append_pax_extensions([("SCHILY.xattr.user.berth", &b"tested"[..])])
                    .unwrap();
                let data = b"owned";
                let mut h = header(
                    tar::EntryType::Regular,
                    p.as_bytes(),
                    0o4750,
                    data.len() as u64,
                );
                h.set_uid(*uid);
                h.set_gid(*gid);
                h.set_mtime(*mtime);
                h.set_cksum();
                b.append(&h, &data[..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A long name (over the 100 bytes of the old header), written the
/// tar crate's way (GNU long name).
fn long_name_layer(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

#[derive(Clone, Copy, PartialEq)]
enum Z {
    None,
    Gzip,
    Zstd,
}

fn compress(data: &[u8], z: Z) -> (Vec<u8>, &'static str) {
    match z {
        Z::None => (data.to_vec(), "application/vnd.oci.image.layer.v1.tar"),
        Z::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            (
                e.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        }
        Z::Zstd => (
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
    }
}

// ---- OCI layouts -----------------------------------------------------

fn put_blob(layout: &Path, data: &[u8]) -> (String, u64) {
    let hex = sha(data);
    let dir = layout.join("blobs/sha256");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(&hex), data).unwrap();
    (format!("sha256:{hex}"), data.len() as u64)
}

fn image_config(layers: &[Vec<u8>], process: Value) -> Value {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha(l)))
        .collect();
    json!({
        "architecture": "amd64", "os": "linux", "created": "2026-01-02T03:04:05Z",
        "config": process,
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    })
}

/// Writes a manifest for `layers` (tar bytes, compressed with `z`) and
/// returns its descriptor.
fn manifest(
    layout: &Path,
    layers: &[Vec<u8>],
    z: Z,
    process: Value,
    platform: Option<(&str, &str)>,
) -> Value {
    let (cfg, cfg_size) = put_blob(
        layout,
        &serde_json::to_vec(&image_config(layers, process)).unwrap(),
    );
    let descs: Vec<Value> = layers
        .iter()
        .map(|l| {
            let (blob, media) = compress(l, z);
            let (d, s) = put_blob(layout, &blob);
            json!({"mediaType": media, "digest": d, "size": s})
        })
        .collect();
    let m = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": cfg_size},
        "layers": descs
    });
    let (d, s) = put_blob(layout, &serde_json::to_vec(&m).unwrap());
    let mut desc =
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": s});
    if let Some((os, arch)) = platform {
        desc["platform"] = json!({"os": os, "architecture": arch});
    }
    desc
}

fn write_index(layout: &Path, manifests: Vec<Value>) {
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

fn tagged(mut desc: Value, tag: &str) -> Value {
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    desc
}

/// A one-manifest layout tagged `t`.
fn layout(env: &Env, name: &str, layers: &[Vec<u8>], z: Z, process: Value) -> PathBuf {
    let dir = env.dir.join(name);
    let m = manifest(&dir, layers, z, process, None);
    write_index(&dir, vec![tagged(m, "t")]);
    dir
}

// ---- trees -----------------------------------------------------------

/// What a test compares of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    content: String,
    xattrs: Vec<(String, Vec<u8>)>,
    mtime: i64,
}

fn xattrs(p: &Path) -> Vec<(String, Vec<u8>)> {
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut names = vec![0u8; 4096];
    // SAFETY: valid path and buffer.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for name in names[..n as usize]
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
    {
        let key = std::ffi::CString::new(name).unwrap();
        let mut v = vec![0u8; 4096];
        // SAFETY: valid path, key and buffer.
        let m =
            unsafe { libc::lgetxattr(c.as_ptr(), key.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        v.truncate(m.max(0) as usize);
        out.push((String::from_utf8_lossy(name).into_owned(), v));
    }
    out.sort();
    out
}

fn tree(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let (kind, content) = if ft.is_symlink() {
                ("symlink", fs::read_link(&p).unwrap().display().to_string())
            } else if ft.is_dir() {
                stack.push(p.clone());
                ("dir", String::new())
            } else if ft.is_fifo() {
                ("fifo", String::new())
            } else if ft.is_char_device() {
                (
                    "char",
                    format!("{}:{}", libc::major(m.rdev()), libc::minor(m.rdev())),
                )
            } else {
                ("file", sha(&fs::read(&p).unwrap()))
            };
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.insert(
                rel,
                Node {
                    kind,
                    mode: m.mode() & 0o7777,
                    uid: m.uid(),
                    gid: m.gid(),
                    content,
                    xattrs: xattrs(&p),
                    mtime: m.mtime(),
                },
            );
        }
    }
    out
}

fn unpack(env: &Env, image: &str, bundle: &str, extra: &[&str]) -> Output {
    let mut args = vec!["unpack", "--image", image];
    args.extend_from_slice(extra);
    let target = env.dir.join(bundle);
    let t = target.to_str().unwrap().to_string();
    args.push(&t);
    berth_image(&env.dir, &args)
}

fn no_leftovers(env: &Env, bundle: &str) {
    assert!(
        !env.dir.join(bundle).exists(),
        "half-written bundle {bundle}"
    );
    let temps: Vec<_> = fs::read_dir(&env.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".unpack-"))
        .collect();
    assert!(temps.is_empty(), "temporary directories left: {temps:?}");
}

fn busybox_layer() -> Vec<u8> {
    let bb: &'static [u8] = Box::leak(fs::read("/bin/busybox").unwrap().into_boxed_slice());
    layer(&[
        E::Dir("bin", 0o755),
        E::File("bin/busybox", bb, 0o755),
        E::Symlink("bin/sh", "busybox"),
        E::Symlink("bin/id", "busybox"),
        E::Symlink("bin/pwd", "busybox"),
        E::Symlink("bin/env", "busybox"),
        E::Symlink("bin/cat", "busybox"),
        E::Dir("etc", 0o755),
        E::File(
            "etc/passwd",
            b"root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
            0o644,
        ),
        E::File(
            "etc/group",
            b"root:x:0:\nalice:x:1000:\nwheel:x:10:alice\n",
            0o644,
        ),
        E::Dir("work", 0o755),
    ])
}

// ---- tests -------------------------------------------------------------

#[test]
fn every_layer_feature_unpacks_as_the_changeset_rules_say() {
    let env = Env::new("img-features");
    let long = "d/".to_string() + &"n".repeat(150);
    let long: &'static str = Box::leak(long.into_boxed_str());
    let lower = layer(&[
        E::Dir("a", 0o755),
        E::File("a/keep", b"keep", 0o644),
        E::File("a/gone", b"gone", 0o644),
        E::Dir("opq", 0o700),
        E::File("opq/old", b"old", 0o644),
        E::File("target", b"shared inode", 0o640),
        E::Dir("usr/lib", 0o755),
        E::Symlink("lib", "usr/lib"),
        E::Dir("tmp", 0o1777),
        E::Fifo("pipe"),
        E::Char("null", 1, 3),
        E::Owned("suid", 1000, 1001, 1_234_567_890),
        E::File("replaced", b"file first", 0o644),
        E::DirG("sgid", 0o2775, 50),
        E::File("sgid/root-owned", b"r", 0o644),
    ]);
    let upper = layer(&[
        E::File("a/.wh.gone", b"", 0o644),
        E::File("opq/new", b"new", 0o644),
        E::File("opq/.wh..wh..opq", b"", 0o644),
        E::Hardlink("link", "target"),
        E::File("lib/through", b"via symlink", 0o644),
        E::Dir("replaced", 0o750),
    ]);
    let longl = long_name_layer(long, b"long");
    let img = layout(&env, "img", &[lower, upper, longl], Z::Gzip, json!({}));
    let out = unpack(&env, &format!("{}:t", img.display()), "b", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let t = tree(&env.dir.join("b/rootfs"));
    let get = |p: &str| {
        t.get(p)
            .unwrap_or_else(|| panic!("{p} missing: {:?}", t.keys()))
    };
    assert!(
        t.contains_key("a/keep") && !t.contains_key("a/gone"),
        "whiteout"
    );
    assert!(
        t.contains_key("opq/new") && !t.contains_key("opq/old"),
        "opaque dir"
    );
    assert_eq!(get("opq").mode, 0o700);
    assert_eq!(get("link").content, get("target").content);
    let ino = |p: &str| {
        fs::metadata(env.dir.join("b/rootfs").join(p))
            .unwrap()
            .ino()
    };
    assert_eq!(
        ino("link"),
        ino("target"),
        "hardlink to a lower layer's file"
    );
    assert_eq!(get("lib").kind, "symlink");
    assert_eq!(get("usr/lib/through").content, sha(b"via symlink"));
    assert_eq!(get("tmp").mode, 0o1777);
    assert_eq!(get("pipe").kind, "fifo");
    assert_eq!(get("null").content, "1:3");
    let s = get("suid");
    assert_eq!(
        (s.mode, s.uid, s.gid, s.mtime),
        (0o4750, 1000, 1001, 1_234_567_890)
    );
    assert_eq!(
        s.xattrs,
        vec![("user.berth".to_string(), b"tested".to_vec())]
    );
    assert_eq!(get("sgid").mode, 0o2775);
    assert_eq!(get("sgid").gid, 50);
    assert_eq!(
        get("sgid/root-owned").gid,
        0,
        "owner as the layer says, not the setgid dir's group"
    );
    assert_eq!(get("replaced").kind, "dir");
    assert_eq!(get("replaced").mode, 0o750);
    assert_eq!(get(long).content, sha(b"long"));
    assert_eq!(get("tmp").mtime, 1_600_000_000, "directory times set last");
}

#[test]
fn each_compression_gives_the_same_tree() {
    let env = Env::new("img-compress");
    let l = layer(&[E::Dir("x", 0o755), E::File("x/y", b"content", 0o600)]);
    let mut trees = Vec::new();
    for (i, z) in [Z::None, Z::Gzip, Z::Zstd].into_iter().enumerate() {
        let img = layout(
            &env,
            &format!("img{i}"),
            std::slice::from_ref(&l),
            z,
            json!({}),
        );
        let out = unpack(&env, img.to_str().unwrap(), &format!("b{i}"), &[]);
        assert!(out.status.success(), "{}", text(&out));
        trees.push(tree(&env.dir.join(format!("b{i}/rootfs"))));
    }
    assert_eq!(trees[0], trees[1]);
    assert_eq!(trees[0], trees[2]);
    assert_eq!(trees[0]["x/y"].content, sha(b"content"));
}

#[test]
fn the_bundle_runs_with_the_image_process_env_cwd_and_user() {
    let env = Env::new("img-run");
    let process = json!({
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["id; pwd; echo $GREETING"],
        "Env": ["GREETING=hello from the image"],
        "WorkingDir": "/work",
        "User": "alice",
        "Labels": {"com.example.team": "berth"},
        "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
        "StopSignal": "SIGQUIT"
    });
    let img = layout(&env, "img", &[busybox_layer()], Z::Gzip, process);
    let out = unpack(&env, &format!("{}:t", img.display()), "b", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let config: Value =
        serde_json::from_slice(&fs::read(env.dir.join("b/config.json")).unwrap()).unwrap();
    let a = &config["annotations"];
    assert_eq!(a["com.example.team"], "berth");
    assert_eq!(a["org.opencontainers.image.exposedPorts"], "443/tcp,80/tcp");
    assert_eq!(a["org.opencontainers.image.stopSignal"], "SIGQUIT");
    assert_eq!(
        config["process"]["user"],
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10]})
    );
    let b = env.dir.join("b");
    let run = env.berth(&["run", "-b", b.to_str().unwrap(), &env.id("c")]);
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "uid=1000(alice) gid=1000(alice) groups=10(wheel)\n/work\nhello from the image\n"
    );
}

#[test]
fn an_index_with_two_platforms_gives_the_asked_one() {
    let env = Env::new("img-platforms");
    let dir = env.dir.join("img");
    let amd = manifest(
        &dir,
        &[layer(&[E::File("which", b"amd64", 0o644)])],
        Z::Gzip,
        json!({}),
        Some(("linux", "amd64")),
    );
    let arm = manifest(
        &dir,
        &[layer(&[E::File("which", b"arm64", 0o644)])],
        Z::Gzip,
        json!({}),
        Some(("linux", "arm64")),
    );
    let nested = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [arm, amd]});
    let (d, s) = put_blob(&dir, &serde_json::to_vec(&nested).unwrap());
    write_index(
        &dir,
        vec![tagged(
            json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": s}),
            "multi",
        )],
    );
    let img = format!("{}:multi", dir.display());
    let out = unpack(&env, &img, "host", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fs::read(env.dir.join("host/rootfs/which")).unwrap(),
        b"amd64"
    );
    let out = unpack(&env, &img, "arm", &["--platform", "linux/arm64"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fs::read(env.dir.join("arm/rootfs/which")).unwrap(),
        b"arm64"
    );
    let inspect = berth_image(&env.dir, &["inspect", &img]);
    assert!(inspect.status.success(), "{}", text(&inspect));
    let v: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(v["platforms"], json!(["linux/amd64", "linux/arm64"]));
    assert_eq!(v["references"], json!(["multi"]));
    assert_eq!(v["layers"].as_array().unwrap().len(), 1);
    let out = unpack(&env, &img, "none", &["--platform", "linux/s390x"]);
    assert!(
        !out.status.success() && text(&out).contains("platform"),
        "{}",
        text(&out)
    );
    no_leftovers(&env, "none");
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn umoci_and_skopeo_images_in_all_three_formats() {
    assert!(
        have("umoci") && have("skopeo"),
        "umoci and skopeo are needed (hack/setup.sh installs them)"
    );
    let env = Env::new("img-umoci");
    let d = &env.dir;
    let sh = |cmd: &str| {
        let o = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    sh("umoci init --layout img && umoci new --image img:t && umoci unpack --image img:t ub >/dev/null");
    let r = d.join("ub/rootfs");
    fs::create_dir_all(r.join("bin")).unwrap();
    fs::create_dir_all(r.join("etc")).unwrap();
    fs::copy("/bin/busybox", r.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", r.join("bin/sh")).unwrap();
    fs::write(r.join("etc/motd"), "from umoci\n").unwrap();
    sh("umoci repack --image img:t ub && umoci config --image img:t --config.cmd /bin/sh --config.cmd -c --config.cmd 'cat /etc/motd'");
    sh("skopeo copy -q oci:img:t oci-archive:arch.tar:t && skopeo copy -q oci:img:t docker-archive:dock.tar:example/app:v1");
    sh("umoci unpack --image img:t theirs >/dev/null");
    let want = tree(&d.join("theirs/rootfs"));
    for (image, bundle) in [("img:t", "b1"), ("arch.tar:t", "b2"), ("dock.tar:v1", "b3")] {
        let out = unpack(&env, &d.join(image).display().to_string(), bundle, &[]);
        assert!(out.status.success(), "{image}: {}", text(&out));
        let got = tree(&d.join(bundle).join("rootfs"));
        assert_eq!(got, want, "{image} unpacks as umoci unpacks it");
        let run = env.berth(&[
            "run",
            "-b",
            d.join(bundle).to_str().unwrap(),
            &env.id(bundle),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&run.stdout),
            "from umoci\n",
            "{}",
            text(&run)
        );
    }
    let ls = berth_image(d, &["ls", d.join("dock.tar").to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&ls.stdout).trim(),
        "docker.io/example/app:v1"
    );
}

/// A host directory whose contents must never change.
fn canary(env: &Env) -> PathBuf {
    let c = env.dir.join("canary");
    fs::create_dir_all(&c).unwrap();
    fs::write(c.join("keep"), "host").unwrap();
    c
}

fn assert_canary_intact(c: &Path) {
    let mut names: Vec<_> = fs::read_dir(c)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["keep"], "host canary changed");
    assert_eq!(fs::read_to_string(c.join("keep")).unwrap(), "host");
}

#[test]
fn hostile_layers_never_reach_the_host() {
    let env = Env::new("img-hostile");
    let c = canary(&env);
    let cs: &'static str = Box::leak(c.display().to_string().into_boxed_str());
    let up = |n: usize| -> &'static str {
        Box::leak(format!("{}canary", "../".repeat(n)).into_boxed_str())
    };
    let cases: Vec<(&str, Vec<Vec<u8>>, bool)> = vec![
        // (name, layers, whether unpacking must be refused)
        (
            "dotdot",
            vec![layer(&[E::Raw(
                Box::leak(format!("{}/evil", up(6)).into_boxed_str()),
                b"x",
            )])],
            true,
        ),
        (
            "hardlink-out",
            vec![layer(&[E::Hardlink(
                "hl",
                Box::leak(format!("{}/keep", up(6)).into_boxed_str()),
            )])],
            true,
        ),
        (
            "whiteout-dotdot",
            vec![layer(&[E::Raw(".wh..", b"")])],
            true,
        ),
        // Confined: absolute names and symlinks lead inside the rootfs.
        (
            "absolute",
            vec![layer(&[E::Raw(
                Box::leak(format!("{cs}/abs").into_boxed_str()),
                b"x",
            )])],
            false,
        ),
        (
            "symlink-parent",
            vec![
                layer(&[E::Symlink("esc", cs), E::Symlink("rel", up(8))]),
                layer(&[E::Raw("esc/pwned", b"x"), E::Raw("rel/pwned2", b"x")]),
            ],
            false,
        ),
        (
            "whiteout-through-symlink",
            vec![
                layer(&[E::Symlink("esc", cs)]),
                layer(&[E::Raw("esc/.wh.keep", b""), E::Raw("esc/.wh..wh..opq", b"")]),
            ],
            false,
        ),
        (
            "hardlink-through-symlink",
            vec![
                layer(&[E::Symlink("esc", cs)]),
                layer(&[E::Hardlink("stolen", "esc/keep")]),
            ],
            true,
        ),
        (
            "overwrite-through-symlink",
            vec![
                layer(&[E::Symlink(
                    "keep",
                    Box::leak(format!("{cs}/keep").into_boxed_str()),
                )]),
                layer(&[E::Raw("keep", b"pwned")]),
            ],
            false,
        ),
    ];
    for (name, layers, refused) in cases {
        let img = layout(&env, &format!("img-{name}"), &layers, Z::None, json!({}));
        let out = unpack(&env, img.to_str().unwrap(), name, &[]);
        assert_eq!(!out.status.success(), refused, "{name}: {}", text(&out));
        if refused {
            no_leftovers(&env, name);
        }
        assert_canary_intact(&c);
    }
    // What the confined cases wrote stayed in their rootfs.
    let inside = env
        .dir
        .join("symlink-parent/rootfs")
        .join(cs.trim_start_matches('/'));
    assert!(
        inside.join("pwned").exists(),
        "the write followed the symlink inside the root"
    );
    assert!(env
        .dir
        .join("absolute/rootfs")
        .join(cs.trim_start_matches('/'))
        .join("abs")
        .exists());
    assert_eq!(
        fs::read(env.dir.join("overwrite-through-symlink/rootfs/keep")).unwrap(),
        b"pwned"
    );
}

#[test]
fn corrupt_and_truncated_blobs_leave_nothing_behind() {
    let env = Env::new("img-corrupt");
    let l = layer(&[E::Dir("d", 0o755), E::File("d/f", &[7u8; 50_000], 0o644)]);
    let img = layout(&env, "img", std::slice::from_ref(&l), Z::Gzip, json!({}));
    let index: Value = serde_json::from_slice(&fs::read(img.join("index.json")).unwrap()).unwrap();
    let mhex = index["manifests"][0]["digest"].as_str().unwrap()[7..].to_string();
    let m: Value =
        serde_json::from_slice(&fs::read(img.join("blobs/sha256").join(&mhex)).unwrap()).unwrap();
    let lhex = m["layers"][0]["digest"].as_str().unwrap()[7..].to_string();
    let blob = img.join("blobs/sha256").join(&lhex);
    let good = fs::read(&blob).unwrap();
    // One byte changed: digest mismatch.
    let mut bad = good.clone();
    let n = bad.len() - 20;
    bad[n] ^= 0xff;
    fs::write(&blob, &bad).unwrap();
    let out = unpack(&env, img.to_str().unwrap(), "flipped", &[]);
    assert!(!out.status.success(), "{}", text(&out));
    no_leftovers(&env, "flipped");
    // Cut short: size mismatch (and a gzip stream that ends early).
    fs::write(&blob, &good[..good.len() / 2]).unwrap();
    let out = unpack(&env, img.to_str().unwrap(), "truncated", &[]);
    assert!(!out.status.success(), "{}", text(&out));
    no_leftovers(&env, "truncated");
    // Longer than the descriptor says.
    let mut long = good.clone();
    long.extend_from_slice(b"trailing");
    fs::write(&blob, &long).unwrap();
    let out = unpack(&env, img.to_str().unwrap(), "long", &[]);
    assert!(!out.status.success(), "{}", text(&out));
    no_leftovers(&env, "long");
    // Missing altogether.
    fs::remove_file(&blob).unwrap();
    let out = unpack(&env, img.to_str().unwrap(), "missing", &[]);
    assert!(
        !out.status.success() && text(&out).contains("missing"),
        "{}",
        text(&out)
    );
    no_leftovers(&env, "missing");
    fs::write(&blob, &good).unwrap();
    let out = unpack(&env, img.to_str().unwrap(), "good", &[]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn id_maps_and_rootless_unpacking() {
    let env = Env::new("img-ids");
    let img = layout(
        &env,
        "img",
        &[layer(&[
            E::Owned("f", 1000, 1000, 1),
            E::Char("null", 1, 3),
        ])],
        Z::None,
        json!({}),
    );
    let out = unpack(
        &env,
        img.to_str().unwrap(),
        "mapped",
        &["--uid-map", "0:100000:65536", "--gid-map", "0:200000:65536"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let m = fs::metadata(env.dir.join("mapped/rootfs/f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (101000, 201000));
    let out = unpack(&env, img.to_str().unwrap(), "rootless", &["--rootless"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("skipped device"), "{}", text(&out));
    assert!(!env.dir.join("rootless/rootfs/null").exists());
    let m = fs::metadata(env.dir.join("rootless/rootfs/f")).unwrap();
    assert_eq!(m.uid(), 0, "owned by the caller");
    let out = unpack(
        &env,
        img.to_str().unwrap(),
        "narrow",
        &["--uid-map", "0:100000:10"],
    );
    assert!(
        !out.status.success() && text(&out).contains("uid 1000"),
        "{}",
        text(&out)
    );
    no_leftovers(&env, "narrow");
}
