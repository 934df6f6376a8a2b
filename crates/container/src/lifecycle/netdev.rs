//! The network interfaces of a container's network namespace, for
//! `events`: `/proc/<init>/net/dev` shows the namespace of that process.
//! Field names as runc's `network_interfaces` entries.

use serde::Serialize;

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// The interfaces of `pid`'s network namespace; empty if it is gone.
pub fn interfaces(pid: i32) -> Vec<Interface> {
    std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|t| parse(&t))
        .unwrap_or_default()
}

/// `net/dev`: two header lines, then "name: 8 receive and 8 transmit
/// counters" (bytes, packets, errs, drop, ...).
fn parse(text: &str) -> Vec<Interface> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let n: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            (n.len() >= 16).then(|| Interface {
                name: name.trim().to_string(),
                rx_bytes: n[0],
                rx_packets: n[1],
                rx_errors: n[2],
                rx_dropped: n[3],
                tx_bytes: n[8],
                tx_packets: n[9],
                tx_errors: n[10],
                tx_dropped: n[11],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_net_dev() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n    lo:    9579      87    1    2    0     0          0         0     9000      80    3    4    0     0       0          0\n";
        let i = super::parse(text);
        assert_eq!(i.len(), 1);
        assert_eq!(
            (
                i[0].name.as_str(),
                i[0].rx_bytes,
                i[0].rx_packets,
                i[0].rx_errors,
                i[0].rx_dropped
            ),
            ("lo", 9579, 87, 1, 2)
        );
        assert_eq!(
            (
                i[0].tx_bytes,
                i[0].tx_packets,
                i[0].tx_errors,
                i[0].tx_dropped
            ),
            (9000, 80, 3, 4)
        );
    }
}
