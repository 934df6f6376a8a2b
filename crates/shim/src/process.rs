//! What the shim knows of each process of its container: the init
//! process and the exec'd ones.

use std::time::SystemTime;

use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::MessageField;
use containerd_shim::protos::types::task::Status;

use crate::stdio::{IoState, StdioPaths};

pub struct Process {
    /// 0 until the runtime has started (exec) or created (init) it.
    pub pid: i32,
    pub status: Status,
    pub stdio: StdioPaths,
    pub io: IoState,
    /// (exit code, when), once reaped.
    pub exit: Option<(u32, SystemTime)>,
    /// An exec's process.json, kept until it is started.
    pub spec: Vec<u8>,
}

impl Process {
    pub fn new(stdio: StdioPaths) -> Self {
        Process {
            pid: 0,
            status: Status::CREATED,
            stdio,
            io: IoState::default(),
            exit: None,
            spec: Vec::new(),
        }
    }

    pub fn exited(&mut self, code: i32) {
        self.status = Status::STOPPED;
        self.exit = Some((code as u32, SystemTime::now()));
        // Nothing more goes to a process that has gone.
        self.io.close_stdin();
    }

    pub fn exit_code(&self) -> u32 {
        self.exit.map_or(0, |(c, _)| c)
    }

    pub fn exited_at(&self) -> MessageField<Timestamp> {
        match self.exit {
            Some((_, t)) => MessageField::some(timestamp(t)),
            None => MessageField::none(),
        }
    }
}

pub fn timestamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
        ..Timestamp::default()
    }
}
