//! Recognising a service by what it says first, before we send anything (SSH, SMTP, FTP,
//! POP3, IMAP, MySQL, VNC, Telnet, NATS). Pure functions over the bytes read so far.

use serde_json::Value;

use super::{Service, Verdict};

/// Judges the greeting read so far from `port`; `end` is true when no more bytes will come
/// (the peer closed, the wait ended or the buffer is full), and then the answer is final.
pub fn parse(port: u16, greeting: &[u8], end: bool) -> Verdict {
    if greeting.is_empty() {
        return if end { Verdict::Not } else { Verdict::More };
    }
    // Binary greetings first: their first bytes would never pass for a text line anyway.
    Verdict::first_of(
        RECOGNISERS
            .iter()
            .map(|recognise| recognise(port, greeting, end)),
    )
}

type Recogniser = fn(u16, &[u8], bool) -> Verdict;

const RECOGNISERS: [Recogniser; 6] = [ssh, vnc, telnet, mysql, nats, text_line];

/// `SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6` (RFC 4253 §4.2: `SSH-protoversion-softwareversion
/// SP comments CR LF`).
fn ssh(_port: u16, greeting: &[u8], end: bool) -> Verdict {
    if !starts_with_or_is_prefix(greeting, b"SSH-") {
        return Verdict::Not;
    }
    let Some(line) = first_line(greeting, end) else {
        return Verdict::More;
    };
    let Some(rest) = line.strip_prefix("SSH-") else {
        return Verdict::Not;
    };
    // The protocol version ("2.0", "1.99"), then the software version up to the first space.
    let Some((_protocol, software)) = rest.split_once('-') else {
        return Verdict::Not;
    };
    let software = software.split(' ').next().unwrap_or_default();
    let (product, version) = split_software(software);
    Verdict::Is(Service::new("ssh", product, version))
}

/// `OpenSSH_8.9p1` → (OpenSSH, 8.9p1); `Cisco-1.25` → (Cisco, 1.25); `dropbear` → (dropbear).
fn split_software(software: &str) -> (Option<String>, Option<String>) {
    if software.is_empty() {
        return (None, None);
    }
    let split = software.split_once('_').or_else(|| {
        software
            .rsplit_once('-')
            .filter(|(_, version)| version.starts_with(|c: char| c.is_ascii_digit()))
    });
    match split {
        Some((product, version)) if !product.is_empty() && !version.is_empty() => {
            (Some(product.to_owned()), Some(version.to_owned()))
        }
        _ => (Some(software.to_owned()), None),
    }
}

/// `RFB 003.008\n`: the RFB (VNC) protocol version, reported as `3.8`.
fn vnc(_port: u16, greeting: &[u8], _end: bool) -> Verdict {
    if !starts_with_or_is_prefix(greeting, b"RFB ") {
        return Verdict::Not;
    }
    if greeting.len() < 12 {
        return Verdict::More;
    }
    let text = String::from_utf8_lossy(&greeting[4..11]);
    let version = text.split_once('.').and_then(|(major, minor)| {
        let major: u32 = major.parse().ok()?;
        let minor: u32 = minor.parse().ok()?;
        Some(format!("{major}.{minor}"))
    });
    match version {
        Some(version) => Verdict::Is(Service::new("vnc", None, Some(version))),
        None => Verdict::Not,
    }
}

/// Telnet servers open with option negotiation: IAC (255) then WILL, WONT, DO or DONT.
fn telnet(_port: u16, greeting: &[u8], _end: bool) -> Verdict {
    match greeting {
        [0xff] => Verdict::More,
        [0xff, 0xfb..=0xfe, ..] => Verdict::Is(Service::new("telnet", None, None)),
        _ => Verdict::Not,
    }
}

