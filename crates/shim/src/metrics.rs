//! Task Stats: the container's cgroup statistics (read with
//! `berth_cgroups` from the init process's cgroups, so this works for any
//! runtime) in containerd's protobuf types: `io.containerd.cgroups.v1.
//! Metrics` on v1 and hybrid hosts, `io.containerd.cgroups.v2.Metrics` on
//! pure v2 hosts.

use std::collections::BTreeMap;

use berth_cgroups::{Cgroup, Stats};
use containerd_shim::protos::cgroups::metrics as v1;
use containerd_shim::protos::cgroups_v2::metrics as v2;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::MessageField;
use containerd_shim::util::convert_to_any;

use crate::error::Error;

pub fn collect(pid: i32) -> Result<Any, Error> {
    let cg = Cgroup::of_process(pid)
        .map_err(|e| Error::Runtime(format!("finding the container's cgroups: {e}")))?;
    let stats = cg
        .stats()
        .map_err(|e| Error::Runtime(format!("reading the container's statistics: {e}")))?;
    // convert_to_any names the type as containerd's typeurl does (the bare
    // message name).
    let any = if cg.record().v2 {
        convert_to_any(Box::new(v2_metrics(&stats)))
    } else {
        convert_to_any(Box::new(v1_metrics(&stats)))
    };
    any.map_err(|e| Error::Runtime(format!("encoding statistics: {e}")))
}

fn get(raw: &BTreeMap<String, u64>, k: &str) -> u64 {
    raw.get(k).copied().unwrap_or(0)
}

fn v1_metrics(s: &Stats) -> v1::Metrics {
    let mut m = v1::Metrics::new();
    m.pids = MessageField::some(v1::PidsStat {
        current: s.pids.current,
        limit: s.pids.limit,
        ..Default::default()
    });
    m.cpu = MessageField::some(v1::CPUStat {
        usage: MessageField::some(v1::CPUUsage {
            total: s.cpu.usage.total,
            kernel: s.cpu.usage.kernel,
            user: s.cpu.usage.user,
            per_cpu: s.cpu.usage.percpu.clone(),
            ..Default::default()
        }),
        throttling: MessageField::some(v1::Throttle {
            periods: s.cpu.throttling.periods,
            throttled_periods: s.cpu.throttling.throttled_periods,
            throttled_time: s.cpu.throttling.throttled_time,
            ..Default::default()
        }),
        ..Default::default()
    });
    let entry = |e: &berth_cgroups::stats::MemoryEntry| {
        MessageField::some(v1::MemoryEntry {
            limit: e.limit,
            usage: e.usage,
            max: e.max,
            failcnt: e.failcnt,
            ..Default::default()
        })
    };
    let r = &s.memory.raw;
    m.memory = MessageField::some(v1::MemoryStat {
        cache: get(r, "cache"),
        rss: get(r, "rss"),
        rss_huge: get(r, "rss_huge"),
        mapped_file: get(r, "mapped_file"),
        dirty: get(r, "dirty"),
        writeback: get(r, "writeback"),
        pg_fault: get(r, "pgfault"),
        pg_maj_fault: get(r, "pgmajfault"),
        inactive_anon: get(r, "inactive_anon"),
        active_anon: get(r, "active_anon"),
        inactive_file: get(r, "inactive_file"),
        active_file: get(r, "active_file"),
        unevictable: get(r, "unevictable"),
        hierarchical_memory_limit: get(r, "hierarchical_memory_limit"),
        total_cache: get(r, "total_cache"),
        total_rss: get(r, "total_rss"),
        usage: entry(&s.memory.usage),
        swap: entry(&s.memory.swap),
        kernel: entry(&s.memory.kernel),
        kernel_tcp: entry(&s.memory.kernel_tcp),
        ..Default::default()
    });
    let blk = |l: &[berth_cgroups::stats::BlkioEntry]| {
        l.iter()
            .map(|e| v1::BlkIOEntry {
                op: e.op.clone(),
                major: e.major,
                minor: e.minor,
                value: e.value,
                ..Default::default()
            })
            .collect()
    };
    m.blkio = MessageField::some(v1::BlkIOStat {
        io_service_bytes_recursive: blk(&s.blkio.io_service_bytes),
        io_serviced_recursive: blk(&s.blkio.io_serviced),
        ..Default::default()
    });
    m.hugetlb = s
        .hugetlb
        .iter()
        .map(|(size, h)| v1::HugetlbStat {
            usage: h.usage,
            max: h.max_usage,
            failcnt: h.failcnt,
            pagesize: size.clone(),
            ..Default::default()
        })
        .collect();
    m
}

