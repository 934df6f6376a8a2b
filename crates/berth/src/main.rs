//! `berth`: an OCI runtime with runc's command line. This crate only
//! parses, calls one library function per command, prints, and turns
//! errors into one log line and a non-zero exit status.

mod cli;
mod commands;
mod logging;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if cli.version {
        print!("{}", cli::version_text());
        return ExitCode::SUCCESS;
    }
    let log_to_file = cli.global.log.is_some();
    if let Some(v) = cli
        .rootless
        .as_deref()
        .filter(|v| !matches!(*v, "true" | "false" | "auto"))
    {
        eprintln!("berth: --rootless {v:?}: use true, false or auto");
        return ExitCode::FAILURE;
    }
    if let Err(e) = logging::init(&cli.global) {
        eprintln!("berth: {e:#}");
        return ExitCode::FAILURE;
    }
    if cli.rest.is_empty() {
        eprintln!("berth: no command given; see berth --help");
        return ExitCode::FAILURE;
    }
    // Prints usage or help and exits, as clap does for the top level.
    let command = cli::parse_command(&cli.rest).unwrap_or_else(|e| e.exit());
    match commands::dispatch(command, &cli.global) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // The single place errors are reported: the log (which engines
            // read as JSON), and stderr too when the log is a file.
            tracing::error!("{e:#}");
            if log_to_file {
                eprintln!("berth: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}
