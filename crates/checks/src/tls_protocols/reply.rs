//! What a server answered to a hand-made ClientHello: a ServerHello (the version and suite it
//! chose), an alert, the connection closed, or something that is not TLS. Pure functions of
//! the bytes read so far, so every case is tested on fixtures.

use super::hello::{HANDSHAKE, TLS12, TLS13};

pub const ALERT: u8 = 0x15;
const SERVER_HELLO: u8 = 2;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
/// The largest record a peer may send (2^14 plus the allowed expansion).
const MAX_RECORD: usize = (1 << 14) + 2048;
/// A ServerHello is a few hundred bytes; one claiming more is not one.
const MAX_SERVER_HELLO: usize = 1 << 14;
/// SHA-256 of "HelloRetryRequest": the random of a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3).
const RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The server's choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerHello {
    /// The version negotiated: `supported_versions` when present (TLS 1.3), else the
    /// legacy version field.
    pub version: u16,
    pub suite: u16,
    /// A TLS 1.3 HelloRetryRequest: the server chose, and asks for a key share.
    pub retry: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Hello(ServerHello),
    /// The server refused with an alert (level, description).
    Alert {
        level: u8,
        description: u8,
    },
    /// The connection ended before an answer: how many servers refuse a version.
    Closed,
    /// The bytes are not a TLS answer, and why.
    NotTls(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The answer is not complete yet.
    More,
    Done(Reply),
}

/// Judges the bytes a server sent so far; `end` when it will send no more.
pub fn parse(bytes: &[u8], end: bool) -> Progress {
    use Progress::{Done, More};
    let waiting = || if end { Done(Reply::Closed) } else { More };
    // The ServerHello may span several handshake records; gather their fragments.
    let mut handshake: Vec<u8> = Vec::new();
    let mut rest = bytes;
    loop {
        let Some(&content) = rest.first() else {
            return waiting();
        };
        if content != HANDSHAKE && content != ALERT {
            return Done(not_tls(bytes));
        }
        if rest.get(1).is_some_and(|major| *major != 3) {
            return Done(not_tls(bytes));
        }
        let Some(header) = rest.get(..5) else {
            return waiting();
        };
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if length == 0 || length > MAX_RECORD {
            return Done(Reply::NotTls(format!("a TLS record of {length} bytes")));
        }
        let Some(fragment) = rest.get(5..5 + length) else {
            return waiting();
        };
        rest = &rest[5 + length..];
        if content == ALERT {
            return Done(match fragment {
                [level, description, ..] => Reply::Alert {
                    level: *level,
                    description: *description,
                },
                _ => Reply::NotTls("an alert record of one byte".into()),
            });
        }
        handshake.extend_from_slice(fragment);
        if handshake[0] != SERVER_HELLO {
            return Done(Reply::NotTls(format!(
                "a handshake message of type {} instead of a ServerHello",
                handshake[0]
            )));
        }
        if let Some(header) = handshake.get(..4) {
            let length =
                usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
            if length > MAX_SERVER_HELLO {
                return Done(Reply::NotTls(format!("a ServerHello of {length} bytes")));
            }
            if let Some(body) = handshake.get(4..4 + length) {
                return Done(match server_hello(body) {
                    Some(hello) => Reply::Hello(hello),
                    None => Reply::NotTls("a malformed ServerHello".into()),
                });
            }
        }
    }
}

/// `not TLS: "HTTP/1.1 400 …"`: the start of the answer, printable, for the evidence.
fn not_tls(bytes: &[u8]) -> Reply {
    let start: String = bytes
        .iter()
        .take(32)
        .map(|byte| match byte {
            b' '..=b'~' => char::from(*byte),
            _ => '.',
        })
        .collect();
    Reply::NotTls(format!("the answer is not TLS: {start:?}"))
}

