//! One function per subcommand: options in, library call, output.

mod create;
mod exec;
mod list;
mod ps;
mod run;
mod simple;
mod spec;
mod update;

use std::path::PathBuf;

use anyhow::bail;
use liboci_cli::GlobalOpts;

use crate::cli::Command;

/// runc's default state root.
const DEFAULT_ROOT: &str = "/run/berth";

pub fn root(g: &GlobalOpts) -> PathBuf {
    g.root
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT))
}

/// `events`: JSON lines on stdout, flushed one by one.
fn events(root: &std::path::Path, e: &crate::cli::Events) -> anyhow::Result<()> {
    use std::io::Write;
    let interval = match e.interval.parse::<u64>() {
        Ok(secs) => std::time::Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(&e.interval)
            .map_err(|err| anyhow::anyhow!("--interval {:?}: {err}", e.interval))?,
    };
    if interval.is_zero() {
        bail!("--interval must be more than zero");
    }
    let mut stdout = std::io::stdout();
    berth_container::events(root, &e.container_id, interval, e.stats, &mut |v| {
        writeln!(stdout, "{v}")?;
        stdout.flush()
    })?;
    Ok(())
}

/// Runs one command; the value is the process exit status.
pub fn dispatch(cmd: Command, g: &GlobalOpts) -> anyhow::Result<u8> {
    if g.systemd_cgroup {
        bail!("--systemd-cgroup: the systemd cgroup driver is not supported yet");
    }
    let root = root(g);
    match cmd {
        Command::Create(c) => create::create(&root, c).map(|_| 0),
        Command::Run(r) => run::run(&root, r),
        Command::Start(s) => simple::start(&root, &s.container_id).map(|_| 0),
        Command::State(s) => simple::state(&root, &s.container_id).map(|_| 0),
        Command::Kill(k) => simple::kill(&root, &k).map(|_| 0),
        Command::Delete(d) => simple::delete(&root, &d.container_id, d.force).map(|_| 0),
        Command::List(l) => list::list(&root, &l).map(|_| 0),
        Command::Spec(s) => spec::spec(&s).map(|_| 0),
        Command::Exec(e) => exec::exec(&root, e),
        Command::Update(u) => update::update(&root, &u).map(|_| 0),
        Command::Pause(p) => simple::pause(&root, &p.container_id).map(|_| 0),
        Command::Resume(r) => simple::resume(&root, &r.container_id).map(|_| 0),
        Command::Ps(p) => ps::ps(&root, &p).map(|_| 0),
        Command::Events(e) => events(&root, &e).map(|_| 0),
        Command::Features(_) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&berth_container::features::features())?
            );
            Ok(0)
        }
        Command::Other(args) => {
            let name = args.first().map(String::as_str).unwrap_or_default();
            let known = ["checkpoint", "restore"];
            if known.contains(&name) {
                bail!("the {name:?} command is not supported yet");
            }
            bail!("unknown command {name:?}; see berth --help")
        }
    }
}
