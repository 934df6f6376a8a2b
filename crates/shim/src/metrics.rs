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

use crate::error::Error;

pub fn collect(pid: i32) -> Result<Any, Error> {
    let cg = Cgroup::of_process(pid)
        .map_err(|e| Error::Runtime(format!("finding the container's cgroups: {e}")))?;
    let stats = cg
        .stats()
        .map_err(|e| Error::Runtime(format!("reading the container's statistics: {e}")))?;
    let any = if cg.record().v2 {
        pack(&v2_metrics(&stats))
    } else {
        pack(&v1_metrics(&stats))
    };
    any.map_err(|e| Error::Runtime(format!("encoding statistics: {e}")))
}

/// An Any with containerd's type URL (the bare message name, as typeurl
/// writes it).
fn pack(
    m: &dyn containerd_shim::protos::protobuf::MessageDyn,
) -> Result<Any, containerd_shim::protos::protobuf::Error> {
    Ok(Any {
        type_url: m.descriptor_dyn().full_name().to_string(),
        value: m.write_to_bytes_dyn()?,
        ..Any::default()
    })
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
