//! runtime-spec's `linux.resources` (config.json's, or `update -r`'s) as
//! the cgroup crate's [`Resources`]; device rules are handled apart.

use berth_cgroups::{BlkioThrottle, Resources, WeightDevice};
use oci_spec::runtime::LinuxResources;

pub(crate) fn of(r: &LinuxResources) -> Resources {
    let mem = r.memory().as_ref();
    let cpu = r.cpu().as_ref();
    let blk = r.block_io().as_ref();
    let net = r.network().as_ref();
    Resources {
        memory_limit: mem.and_then(|m| m.limit()),
        memory_reservation: mem.and_then(|m| m.reservation()),
        memory_swap: mem.and_then(|m| m.swap()),
        memory_kernel: mem.and_then(|m| m.kernel()),
        memory_kernel_tcp: mem.and_then(|m| m.kernel_tcp()),
        swappiness: mem.and_then(|m| m.swappiness()),
        disable_oom_killer: mem.and_then(|m| m.disable_oom_killer()),
        use_hierarchy: mem.and_then(|m| m.use_hierarchy()),
        check_before_update: mem.and_then(|m| m.check_before_update()),
        cpu_shares: cpu.and_then(|c| c.shares()),
        cpu_quota: cpu.and_then(|c| c.quota()),
        cpu_burst: cpu.and_then(|c| c.burst()),
        cpu_period: cpu.and_then(|c| c.period()),
        cpu_rt_runtime: cpu.and_then(|c| c.realtime_runtime()),
        cpu_rt_period: cpu.and_then(|c| c.realtime_period()),
        cpus: cpu.and_then(|c| c.cpus().clone()),
        mems: cpu.and_then(|c| c.mems().clone()),
        cpu_idle: cpu.and_then(|c| c.idle()),
        pids_limit: r.pids().as_ref().map(|p| p.limit()),
        blkio_weight: blk.and_then(|b| b.weight()),
        blkio_leaf_weight: blk.and_then(|b| b.leaf_weight()),
        blkio_weight_device: blk
            .and_then(|b| b.weight_device().as_ref())
            .into_iter()
            .flatten()
            .map(|d| WeightDevice {
                major: d.major(),
                minor: d.minor(),
                weight: d.weight(),
                leaf_weight: d.leaf_weight(),
            })
            .collect(),
        blkio_throttle: blkio_throttle(r),
        hugepages: r
            .hugepage_limits()
            .iter()
            .flatten()
            // A negative limit is as good as none: the kernel's "max".
            .map(|h| {
                (
                    h.page_size().clone(),
                    u64::try_from(h.limit()).unwrap_or(u64::MAX),
                )
            })
            .collect(),
        net_class_id: net.and_then(|n| n.class_id()),
        net_priorities: net
            .and_then(|n| n.priorities().as_ref())
            .into_iter()
            .flatten()
            .map(|p| (p.name().clone(), p.priority()))
            .collect(),
        rdma: r
            .rdma()
            .iter()
            .flatten()
            .map(|(dev, l)| (dev.clone(), (l.hca_handles(), l.hca_objects())))
            .collect(),
        unified: r
            .unified()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn blkio_throttle(r: &LinuxResources) -> Vec<(BlkioThrottle, i64, i64, u64)> {
    let Some(b) = r.block_io() else {
        return Vec::new();
    };
    let lists = [
        (BlkioThrottle::ReadBps, b.throttle_read_bps_device()),
        (BlkioThrottle::WriteBps, b.throttle_write_bps_device()),
        (BlkioThrottle::ReadIops, b.throttle_read_iops_device()),
        (BlkioThrottle::WriteIops, b.throttle_write_iops_device()),
    ];
    lists
        .into_iter()
        .flat_map(|(kind, l)| {
            l.iter()
                .flatten()
                .map(move |d| (kind, d.major(), d.minor(), d.rate()))
        })
        .collect()
}
