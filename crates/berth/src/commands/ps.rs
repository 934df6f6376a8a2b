use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

/// runc's `ps`: `json` prints the pid list; `table` runs the host's `ps`
/// with the given arguments (default `-ef`) and keeps the header and the
/// rows of the container's processes.
pub fn ps(root: &Path, p: &liboci_cli::Ps) -> anyhow::Result<()> {
    let pids = berth_container::pids(root, &p.container_id)?;
    match p.format.as_str() {
        "json" => println!("{}", serde_json::to_string(&pids)?),
        "table" => {
            let args = if p.ps_options.is_empty() {
                vec!["-ef".to_string()]
            } else {
                p.ps_options.clone()
            };
            let out = Command::new("ps")
                .args(&args)
                .output()
                .context("running ps")?;
            if !out.status.success() {
                bail!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            print!(
                "{}",
                filter_rows(&String::from_utf8_lossy(&out.stdout), &pids)?
            );
        }
        other => bail!("invalid --format {other:?}: use table or json"),
    }
    Ok(())
}

/// The header and the rows whose PID column is one of `pids`.
fn filter_rows(table: &str, pids: &[i32]) -> anyhow::Result<String> {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
        bail!("ps output has no PID column");
    };
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_header_and_container_rows() {
        let t = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 1 other\n";
        assert_eq!(
            super::filter_rows(t, &[42]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sleep\n"
        );
        assert!(super::filter_rows("UID CMD\n", &[1]).is_err());
    }
}
