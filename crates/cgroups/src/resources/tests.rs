use std::collections::BTreeMap;

use super::v2::{blkio_to_io_weight, shares_to_weight, swap_max};
use super::*;

/// A cgroup with the given files and contents.
#[derive(Default)]
struct Files(BTreeMap<&'static str, &'static str>);

impl Probe for Files {
    fn read(&self, _controller: &str, file: &str) -> Option<String> {
        self.0.get(file).map(|s| s.to_string())
    }
}

fn lines(w: &[Write]) -> Vec<String> {
    w.iter()
        .map(|w| format!("{}/{}={}", w.controller, w.file, w.value))
        .collect()
}

#[test]
fn v1_order_and_values() {
    let r = Resources {
        memory_limit: Some(64 << 20),
        memory_swap: Some(128 << 20),
        memory_reservation: Some(32 << 20),
        memory_kernel_tcp: Some(1 << 20),
        swappiness: Some(10),
        disable_oom_killer: Some(true),
        use_hierarchy: Some(true),
        cpu_shares: Some(512),
        cpu_quota: Some(50000),
        cpu_period: Some(100000),
        cpu_burst: Some(1000),
        cpu_rt_period: Some(1000000),
        cpu_rt_runtime: Some(10000),
        cpu_idle: Some(0),
        cpus: Some("0".into()),
        pids_limit: Some(0),
        net_class_id: Some(0x100001),
        net_priorities: vec![("lo".into(), 5)],
        ..Resources::default()
    };
    let probe = Files(BTreeMap::from([(
        "memory.limit_in_bytes",
        "9223372036854771712\n",
    )]));
    assert_eq!(
        lines(&r.v1_writes(&probe).unwrap()),
        [
            "cpuset/cpuset.cpus=0",
            "memory/memory.limit_in_bytes=67108864",
            "memory/memory.memsw.limit_in_bytes=134217728",
            "memory/memory.kmem.tcp.limit_in_bytes=1048576",
            "memory/memory.soft_limit_in_bytes=33554432",
            "memory/memory.swappiness=10",
            "memory/memory.oom_control=1",
            "memory/memory.use_hierarchy=1",
            "cpu/cpu.rt_period_us=1000000",
            "cpu/cpu.rt_runtime_us=10000",
            "cpu/cpu.shares=512",
            "cpu/cpu.cfs_period_us=100000",
            "cpu/cpu.cfs_quota_us=50000",
            "cpu/cpu.cfs_burst_us=1000",
            "cpu/cpu.idle=0",
            "pids/pids.max=max",
            "net_cls/net_cls.classid=1048577",
            "net_prio/net_prio.ifpriomap=lo 5",
        ]
    );
}

#[test]
fn v1_memsw_goes_first_when_it_grows_past_the_current_limit() {
    let r = Resources {
        memory_limit: Some(256 << 20),
        memory_swap: Some(512 << 20),
        ..Resources::default()
    };
    let small = Files(BTreeMap::from([("memory.limit_in_bytes", "67108864")]));
    assert_eq!(
        lines(&r.v1_writes(&small).unwrap()),
        [
            "memory/memory.memsw.limit_in_bytes=536870912",
            "memory/memory.limit_in_bytes=268435456"
        ]
    );
    // Unlimited memory with swap unset: memory+swap unlimited too.
    let unlimited = Resources {
        memory_limit: Some(-1),
        ..Resources::default()
    };
    let with_swap = Files(BTreeMap::from([("memory.memsw.limit_in_bytes", "1")]));
    assert_eq!(
        lines(&unlimited.v1_writes(&with_swap).unwrap()),
        [
            "memory/memory.memsw.limit_in_bytes=-1",
            "memory/memory.limit_in_bytes=-1"
        ]
    );
}