/// The MySQL/MariaDB initial handshake packet: a 3-byte little-endian length, sequence 0,
/// protocol version 10 and the NUL-terminated server version; or, when the server refuses
/// our address ("Host ... is not allowed to connect"), an error packet (0xff).
fn mysql(_port: u16, greeting: &[u8], end: bool) -> Verdict {
    if greeting.len() < 5 {
        return if end { Verdict::Not } else { Verdict::More };
    }
    let len =
        usize::from(greeting[0]) | usize::from(greeting[1]) << 8 | usize::from(greeting[2]) << 16;
    if greeting[3] != 0 || len == 0 || len > 1024 {
        return Verdict::Not;
    }
    match greeting[4] {
        10 => {
            let version_bytes = &greeting[5..];
            let Some(nul) = version_bytes.iter().position(|b| *b == 0) else {
                let wait = !end && version_bytes.len() < 64;
                return if wait { Verdict::More } else { Verdict::Not };
            };
            let Ok(version) = std::str::from_utf8(&version_bytes[..nul]) else {
                return Verdict::Not;
            };
            if !version.starts_with(|c: char| c.is_ascii_digit())
                || !version.chars().all(|c| c.is_ascii_graphic())
            {
                return Verdict::Not;
            }
            Verdict::Is(mysql_version(version))
        }
        0xff => {
            if greeting.len() < 4 + len {
                return if end { Verdict::Not } else { Verdict::More };
            }
            let payload = &greeting[4..4 + len];
            let code = payload.get(1..3).map(|b| u16::from_le_bytes([b[0], b[1]]));
            let message = String::from_utf8_lossy(payload.get(3..).unwrap_or_default());
            // 1040 too many connections, 1129 host blocked, 1130 host not allowed.
            let known_code = matches!(code, Some(1040 | 1129 | 1130));
            if known_code || message.contains("MySQL") || message.contains("MariaDB") {
                Verdict::Is(Service::new("mysql", None, None))
            } else {
                Verdict::Not
            }
        }
        _ => Verdict::Not,
    }
}

/// MariaDB prefixes its version with `5.5.5-` for old clients: `5.5.5-10.6.12-MariaDB-1` is
/// MariaDB 10.6.12. A MySQL version is kept as sent (`8.0.36-0ubuntu0.22.04.1`).
fn mysql_version(version: &str) -> Service {
    if let Some(at) = version.find("-MariaDB") {
        let number = version[..at].trim_start_matches("5.5.5-");
        return Service::new("mysql", Some("MariaDB".into()), Some(number.to_owned()));
    }
    Service::new("mysql", Some("MySQL".into()), Some(version.to_owned()))
}

/// NATS servers greet with `INFO {json}`: their id, name and version.
fn nats(_port: u16, greeting: &[u8], end: bool) -> Verdict {
    if !starts_with_or_is_prefix(greeting, b"INFO {") {
        return Verdict::Not;
    }
    let Some(line) = first_line(greeting, end) else {
        return Verdict::More;
    };
    let info: Option<Value> = line
        .strip_prefix("INFO ")
        .and_then(|json| serde_json::from_str(json).ok());
    match info {
        Some(info) if info.get("server_id").is_some() => {
            let version = info
                .get("version")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Verdict::Is(Service::new("nats", Some("NATS".into()), version))
        }
        _ => Verdict::Not,
    }
}

const FTP_PORTS: [u16; 3] = [21, 990, 2121];
const SMTP_PORTS: [u16; 4] = [25, 465, 587, 2525];

/// Products named in text greetings, with the canonical spelling reported.
const SMTP_PRODUCTS: [&str; 7] = [
    "Postfix",
    "Exim",
    "Sendmail",
    "OpenSMTPD",
    "Haraka",
    "qmail",
    "Microsoft ESMTP MAIL Service",
];
const FTP_PRODUCTS: [&str; 6] = [
    "vsFTPd",
    "ProFTPD",
    "Pure-FTPd",
    "FileZilla Server",
    "Microsoft FTP Service",
    "Serv-U",
];
const MAIL_PRODUCTS: [&str; 4] = ["Dovecot", "Cyrus", "Courier", "Zimbra"];

/// Line-oriented greetings: `220` (SMTP, FTP), `+OK` (POP3), `* OK` (IMAP).
fn text_line(port: u16, greeting: &[u8], end: bool) -> Verdict {
    let Some(line) = first_line(greeting, end) else {
        return Verdict::More;
    };
    let all = String::from_utf8_lossy(greeting);
    let lower = all.to_ascii_lowercase();
    if line.starts_with("220 ") || line.starts_with("220-") {
        // Both say 220 first; the greeting names the protocol more often than not, and the
        // port decides when it does not.
        let smtp = lower.contains("smtp") || (!lower.contains("ftp") && SMTP_PORTS.contains(&port));
        let ftp = !smtp && (lower.contains("ftp") || FTP_PORTS.contains(&port));
        return if smtp {
            Verdict::Is(with_product("smtp", &all, &SMTP_PRODUCTS))
        } else if ftp {
            Verdict::Is(with_product("ftp", &all, &FTP_PRODUCTS))
        } else {
            Verdict::Not
        };
    }
    if line.starts_with("+OK") {
        return Verdict::Is(with_product("pop3", &all, &MAIL_PRODUCTS));
    }
    if line.starts_with("* OK") || line.starts_with("* PREAUTH") {
        return Verdict::Is(with_product("imap", &all, &MAIL_PRODUCTS));
    }
    Verdict::Not
}

