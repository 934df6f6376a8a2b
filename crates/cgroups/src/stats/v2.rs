//! Statistics of a pure cgroup v2 container, mapped onto runc's v1-shaped
//! fields the way runc maps them: times in nanoseconds, "max" as the
//! largest u64 for memory and as 0 for pids, memory+swap for `swap`.

use std::fs;
use std::path::Path;

use super::{num, pairs, BlkioEntry, Hugetlb, MemoryEntry, Pids, Stats, Throttling};

/// A limit file: "max" is no limit.
fn limit(dir: &Path, file: &str) -> u64 {
    match fs::read_to_string(dir.join(file)) {
        Ok(s) if s.trim() == "max" => u64::MAX,
        Ok(s) => s.trim().parse().unwrap_or(0),
        Err(_) => 0,
    }
}

pub(super) fn stats(dir: &Path) -> Stats {
    let mut s = Stats::default();
    let cpu = pairs(dir, "cpu.stat");
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
    s.cpu.usage.total = us("usage_usec");
    s.cpu.usage.user = us("user_usec");
    s.cpu.usage.kernel = us("system_usec");
    s.cpu.throttling = Throttling {
        periods: cpu.get("nr_periods").copied().unwrap_or(0),
        throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
        throttled_time: us("throttled_usec"),
    };
    let events = pairs(dir, "memory.events");
    s.memory.usage = MemoryEntry {
        limit: limit(dir, "memory.max"),
        usage: num(dir, "memory.current"),
        max: num(dir, "memory.peak"),
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    let swap_limit = limit(dir, "memory.swap.max");
    s.memory.swap = MemoryEntry {
        limit: if swap_limit == u64::MAX {
            u64::MAX
        } else {
            swap_limit.saturating_add(s.memory.usage.limit)
        },
        usage: num(dir, "memory.swap.current") + s.memory.usage.usage,
        max: 0,
        failcnt: 0,
    };
    s.memory.raw = pairs(dir, "memory.stat");
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.pids = Pids {
        current: num(dir, "pids.current"),
        limit: num(dir, "pids.max"),
    };
    for line in fs::read_to_string(dir.join("io.stat"))
        .unwrap_or_default()
        .lines()
    {
        io_line(line, &mut s);
    }
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(size) = name
            .strip_prefix("hugetlb.")
            .and_then(|n| n.strip_suffix(".current"))
            .filter(|n| !n.ends_with(".rsvd"))
        else {
            continue;
        };
        let ev = pairs(dir, &format!("hugetlb.{size}.events"));
        let h = Hugetlb {
            usage: num(dir, &name),
            max_usage: 0,
            failcnt: ev.get("max").copied().unwrap_or(0),
        };
        s.hugetlb.insert(size.to_string(), h);
    }
    s
}

/// One io.stat line, "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0
/// dios=0", as runc's Read/Write entries.
fn io_line(line: &str, s: &mut Stats) {
    let mut f = line.split_whitespace();
    let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else {
        return;
    };
    let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
        return;
    };
    for kv in f {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        let Ok(value) = v.parse() else { continue };
        let (list, op) = match k {
            "rbytes" => (&mut s.blkio.io_service_bytes, "Read"),
            "wbytes" => (&mut s.blkio.io_service_bytes, "Write"),
            "rios" => (&mut s.blkio.io_serviced, "Read"),
            "wios" => (&mut s.blkio.io_serviced, "Write"),
            _ => continue,
        };
        list.push(BlkioEntry {
            major,
            minor,
            op: op.into(),
            value,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v2_files() {
        let d = std::env::temp_dir().join(format!("berth-stats2-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        let files = [
            ("cpu.stat", "usage_usec 10\nuser_usec 7\nsystem_usec 3\nnr_periods 4\nnr_throttled 1\nthrottled_usec 2\n"),
            ("memory.current", "4096\n"),
            ("memory.max", "max\n"),
            ("memory.swap.current", "0\n"),
            ("memory.swap.max", "max\n"),
            ("memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n"),
            ("memory.stat", "anon 1\nfile 9\n"),
            ("pids.current", "3\n"),
            ("pids.max", "max\n"),
            ("io.stat", "8:0 rbytes=512 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n"),
            ("hugetlb.2MB.current", "0\n"),
            ("hugetlb.2MB.rsvd.current", "0\n"),
            ("hugetlb.2MB.events", "max 2\n"),
        ];
        for (f, v) in files {
            fs::write(d.join(f), v).unwrap();
        }
        let s = stats(&d);
        assert_eq!(
            (s.cpu.usage.total, s.cpu.usage.user, s.cpu.usage.kernel),
            (10_000, 7_000, 3_000)
        );
        assert_eq!(s.cpu.throttling.throttled_time, 2_000);
        assert_eq!(
            (
                s.memory.usage.usage,
                s.memory.usage.limit,
                s.memory.usage.failcnt
            ),
            (4096, u64::MAX, 5)
        );
        assert_eq!((s.memory.swap.usage, s.memory.swap.limit), (4096, u64::MAX));
        assert_eq!(s.memory.cache, 9);
        assert_eq!((s.pids.current, s.pids.limit), (3, 0));
        assert_eq!(s.blkio.io_service_bytes.len(), 2);
        assert_eq!(s.blkio.io_serviced[0].value, 1);
        assert_eq!(s.hugetlb.keys().collect::<Vec<_>>(), ["2MB"]);
        assert_eq!(s.hugetlb["2MB"].failcnt, 2);
        fs::remove_dir_all(&d).unwrap();
    }
}