#[test]
fn v1_blkio_bfq_hugetlb_rdma_and_refusals() {
    let r = Resources {
        blkio_weight: Some(500),
        blkio_weight_device: vec![WeightDevice {
            major: 8,
            minor: 0,
            weight: Some(300),
            leaf_weight: None,
        }],
        blkio_throttle: vec![(BlkioThrottle::ReadBps, 8, 0, 1024)],
        hugepages: vec![("2MB".into(), 4 << 20)],
        rdma: BTreeMap::from([("mlx5_0".into(), (Some(3), None))]),
        ..Resources::default()
    };
    let probe = Files(BTreeMap::from([
        ("blkio.bfq.weight", "100"),
        ("hugetlb.2MB.rsvd.limit_in_bytes", "0"),
    ]));
    assert_eq!(
        lines(&r.v1_writes(&probe).unwrap()),
        [
            "blkio/blkio.bfq.weight=500",
            "blkio/blkio.bfq.weight_device=8:0 300",
            "blkio/blkio.throttle.read_bps_device=8:0 1024",
            "hugetlb/hugetlb.2MB.limit_in_bytes=4194304",
            "hugetlb/hugetlb.2MB.rsvd.limit_in_bytes=4194304",
            "rdma/rdma.max=mlx5_0 hca_handle=3 hca_object=max",
        ]
    );
    let unified = Resources {
        unified: BTreeMap::from([("memory.high".into(), "1M".into())]),
        ..Resources::default()
    };
    let e = unified
        .v1_writes(&Files::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("linux.resources.unified"), "{e}");
}

#[test]
fn v2_conversions_match_runc() {
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 39);
    assert_eq!(shares_to_weight(262144), 10000);
    assert_eq!(shares_to_weight(0), 0);
    assert_eq!(blkio_to_io_weight(10), 1);
    assert_eq!(blkio_to_io_weight(500), 4950);
    assert_eq!(blkio_to_io_weight(1000), 10000);
    assert_eq!(
        swap_max(Some(128 << 20), Some(64 << 20)).unwrap(),
        Some((64 << 20).to_string())
    );
    assert_eq!(
        swap_max(Some(64 << 20), Some(64 << 20)).unwrap(),
        Some("0".into())
    );
    assert_eq!(swap_max(None, Some(-1)).unwrap(), Some("max".into()));
    assert_eq!(
        swap_max(Some(-1), Some(1 << 20)).unwrap(),
        Some("max".into())
    );
    assert_eq!(swap_max(None, Some(1 << 20)).unwrap(), None);
    assert!(swap_max(Some(1 << 20), None).is_err());
    assert!(swap_max(Some(1 << 20), Some(2 << 20)).is_err());
}

#[test]
fn v2_order_and_values() {
    let r = Resources {
        memory_limit: Some(64 << 20),
        memory_swap: Some(96 << 20),
        memory_reservation: Some(32 << 20),
        cpu_shares: Some(1024),
        cpu_quota: Some(-1),
        cpu_period: Some(50000),
        cpu_burst: Some(0),
        cpu_idle: Some(1),
        cpus: Some("0-1".into()),
        mems: Some("0".into()),
        pids_limit: Some(9),
        blkio_weight: Some(500),
        blkio_throttle: vec![(BlkioThrottle::WriteIops, 7, 0, 50)],
        hugepages: vec![("2MB".into(), 2 << 20)],
        unified: BTreeMap::from([("memory.high".into(), "50000000".into())]),
        ..Resources::default()
    };
    let probe = Files(BTreeMap::from([("hugetlb.2MB.rsvd.max", "max")]));
    assert_eq!(
        lines(&r.v2_writes(&probe).unwrap()),
        [
            "pids/pids.max=9",
            "memory/memory.swap.max=33554432",
            "memory/memory.max=67108864",
            "memory/memory.low=33554432",
            "io/io.weight=default 4950",
            "io/io.max=7:0 wiops=50",
            "cpu/cpu.weight=39",
            "cpu/cpu.max=max 50000",
            "cpu/cpu.max.burst=0",
            "cpu/cpu.idle=1",
            "cpuset/cpuset.cpus=0-1",
            "cpuset/cpuset.mems=0",
            "hugetlb/hugetlb.2MB.max=2097152",
            "hugetlb/hugetlb.2MB.rsvd.max=2097152",
            "memory/memory.high=50000000",
        ]
    );
    let bfq = Files(BTreeMap::from([("io.bfq.weight", "default 100")]));
    let w = Resources {
        blkio_weight: Some(500),
        ..Resources::default()
    };
    assert_eq!(
        lines(&w.v2_writes(&bfq).unwrap()),
        ["io/io.bfq.weight=default 500"]
    );
}

