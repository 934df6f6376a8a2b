//! Command-line definitions: liboci-cli's structs where they match runc,
//! our own where runc accepts more (kill's default signal, list's `-f`).

use clap::{Args, Parser};
use liboci_cli::GlobalOpts;

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    about = "An OCI container runtime",
    after_help = COMMANDS,
    disable_version_flag = true,
    // liboci-cli's own help speaks of youki and a --log-level flag.
    mut_arg("log", |a| a.help("Log file (default: stderr)")),
    mut_arg("debug", |a| a.help("Log at debug level")),
    mut_arg("log_format", |a| a.help("Log format: text (default) or json, as runc writes them")),
    mut_arg("root", |a| a.help("State directory (default: /run/berth)")),
    mut_arg("systemd_cgroup", |a| a.help("The systemd cgroup driver (not supported yet)"))
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    /// Print the version (runc-style lines)
    #[arg(short = 'v', long = "version", global = true)]
    pub version: bool,
    /// runc's cgroup-permission mode (true, false, auto): accepted; berth
    /// always reports cgroup errors
    #[arg(long, value_name = "true|false|auto")]
    pub rootless: Option<String>,
    /// Path to criu: accepted; checkpoint/restore are not supported yet
    #[arg(long, value_name = "PATH")]
    pub criu: Option<String>,
    /// The command and its arguments, parsed by [`parse_command`].
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub rest: Vec<String>,
}

/// The commands, each parsed on its own: building clap's parser for every
/// command on every run costs start-up time and resident memory (RSS is
/// a benchmark target), so only the one asked for is built.
#[derive(Debug)]
pub enum Command {
    /// Create a container
    Create(liboci_cli::Create),
    /// Run the user process of a created container
    Start(liboci_cli::Start),
    /// Print the state of a container as JSON
    State(liboci_cli::State),
    /// Send a signal to a container's init (default SIGTERM)
    Kill(Kill),
    /// Delete a container
    Delete(liboci_cli::Delete),
    /// Create and start a container, and wait for it unless detached
    Run(liboci_cli::Run),
    /// List containers
    List(List),
    /// Write a default config.json
    Spec(liboci_cli::Spec),
    /// Run a process in a created or running container
    Exec(liboci_cli::Exec),
    /// List the processes of a container
    Ps(liboci_cli::Ps),
    /// Freeze every process of a container
    Pause(liboci_cli::Pause),
    /// Thaw a paused container
    Resume(liboci_cli::Resume),
    /// Print the features this build supports (runtime-spec features JSON)
    Features(liboci_cli::Features),
    /// Change a container's memory, cpu and pids limits
    Update(Update),
    /// Print resource statistics and OOM events of a container
    Events(Events),
    Other(Vec<String>),
}

/// Builds and runs the parser of one command.
fn one<T: Args + clap::FromArgMatches>(
    name: &'static str,
    about: &'static str,
    argv: &[String],
) -> Result<T, clap::Error> {
    // The struct's own doc would become the about text; ours replaces it.
    let cmd = T::augment_args(clap::Command::new(name))
        .about(about)
        .bin_name(format!("berth {name}"));
    T::from_arg_matches(&cmd.try_get_matches_from(argv)?)
}

/// Parses `COMMAND ARGS...` (what follows the global flags).
pub fn parse_command(argv: &[String]) -> Result<Command, clap::Error> {
    let name = argv.first().map(String::as_str).unwrap_or_default();
    Ok(match name {
        "create" => Command::Create(one("create", "Create a container", argv)?),
        "start" => Command::Start(one(
            "start",
            "Run the user process of a created container",
            argv,
        )?),
        "state" => Command::State(one(
            "state",
            "Print the state of a container as JSON",
            argv,
        )?),
        "kill" => Command::Kill(one(
            "kill",
            "Send a signal to a container's init (default SIGTERM)",
            argv,
        )?),
        "delete" => Command::Delete(one("delete", "Delete a container", argv)?),
        "run" => Command::Run(one(
            "run",
            "Create and start a container, and wait for it unless detached",
            argv,
        )?),
        "list" => Command::List(one("list", "List containers", argv)?),
        "spec" => Command::Spec(one("spec", "Write a default config.json", argv)?),
        "exec" => Command::Exec(one(
            "exec",
            "Run a process in a created or running container",
            argv,
        )?),
        "ps" => Command::Ps(one("ps", "List the processes of a container", argv)?),
        "pause" => Command::Pause(one("pause", "Freeze every process of a container", argv)?),
        "resume" => Command::Resume(one("resume", "Thaw a paused container", argv)?),
        "features" => Command::Features(one(
            "features",
            "Print the features this build supports",
            argv,
        )?),
        "update" => Command::Update(one(
            "update",
            "Change a container's memory, cpu and pids limits",
            argv,
        )?),
        "events" => Command::Events(one(
            "events",
            "Print resource statistics and OOM events of a container",
            argv,
        )?),
        _ => Command::Other(argv.to_vec()),
    })
}

/// The command list for `berth --help`.
pub const COMMANDS: &str = "Commands:
  create    Create a container
  start     Run the user process of a created container
  state     Print the state of a container as JSON
  kill      Send a signal to a container's init (default SIGTERM)
  delete    Delete a container
  run       Create and start a container, and wait for it unless detached
  list      List containers
  spec      Write a default config.json
  exec      Run a process in a created or running container
  ps        List the processes of a container
  pause     Freeze every process of a container
  resume    Thaw a paused container
  update    Change a container's memory, cpu and pids limits
  events    Print resource statistics and OOM events of a container
  features  Print the features this build supports (runtime-spec features JSON)

`berth COMMAND --help` describes a command.";

/// runc's `events` flags; the interval takes runc's units (`5s`,
/// `500ms`) or plain seconds, where liboci-cli takes seconds only.
#[derive(Args, Debug)]
pub struct Events {
    /// Statistics interval (e.g. 5s, 500ms; a plain number is seconds)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Print the statistics once and exit
    #[arg(long)]
    pub stats: bool,
    pub container_id: String,
}

#[derive(Args, Debug)]
pub struct Kill {
    pub container_id: String,
    /// Signal name (with or without SIG) or number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
    /// Send the signal to every process in the container
    #[arg(short, long)]
    pub all: bool,
}

/// runc's `update` flags. liboci-cli's version takes plain numbers only
/// and an unsigned quota; runc accepts `512m` and `-1`.
#[derive(Args, Debug)]
pub struct Update {
    /// A linux.resources JSON file (`-` for stdin)
    #[arg(short, long)]
    pub resources: Option<std::path::PathBuf>,
    /// Memory limit (bytes, or with a k/m/g/t suffix; -1 for none)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long)]
    pub cpu_share: Option<u64>,
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpu_period: Option<u64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10 to 1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Kernel memory limit (cgroup v1 only; refused where the kernel ignores it)
    #[arg(long, allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// 1 to make the container's cgroup SCHED_IDLE, 0 to undo
    #[arg(long)]
    pub cpu_idle: Option<i64>,
    #[arg(long)]
    pub cpu_burst: Option<u64>,
    /// Intel RDT (refused: not supported yet)
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    pub container_id: String,
}

#[derive(Args, Debug)]
pub struct List {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Print only the ids
    #[arg(short, long)]
    pub quiet: bool,
}

/// runc's `--version` layout: version, commit, spec.
pub fn version_text() -> String {
    format!(
        "berth version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("BERTH_COMMIT"),
        berth_container::OCI_VERSION
    )
}