/// The service, with the first of `products` the text names and the version written right
/// after it (`vsFTPd 3.0.3`, `Exim 4.96`), if any.
fn with_product(name: &'static str, text: &str, products: &[&str]) -> Service {
    let lower = text.to_ascii_lowercase();
    for product in products {
        let Some(at) = lower.find(&product.to_ascii_lowercase()) else {
            continue;
        };
        let after = &text[at + product.len()..];
        let version = after
            .split_whitespace()
            .next()
            .map(|word| word.trim_end_matches([')', ']', ',', ';', '.']))
            .filter(|word| word.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_owned);
        return Service::new(name, Some((*product).to_owned()), version);
    }
    Service::new(name, None, None)
}

/// The first line without its line end, once it is complete (or at the end, whatever came).
/// `None` while it may still grow.
pub(super) fn first_line(bytes: &[u8], end: bool) -> Option<String> {
    let line = match bytes.iter().position(|b| *b == b'\n') {
        Some(at) => &bytes[..at],
        None if end => bytes,
        None => return None,
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some(String::from_utf8_lossy(line).into_owned())
}

/// Whether `bytes` starts with `prefix`, or is a start of it (so more bytes may still match).
pub(super) fn starts_with_or_is_prefix(bytes: &[u8], prefix: &[u8]) -> bool {
    let n = bytes.len().min(prefix.len());
    bytes[..n] == prefix[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(port: u16, greeting: &[u8]) -> Option<Service> {
        match parse(port, greeting, false) {
            Verdict::Is(service) => Some(service),
            Verdict::Not => None,
            Verdict::More => match parse(port, greeting, true) {
                Verdict::Is(service) => Some(service),
                Verdict::Not => None,
                Verdict::More => panic!("More at the end"),
            },
        }
    }

    fn named(name: &'static str, product: Option<&str>, version: Option<&str>) -> Service {
        Service::new(name, product.map(str::to_owned), version.map(str::to_owned))
    }

    #[test]
    fn ssh_banners_name_the_software() {
        for (banner, product, version) in [
            (
                &b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n"[..],
                Some("OpenSSH"),
                Some("8.9p1"),
            ),
            (
                b"SSH-2.0-dropbear_2022.83\r\n",
                Some("dropbear"),
                Some("2022.83"),
            ),
            (b"SSH-1.99-Cisco-1.25\r\n", Some("Cisco"), Some("1.25")),
            (b"SSH-2.0-Go\r\n", Some("Go"), None),
            (b"SSH-2.0-\r\n", None, None),
        ] {
            assert_eq!(
                service(22, banner),
                Some(named("ssh", product, version)),
                "{banner:?}"
            );
        }
    }

    #[test]
    fn an_unfinished_line_waits_for_more() {
        assert_eq!(parse(22, b"SSH-2.0-Open", false), Verdict::More);
        assert_eq!(parse(22, b"SS", false), Verdict::More);
        assert_eq!(parse(25, b"220 mail.exa", false), Verdict::More);
        assert_eq!(parse(22, b"", false), Verdict::More);
        assert_eq!(parse(22, b"", true), Verdict::Not);
        // At the end, an unfinished SSH line is judged as it is.
        assert_eq!(
            parse(22, b"SSH-2.0-OpenSSH_9.6", true),
            Verdict::Is(named("ssh", Some("OpenSSH"), Some("9.6")))
        );
    }

    #[test]
    fn smtp_and_ftp_share_220_and_are_told_apart() {
        assert_eq!(
            service(25, b"220 mail.example.com ESMTP Postfix (Ubuntu)\r\n"),
            Some(named("smtp", Some("Postfix"), None))
        );
        assert_eq!(
            service(
                2525,
                b"220 mx.example.com ESMTP Exim 4.96 Mon, 01 Jan 2024 00:00:00 +0000\r\n"
            ),
            Some(named("smtp", Some("Exim"), Some("4.96")))
        );
        assert_eq!(
            service(21, b"220 (vsFTPd 3.0.3)\r\n"),
            Some(named("ftp", Some("vsFTPd"), Some("3.0.3")))
        );
        assert_eq!(
            service(
                2121,
                b"220 ProFTPD 1.3.5e Server (Debian) [::ffff:10.0.0.1]\r\n"
            ),
            Some(named("ftp", Some("ProFTPD"), Some("1.3.5e")))
        );
        assert_eq!(
            service(21, b"220-Welcome\r\n220 Microsoft FTP Service\r\n"),
            Some(named("ftp", Some("Microsoft FTP Service"), None))
        );
        // No keyword: the port decides, and elsewhere we do not guess.
        assert_eq!(
            service(21, b"220 ready\r\n"),
            Some(named("ftp", None, None))
        );
        assert_eq!(
            service(587, b"220 ready\r\n"),
            Some(named("smtp", None, None))
        );
        assert_eq!(service(4000, b"220 ready\r\n"), None);
    }

    #[test]
    fn mail_retrieval_greetings() {
        assert_eq!(
            service(110, b"+OK Dovecot ready.\r\n"),
            Some(named("pop3", Some("Dovecot"), None))
        );
        assert_eq!(
            service(
                143,
                b"* OK [CAPABILITY IMAP4rev1 LITERAL+] Dovecot (Ubuntu) ready.\r\n"
            ),
            Some(named("imap", Some("Dovecot"), None))
        );
    }

    /// A real MySQL 8 greeting, cut after the version and a few more bytes.
    const MYSQL_GREETING: &[u8] = b"J\x00\x00\x00\x0a8.0.36-0ubuntu0.22.04.1\x00\x0b\x00\x00\x00";

    #[test]
    fn mysql_handshake_gives_the_version() {
        assert_eq!(
            service(3306, MYSQL_GREETING),
            Some(named(
                "mysql",
                Some("MySQL"),
                Some("8.0.36-0ubuntu0.22.04.1")
            ))
        );
        let mariadb = b"Y\x00\x00\x00\x0a5.5.5-10.6.12-MariaDB-0ubuntu0.22.04.1\x00";
        assert_eq!(
            service(3306, mariadb),
            Some(named("mysql", Some("MariaDB"), Some("10.6.12")))
        );
        // Partial: the version has not ended yet.
        assert_eq!(parse(3306, &MYSQL_GREETING[..9], false), Verdict::More);
    }

    #[test]
    fn mysql_refusing_our_address_is_still_mysql() {
        let message = b"Host '203.0.113.9' is not allowed to connect to this MySQL server";
        let mut packet = vec![u8::try_from(message.len() + 3).unwrap(), 0, 0, 0, 0xff];
        packet.extend_from_slice(&1130u16.to_le_bytes());
        packet.extend_from_slice(message);
        assert_eq!(service(3306, &packet), Some(named("mysql", None, None)));
    }

    #[test]
    fn vnc_and_telnet() {
        assert_eq!(
            service(5900, b"RFB 003.008\n"),
            Some(named("vnc", None, Some("3.8")))
        );
        assert_eq!(parse(5900, b"RFB 003", false), Verdict::More);
        assert_eq!(
            service(23, &[0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20]),
            Some(named("telnet", None, None))
        );
        assert_eq!(parse(23, &[0xff], false), Verdict::More);
    }

    #[test]
    fn nats_info() {
        let info = b"INFO {\"server_id\":\"NC7CVYRN\",\"server_name\":\"NC7CVYRN\",\
            \"version\":\"2.9.10\",\"proto\":1,\"go\":\"go1.19.8\",\"port\":4222} \r\n";
        assert_eq!(
            service(4222, info),
            Some(named("nats", Some("NATS"), Some("2.9.10")))
        );
        assert_eq!(parse(4222, b"INFO {\"server_id\":", false), Verdict::More);
        assert_eq!(service(4222, b"INFO {not json}\r\n"), None);
    }

    #[test]
    fn unknown_greetings_are_not_guessed() {
        assert_eq!(service(9999, b"hello there\r\n"), None);
        assert_eq!(service(9999, &[0x00, 0x01, 0x02, 0x03, 0x04, 0x05]), None);
        assert_eq!(parse(9999, b"-ERR unknown\r\n", false), Verdict::Not);
    }
}