/// Reads a ServerHello body: version, random, session id, suite, compression, extensions.
fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let legacy = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
    let random = body.get(2..34)?;
    let session_id = usize::from(*body.get(34)?);
    if session_id > 32 {
        return None;
    }
    let mut at = 35 + session_id;
    let suite = u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]);
    at += 2;
    let _compression = body.get(at)?;
    at += 1;
    let mut version = legacy;
    if at < body.len() {
        let length = usize::from(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]));
        let mut extensions = body.get(at + 2..at + 2 + length)?;
        while !extensions.is_empty() {
            let kind = u16::from_be_bytes([*extensions.first()?, *extensions.get(1)?]);
            let size = usize::from(u16::from_be_bytes([
                *extensions.get(2)?,
                *extensions.get(3)?,
            ]));
            let data = extensions.get(4..4 + size)?;
            if kind == EXT_SUPPORTED_VERSIONS {
                let [major, minor] = data else {
                    return None;
                };
                version = u16::from_be_bytes([*major, *minor]);
            }
            extensions = &extensions[4 + size..];
        }
    }
    // supported_versions may only raise a 1.2 legacy field to 1.3 or above.
    if version != legacy && legacy != TLS12 {
        return None;
    }
    Some(ServerHello {
        version,
        suite,
        retry: random == RETRY_RANDOM && version >= TLS13,
    })
}