fn v2_metrics(s: &Stats) -> v2::Metrics {
    let mut m = v2::Metrics::new();
    m.pids = MessageField::some(v2::PidsStat {
        current: s.pids.current,
        limit: s.pids.limit,
        ..Default::default()
    });
    m.cpu = MessageField::some(v2::CPUStat {
        usage_usec: s.cpu.usage.total / 1000,
        user_usec: s.cpu.usage.user / 1000,
        system_usec: s.cpu.usage.kernel / 1000,
        nr_periods: s.cpu.throttling.periods,
        nr_throttled: s.cpu.throttling.throttled_periods,
        throttled_usec: s.cpu.throttling.throttled_time / 1000,
        ..Default::default()
    });
    let r = &s.memory.raw;
    m.memory = MessageField::some(v2::MemoryStat {
        anon: get(r, "anon"),
        file: get(r, "file"),
        kernel_stack: get(r, "kernel_stack"),
        slab: get(r, "slab"),
        sock: get(r, "sock"),
        shmem: get(r, "shmem"),
        file_mapped: get(r, "file_mapped"),
        file_dirty: get(r, "file_dirty"),
        file_writeback: get(r, "file_writeback"),
        inactive_anon: get(r, "inactive_anon"),
        active_anon: get(r, "active_anon"),
        inactive_file: get(r, "inactive_file"),
        active_file: get(r, "active_file"),
        unevictable: get(r, "unevictable"),
        pgfault: get(r, "pgfault"),
        pgmajfault: get(r, "pgmajfault"),
        usage: s.memory.usage.usage,
        usage_limit: s.memory.usage.limit,
        max_usage: s.memory.usage.max,
        // The statistics hold memory+swap, as runc reports them.
        swap_usage: s.memory.swap.usage.saturating_sub(s.memory.usage.usage),
        swap_limit: s.memory.swap.limit,
        ..Default::default()
    });
    let mut io: BTreeMap<(u64, u64), v2::IOEntry> = BTreeMap::new();
    for (list, bytes) in [
        (&s.blkio.io_service_bytes, true),
        (&s.blkio.io_serviced, false),
    ] {
        for e in list.iter() {
            let d = io.entry((e.major, e.minor)).or_insert_with(|| v2::IOEntry {
                major: e.major,
                minor: e.minor,
                ..Default::default()
            });
            match (bytes, e.op.as_str()) {
                (true, "Read") => d.rbytes = e.value,
                (true, "Write") => d.wbytes = e.value,
                (false, "Read") => d.rios = e.value,
                (false, "Write") => d.wios = e.value,
                _ => {}
            }
        }
    }
    m.io = MessageField::some(v2::IOStat {
        usage: io.into_values().collect(),
        ..Default::default()
    });
    m.hugetlb = s
        .hugetlb
        .iter()
        .map(|(size, h)| v2::HugeTlbStat {
            current: h.usage,
            max: h.max_usage,
            failcnt: h.failcnt,
            pagesize: size.clone(),
            ..Default::default()
        })
        .collect();
    m
}

#[cfg(test)]
mod tests {
    use berth_cgroups::stats::{BlkioEntry, Hugetlb, MemoryEntry};

    use super::*;

    fn stats() -> Stats {
        let mut s = Stats::default();
        s.cpu.usage.total = 5_000_000;
        s.cpu.usage.user = 3_000_000;
        s.cpu.usage.kernel = 2_000_000;
        s.cpu.throttling.throttled_time = 7_000;
        s.memory.usage = MemoryEntry {
            limit: 64 << 20,
            usage: 1 << 20,
            max: 2 << 20,
            failcnt: 0,
        };
        s.memory.swap = MemoryEntry {
            limit: 96 << 20,
            usage: (1 << 20) + 4096,
            max: 0,
            failcnt: 0,
        };
        s.memory.raw = [
            ("anon".to_string(), 10),
            ("file".to_string(), 20),
            ("cache".to_string(), 30),
        ]
        .into();
        s.pids.current = 3;
        s.pids.limit = 9;
        for (op, v) in [("Read", 512), ("Write", 1024)] {
            s.blkio.io_service_bytes.push(BlkioEntry {
                major: 8,
                minor: 0,
                op: op.into(),
                value: v,
            });
            s.blkio.io_serviced.push(BlkioEntry {
                major: 8,
                minor: 0,
                op: op.into(),
                value: v / 512,
            });
        }
        s.hugetlb.insert(
            "2MB".into(),
            Hugetlb {
                usage: 2 << 20,
                max_usage: 0,
                failcnt: 1,
            },
        );
        s
    }

    #[test]
    fn v1_metrics_carry_runc_fields() {
        let m = v1_metrics(&stats());
        assert_eq!(m.cpu.usage.total, 5_000_000);
        assert_eq!(m.memory.usage.limit, 64 << 20);
        assert_eq!(m.memory.cache, 30);
        assert_eq!((m.pids.current, m.pids.limit), (3, 9));
        assert_eq!(m.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(
            (m.hugetlb[0].pagesize.as_str(), m.hugetlb[0].failcnt),
            ("2MB", 1)
        );
        let any = convert_to_any(Box::new(m)).unwrap();
        assert_eq!(any.type_url, "io.containerd.cgroups.v1.Metrics");
    }

    #[test]
    fn v2_metrics_convert_units_and_group_io_by_device() {
        let m = v2_metrics(&stats());
        assert_eq!(
            (m.cpu.usage_usec, m.cpu.user_usec, m.cpu.system_usec),
            (5_000, 3_000, 2_000)
        );
        assert_eq!(m.cpu.throttled_usec, 7);
        assert_eq!((m.memory.anon, m.memory.file), (10, 20));
        assert_eq!((m.memory.usage, m.memory.usage_limit), (1 << 20, 64 << 20));
        assert_eq!(m.memory.swap_usage, 4096, "swap alone, not memory+swap");
        assert_eq!(m.io.usage.len(), 1);
        let io = &m.io.usage[0];
        assert_eq!((io.rbytes, io.wbytes, io.rios, io.wios), (512, 1024, 1, 2));
        assert_eq!(m.hugetlb[0].current, 2 << 20);
        assert_eq!(
            convert_to_any(Box::new(m)).unwrap().type_url,
            "io.containerd.cgroups.v2.Metrics"
        );
    }
}
