//! Prints how long compiling a seccomp profile takes (median of 200) and
//! the program's size: `compile_time PROFILE.json` (the `linux.seccomp`
//! object). Used by hack/bench-seccomp.sh.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark tool: failing loudly is fine"
)]

use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read(path).unwrap();
    let spec: oci_spec::runtime::LinuxSeccomp = serde_json::from_slice(&text).unwrap();
    let mut times: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            let f = berth_seccomp::Filter::compile(&spec).unwrap();
            std::hint::black_box(&f);
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let f = berth_seccomp::Filter::compile(&spec).unwrap();
    println!("{:.1} {}", times[times.len() / 2], f.len());
}