/// An alert description's name (RFC 8446 6, RFC 5246 7.2).
pub fn alert_name(description: u8) -> String {
    match description {
        0 => "close_notify".into(),
        10 => "unexpected_message".into(),
        20 => "bad_record_mac".into(),
        40 => "handshake_failure".into(),
        42 => "bad_certificate".into(),
        47 => "illegal_parameter".into(),
        50 => "decode_error".into(),
        51 => "decrypt_error".into(),
        70 => "protocol_version".into(),
        71 => "insufficient_security".into(),
        80 => "internal_error".into(),
        86 => "inappropriate_fallback".into(),
        90 => "user_canceled".into(),
        109 => "missing_extension".into(),
        110 => "unsupported_extension".into(),
        112 => "unrecognized_name".into(),
        other => format!("alert {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls_protocols::hello::{SSL3, TLS10};
    use crate::tls_wire::u24;

    /// A ServerHello record: `version` in the legacy field, `random`, a 32-byte session id,
    /// `suite`, and `extensions` (raw, without their length) when given.
    fn server_hello_record(
        record_version: u16,
        version: u16,
        random: [u8; 32],
        suite: u16,
        extensions: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&random);
        body.push(32);
        body.extend_from_slice(&[9; 32]);
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        if let Some(extensions) = extensions {
            body.extend_from_slice(&u16::try_from(extensions.len()).unwrap().to_be_bytes());
            body.extend_from_slice(extensions);
        }
        let mut message = vec![SERVER_HELLO];
        message.extend_from_slice(&u24(body.len()));
        message.extend_from_slice(&body);
        let mut record = vec![HANDSHAKE];
        record.extend_from_slice(&record_version.to_be_bytes());
        record.extend_from_slice(&u16::try_from(message.len()).unwrap().to_be_bytes());
        record.extend_from_slice(&message);
        record
    }

    fn hello(version: u16, suite: u16, retry: bool) -> Progress {
        Progress::Done(Reply::Hello(ServerHello {
            version,
            suite,
            retry,
        }))
    }

    #[test]
    fn a_tls10_server_hello_names_version_and_suite() {
        // renegotiation_info (empty), as OpenSSL sends it.
        let record = server_hello_record(TLS10, TLS10, [7; 32], 0xc014, Some(&[0xff, 1, 0, 1, 0]));
        assert_eq!(parse(&record, false), hello(TLS10, 0xc014, false));
        // Followed by the certificate in the same read: still the ServerHello.
        let mut more = record.clone();
        more.extend_from_slice(&[HANDSHAKE, 3, 1, 0, 4, 11, 0, 0, 0]);
        assert_eq!(parse(&more, false), hello(TLS10, 0xc014, false));
    }

    #[test]
    fn an_ssl3_server_hello_without_extensions() {
        let record = server_hello_record(SSL3, SSL3, [7; 32], 0x000a, None);
        assert_eq!(parse(&record, true), hello(SSL3, 0x000a, false));
    }

    #[test]
    fn supported_versions_names_tls13() {
        // A HelloRetryRequest: supported_versions 1.3, key_share x25519.
        let extensions = [0x00, 0x2b, 0, 2, 3, 4, 0x00, 0x33, 0, 2, 0x00, 0x1d];
        let record = server_hello_record(TLS12, TLS12, RETRY_RANDOM, 0x1301, Some(&extensions));
        assert_eq!(parse(&record, false), hello(TLS13, 0x1301, true));
        // A real ServerHello (another random) is not a retry.
        let record = server_hello_record(TLS12, TLS12, [1; 32], 0x1302, Some(&extensions));
        assert_eq!(parse(&record, false), hello(TLS13, 0x1302, false));
        // supported_versions cannot turn a 1.0 hello into 1.3.
        let record = server_hello_record(TLS10, TLS10, [1; 32], 0x1302, Some(&extensions));
        assert!(matches!(
            parse(&record, false),
            Progress::Done(Reply::NotTls(_))
        ));
    }

    #[test]
    fn cut_anywhere_it_waits_and_at_the_end_it_is_closed() {
        let record = server_hello_record(TLS12, TLS12, [7; 32], 0xc02f, Some(&[]));
        assert_eq!(parse(&record, true), hello(TLS12, 0xc02f, false));
        for cut in 0..record.len() {
            assert_eq!(parse(&record[..cut], false), Progress::More, "cut at {cut}");
            assert_eq!(
                parse(&record[..cut], true),
                Progress::Done(Reply::Closed),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_server_hello_split_over_records_is_gathered() {
        let record = server_hello_record(TLS12, TLS12, [7; 32], 0xc030, None);
        let message = &record[5..];
        let mut split = Vec::new();
        for chunk in message.chunks(10) {
            split.extend_from_slice(&[HANDSHAKE, 3, 3, 0, u8::try_from(chunk.len()).unwrap()]);
            split.extend_from_slice(chunk);
        }
        assert_eq!(parse(&split, false), hello(TLS12, 0xc030, false));
        assert_eq!(parse(&split[..split.len() - 1], false), Progress::More);
    }

    #[test]
    fn alerts_are_refusals() {
        let handshake_failure = [ALERT, 3, 3, 0, 2, 2, 40];
        assert_eq!(
            parse(&handshake_failure, false),
            Progress::Done(Reply::Alert {
                level: 2,
                description: 40
            })
        );
        let protocol_version = [ALERT, 3, 1, 0, 2, 2, 70];
        assert_eq!(
            parse(&protocol_version, false),
            Progress::Done(Reply::Alert {
                level: 2,
                description: 70
            })
        );
        assert_eq!(parse(&protocol_version[..6], false), Progress::More);
        assert_eq!(alert_name(40), "handshake_failure");
        assert_eq!(alert_name(70), "protocol_version");
        assert_eq!(alert_name(200), "alert 200");
    }

    #[test]
    fn nothing_before_the_end_is_closed() {
        assert_eq!(parse(&[], true), Progress::Done(Reply::Closed));
        assert_eq!(parse(&[], false), Progress::More);
    }

    #[test]
    fn garbage_is_not_tls() {
        let not_tls =
            |bytes: &[u8]| matches!(parse(bytes, false), Progress::Done(Reply::NotTls(_)));
        assert!(not_tls(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
        assert!(not_tls(b"SSH-2.0-OpenSSH_9.6\r\n"));
        assert!(not_tls(&[HANDSHAKE, 0x04]));
        assert!(not_tls(&[HANDSHAKE, 3, 3, 0, 0]));
        assert!(not_tls(&[HANDSHAKE, 3, 3, 0xff, 0xff]));
        // A handshake message that is not a ServerHello.
        assert!(not_tls(&[HANDSHAKE, 3, 3, 0, 4, 11, 0, 0, 0]));
        // A ServerHello claiming to be huge.
        assert!(not_tls(&[HANDSHAKE, 3, 3, 0, 4, 2, 0xff, 0xff, 0xff]));
        // A ServerHello too short for its fields.
        assert!(not_tls(&[HANDSHAKE, 3, 3, 0, 6, 2, 0, 0, 2, 3, 3]));
        // An alert of one byte.
        assert!(not_tls(&[ALERT, 3, 3, 0, 1, 2]));
        // The reason shows the start of the answer.
        match parse(b"HTTP/1.1 400 Bad Request\r\n", false) {
            Progress::Done(Reply::NotTls(reason)) => {
                assert!(reason.contains("HTTP/1.1 400"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
