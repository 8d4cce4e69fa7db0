//! Which ports a scan covers, and how people write them (`22,80,8000-8100`).

use serde::{Deserialize, Serialize};

/// The TCP ports a scan connects to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortSet {
    /// [`COMMON_PORTS`]: the ports where exposed services are usually found.
    #[default]
    Common,
    /// Every port, 1–65535.
    All,
    /// These ports (any order; repeats are scanned once).
    List(Vec<u16>),
}

/// About a hundred ports: the most often open in nmap's frequency table, minus historic
/// services nobody exposes any more (echo, daytime, finger, ...), plus the default ports of the
/// databases, brokers, container and cluster APIs and admin consoles that attack-surface scans
/// exist to find, since those are rare in a frequency table but are what hurts when exposed.
pub const COMMON_PORTS: [u16; 104] = [
    21, 22, 23, 25, 53, 80, 81, 88, 110, 111, 135, 139, 143, 161, 389, 443, 444, 445, 465, 513,
    514, 515, 548, 554, 587, 631, 636, 873, 990, 993, 995, 1080, 1194, 1433, 1521, 1723, 1883,
    2049, 2082, 2083, 2181, 2222, 2375, 2376, 2379, 3000, 3128, 3268, 3306, 3389, 4369, 4443, 4848,
    5000, 5001, 5060, 5432, 5601, 5671, 5672, 5800, 5900, 5901, 5984, 5985, 5986, 6000, 6379, 6443,
    7001, 7474, 8000, 8008, 8009, 8080, 8081, 8086, 8088, 8161, 8443, 8500, 8888, 9000, 9042, 9090,
    9092, 9100, 9200, 9300, 9418, 9443, 9999, 10000, 10250, 11211, 15672, 25565, 27017, 27018,
    28017, 50000, 50070, 61616, 8880,
];

impl PortSet {
    /// Parses a comma-separated list of ports and ranges (`22,80,8000-8100`), or `common`,
    /// or `all` (also written `-` or `1-65535`, as in nmap). Spaces around items are ignored.
    pub fn parse(text: &str) -> Result<PortSet, String> {
        let text = text.trim();
        match text.to_ascii_lowercase().as_str() {
            "" => return Err("no ports given".into()),
            "common" => return Ok(PortSet::Common),
            "all" | "-" => return Ok(PortSet::All),
            _ => {}
        }
        let mut ports = Vec::new();
        for item in text.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(format!("empty item in port list {text:?}"));
            }
            match item.split_once('-') {
                None => ports.push(port(item)?),
                Some((first, last)) => {
                    let (first, last) = (port(first.trim())?, port(last.trim())?);
                    if first > last {
                        return Err(format!("port range {item:?} runs backwards"));
                    }
                    ports.extend(first..=last);
                }
            }
        }
        ports.sort_unstable();
        ports.dedup();
        // One canonical form for "everything", however it was written.
        if ports.len() == usize::from(u16::MAX) {
            return Ok(PortSet::All);
        }
        Ok(PortSet::List(ports))
    }

    /// The ports to scan: sorted, without repeats, never port 0.
    pub fn ports(&self) -> Vec<u16> {
        match self {
            PortSet::Common => {
                let mut ports = COMMON_PORTS.to_vec();
                ports.sort_unstable();
                ports
            }
            PortSet::All => (1..=u16::MAX).collect(),
            PortSet::List(list) => {
                // Port 0 cannot be connected to; a list built in code might still hold it.
                let mut ports: Vec<u16> = list.iter().copied().filter(|p| *p != 0).collect();
                ports.sort_unstable();
                ports.dedup();
                ports
            }
        }
    }
}

fn port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) => Err("port 0 cannot be scanned".into()),
        Ok(port) => Ok(port),
        Err(_) => Err(format!("{text:?} is not a port (1-65535)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges_are_sorted_and_deduplicated() {
        assert_eq!(
            PortSet::parse("8080, 22,80,79-81"),
            Ok(PortSet::List(vec![22, 79, 80, 81, 8080]))
        );
        assert_eq!(PortSet::parse("443"), Ok(PortSet::List(vec![443])));
        assert_eq!(PortSet::parse("5-5"), Ok(PortSet::List(vec![5])));
        let range = PortSet::parse("8000-8100").unwrap();
        assert_eq!(range.ports().len(), 101);
        assert_eq!(range.ports().first(), Some(&8000));
        assert_eq!(range.ports().last(), Some(&8100));
    }

    #[test]
    fn keywords_and_full_ranges() {
        assert_eq!(PortSet::parse("common"), Ok(PortSet::Common));
        assert_eq!(PortSet::parse(" ALL "), Ok(PortSet::All));
        assert_eq!(PortSet::parse("-"), Ok(PortSet::All));
        assert_eq!(PortSet::parse("1-65535"), Ok(PortSet::All));
        assert_eq!(PortSet::parse("1-100,50-65535"), Ok(PortSet::All));
        assert_eq!(PortSet::All.ports().len(), 65_535);
        assert_eq!(PortSet::All.ports()[0], 1);
    }

    #[test]
    fn bad_lists_are_refused_with_a_reason() {
        for (text, reason) in [
            ("", "no ports given"),
            ("0", "port 0 cannot be scanned"),
            ("0-10", "port 0 cannot be scanned"),
            ("65536", "\"65536\" is not a port (1-65535)"),
            ("http", "\"http\" is not a port (1-65535)"),
            ("22,,80", "empty item in port list \"22,,80\""),
            ("22,", "empty item in port list \"22,\""),
            ("100-10", "port range \"100-10\" runs backwards"),
            ("1-2-3", "\"2-3\" is not a port (1-65535)"),
            ("-5", "\"\" is not a port (1-65535)"),
        ] {
            assert_eq!(PortSet::parse(text), Err(reason.to_owned()), "{text:?}");
        }
    }

    #[test]
    fn common_ports_are_unique_and_cover_the_exposures_we_report() {
        let ports = PortSet::Common.ports();
        assert_eq!(ports.len(), COMMON_PORTS.len(), "COMMON_PORTS has repeats");
        for wanted in [
            21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 465, 587, 993, 995, 1433,
            1521, 2375, 2376, 3000, 3306, 3389, 5000, 5432, 5672, 5900, 5984, 6379, 6443, 8000,
            8080, 8443, 9000, 9090, 9200, 9300, 11211, 15672, 27017,
        ] {
            assert!(ports.contains(&wanted), "{wanted} missing");
        }
        assert!(!ports.contains(&0));
    }

    #[test]
    fn lists_built_in_code_are_normalised() {
        assert_eq!(PortSet::List(vec![80, 0, 22, 80]).ports(), vec![22, 80]);
        assert_eq!(PortSet::default(), PortSet::Common);
    }
}
