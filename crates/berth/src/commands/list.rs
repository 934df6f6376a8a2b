use std::path::Path;

use anyhow::bail;

use crate::cli::List;

/// runc's `list`: a tab-aligned table, the ids only, or a JSON array
/// (`null` when empty, as runc prints it).
pub fn list(root: &Path, l: &List) -> anyhow::Result<()> {
    let containers = berth_container::list(root)?;
    if l.quiet {
        for (s, _) in &containers {
            println!("{}", s.id);
        }
        return Ok(());
    }
    match l.format.as_str() {
        "json" => {
            let v: Vec<_> = containers.iter().map(|(s, st)| s.spec_state(*st)).collect();
            if v.is_empty() {
                println!("null");
            } else {
                println!("{}", serde_json::to_string(&v)?);
            }
        }
        "table" => {
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut rows = vec![header.to_vec()];
            for (s, st) in &containers {
                let v = s.spec_state(*st);
                rows.push(vec![
                    s.id.clone(),
                    v.pid.to_string(),
                    st.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    s.owner.clone(),
                ]);
            }
            print!("{}", table(&rows));
        }
        other => bail!("invalid --format {other:?}: use table or json"),
    }
    Ok(())
}

/// Columns padded to the widest cell plus one space, like Go's tabwriter
/// with runc's settings (min width 12, padding 1).
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0).max(11) + 1)
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: String = r
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i + 1 == cols {
                    cell.clone()
                } else {
                    format!("{cell:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_pads_columns() {
        let rows = vec![
            vec!["ID".to_string(), "PID".into()],
            vec!["a-long-container-id".into(), "7".into()],
        ];
        let t = super::table(&rows);
        assert_eq!(t, "ID                  PID\na-long-container-id 7\n");
    }
}