#[test]
fn v2_refuses_what_it_cannot_express() {
    let cases: [(Resources, &str); 8] = [
        (
            Resources {
                memory_kernel: Some(1 << 20),
                ..Default::default()
            },
            "memory.kernel",
        ),
        (
            Resources {
                swappiness: Some(0),
                ..Default::default()
            },
            "memory.swappiness",
        ),
        (
            Resources {
                disable_oom_killer: Some(true),
                ..Default::default()
            },
            "memory.disableOOMKiller",
        ),
        (
            Resources {
                cpu_rt_runtime: Some(1000),
                ..Default::default()
            },
            "cpu.realtimeRuntime",
        ),
        (
            Resources {
                blkio_leaf_weight: Some(100),
                ..Default::default()
            },
            "blockIO.leafWeight",
        ),
        (
            Resources {
                net_class_id: Some(1),
                ..Default::default()
            },
            "network",
        ),
        (
            Resources {
                unified: BTreeMap::from([("cgroup.procs".into(), "1".into())]),
                ..Default::default()
            },
            "cgroup.procs",
        ),
        (
            Resources {
                unified: BTreeMap::from([("net_cls.classid".into(), "1".into())]),
                ..Default::default()
            },
            "net_cls",
        ),
    ];
    for (r, field) in cases {
        let e = r.v2_writes(&Files::default()).unwrap_err().to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
    // Explicitly harmless values pass.
    let ok = Resources {
        disable_oom_killer: Some(false),
        use_hierarchy: Some(true),
        memory_kernel: Some(0),
        ..Default::default()
    };
    assert!(ok.v2_writes(&Files::default()).unwrap().is_empty());
}

#[test]
fn validation_and_merge() {
    let bad: [(Resources, &str); 5] = [
        (
            Resources {
                swappiness: Some(101),
                ..Default::default()
            },
            "swappiness",
        ),
        (
            Resources {
                memory_limit: Some(100),
                memory_swap: Some(50),
                ..Default::default()
            },
            "memory.swap",
        ),
        (
            Resources {
                cpu_idle: Some(2),
                ..Default::default()
            },
            "cpu.idle",
        ),
        (
            Resources {
                blkio_weight: Some(5),
                ..Default::default()
            },
            "blockIO.weight",
        ),
        (
            Resources {
                hugepages: vec![("3MB".into(), 1)],
                ..Default::default()
            },
            "pageSize",
        ),
    ];
    for (r, what) in bad {
        let e = r.validate().unwrap_err().to_string();
        assert!(e.contains(what), "{what}: {e}");
    }
    let old = Resources {
        pids_limit: Some(5),
        blkio_throttle: vec![(BlkioThrottle::ReadBps, 8, 0, 1)],
        unified: BTreeMap::from([("memory.high".into(), "1".into())]),
        ..Default::default()
    };
    let new = Resources {
        memory_limit: Some(1),
        unified: BTreeMap::from([("pids.max".into(), "3".into())]),
        ..Default::default()
    };
    let m = old.merged(&new);
    assert_eq!((m.pids_limit, m.memory_limit), (Some(5), Some(1)));
    assert_eq!(m.blkio_throttle, old.blkio_throttle);
    assert_eq!(m.unified.len(), 2);
}
