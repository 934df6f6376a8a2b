//! runc-compatible log lines. With `--log-format json` each message is one
//! line `{"level":"error","msg":"...","time":"..."}`, which containerd's
//! runc shim and conmon read back to show the last error.

use std::fmt;
use std::fs::OpenOptions;
use std::sync::Mutex;

use anyhow::{bail, Context};
use liboci_cli::GlobalOpts;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Copy)]
enum Format {
    Text,
    Json,
}

struct RuncFormat(Format);

/// Collects the `message` field of an event.
#[derive(Default)]
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

impl<S, N> FormatEvent<S, N> for RuncFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut msg = Message::default();
        event.record(&mut msg);
        let time = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
        let level = level_name(event.metadata().level());
        match self.0 {
            Format::Json => {
                let line = serde_json::json!({"level": level, "msg": msg.0, "time": time});
                writeln!(w, "{line}")
            }
            Format::Text => writeln!(w, "time={time:?} level={level} msg={:?}", msg.0),
        }
    }
}

/// Sets up the global subscriber from `--log`, `--log-format`, `--debug`.
pub fn init(opts: &GlobalOpts) -> anyhow::Result<()> {
    let format = match opts.log_format.as_deref() {
        None | Some("text") => Format::Text,
        Some("json") => Format::Json,
        Some(other) => bail!("unknown --log-format {other:?}: use text or json"),
    };
    let level = if opts.debug {
        Level::DEBUG
    } else {
        Level::WARN
    };
    let builder = tracing_subscriber::fmt()
        .event_format(RuncFormat(format))
        .with_max_level(level);
    match &opts.log {
        Some(path) if path.as_os_str() != "/dev/stderr" => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening log file {}", path.display()))?;
            builder.with_writer(Mutex::new(file)).init();
        }
        _ => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}
