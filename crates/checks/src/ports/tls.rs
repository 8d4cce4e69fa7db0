//! The TLS probe: a ClientHello any current server will answer, and what the answer says.
//!
//! We never finish the handshake: a ServerHello (or HelloRetryRequest) proves TLS, and so does
//! an alert, since only a TLS stack answers a ClientHello with a well-formed alert record.

use super::banner::starts_with_or_is_prefix;
use super::{Service, Verdict};
use crate::tls_wire::{push_extension, push_len16, push_u16_list, u24};

const HANDSHAKE: u8 = 0x16;
const ALERT: u8 = 0x15;
const SERVER_HELLO: u8 = 2;
const SUPPORTED_VERSIONS: u16 = 0x002b;
/// The largest record a peer may send (2^14 plus the allowed expansion).
const MAX_RECORD: usize = (1 << 14) + 2048;

/// TLS 1.3 suites, then the ECDHE and RSA suites TLS 1.2 servers commonly require.
const CIPHER_SUITES: [u16; 15] = [
    0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
    0x009d, 0x002f, 0x0035,
];
/// x25519, secp256r1, secp384r1.
const GROUPS: [u16; 3] = [0x001d, 0x0017, 0x0018];
const SIGNATURE_ALGORITHMS: [u16; 9] = [
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201,
];

/// A ClientHello offering TLS 1.3 and 1.2, with `sni` as the server name when the target is
/// a host name (servers with several sites may refuse a hello without one).
///
/// It offers no key share, so a TLS 1.3 server answers with a HelloRetryRequest, which is all
/// we want: nobody has to compute a key for a probe. The random and session id need not be
/// random, since the handshake never completes.
pub fn client_hello(sni: Option<&str>) -> Vec<u8> {
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(&[0x03, 0x03]); // legacy_version: TLS 1.2
    body.extend_from_slice(&[0x5a; 32]); // random
    body.push(32); // legacy_session_id, for middlebox compatibility (RFC 8446 D.4)
    body.extend_from_slice(&[0xa5; 32]);
    push_u16_list(&mut body, &CIPHER_SUITES);
    body.extend_from_slice(&[1, 0]); // compression: null only

    let mut extensions = Vec::new();
    if let Some(name) = sni.filter(|name| !name.is_empty() && name.len() <= 255) {
        let name = name.as_bytes();
        let mut list = vec![0]; // host_name
        push_len16(&mut list, name);
        let mut data = Vec::new();
        push_len16(&mut data, &list);
        push_extension(&mut extensions, 0x0000, &data);
    }
    let mut groups = Vec::new();
    push_u16_list(&mut groups, &GROUPS);
    push_extension(&mut extensions, 0x000a, &groups);
    push_extension(&mut extensions, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
    let mut algorithms = Vec::new();
    push_u16_list(&mut algorithms, &SIGNATURE_ALGORITHMS);
    push_extension(&mut extensions, 0x000d, &algorithms);
    push_extension(
        &mut extensions,
        SUPPORTED_VERSIONS,
        &[4, 0x03, 0x04, 0x03, 0x03],
    );
    push_extension(&mut extensions, 0x0033, &[0, 0]); // key_share: none offered
    push_len16(&mut body, &extensions);

    let mut handshake = vec![1]; // client_hello
    handshake.extend_from_slice(&u24(body.len()));
    handshake.extend_from_slice(&body);
    // Record version 1.0, as TLS 1.3 clients send for compatibility.
    let mut record = vec![HANDSHAKE, 0x03, 0x01];
    push_len16(&mut record, &handshake);
    record
}

/// Judges the reply to [`client_hello`]. The version reported is the one the server chose
/// (`TLSv1.3`), when its ServerHello arrived whole.
pub fn parse(reply: &[u8], end: bool) -> Verdict {
    let plausible_start = matches!(reply.first(), Some(&HANDSHAKE | &ALERT))
        && starts_with_or_is_prefix(&reply[1..], &[0x03]);
    if !plausible_start {
        return Verdict::Not;
    }
    if reply.len() < 5 {
        return if end { Verdict::Not } else { Verdict::More };
    }
    let (kind, minor) = (reply[0], reply[2]);
    let length = usize::from(u16::from_be_bytes([reply[3], reply[4]]));
    if minor > 4 || length == 0 || length > MAX_RECORD {
        return Verdict::Not;
    }
    let fragment = &reply[5..];
    if kind == ALERT {
        return Verdict::Is(Service::new("tls", None, None));
    }
    // A handshake record: its first message should be the ServerHello.
    if fragment.first().is_some_and(|t| *t != SERVER_HELLO) {
        return Verdict::Not;
    }
    if fragment.len() < 4 {
        return if end {
            Verdict::Is(Service::new("tls", None, None))
        } else {
            Verdict::More
        };
    }
    let hello_len =
        usize::from(fragment[1]) << 16 | usize::from(fragment[2]) << 8 | usize::from(fragment[3]);
    match fragment.get(4..4 + hello_len) {
        Some(hello) => Verdict::Is(Service::new("tls", None, chosen_version(hello))),
        None if end => Verdict::Is(Service::new("tls", None, None)),
        None => Verdict::More,
    }
}

/// The version in a ServerHello body: its supported_versions extension (TLS 1.3, where the
/// legacy field says 1.2), else the legacy version field.
fn chosen_version(hello: &[u8]) -> Option<String> {
    let legacy = u16::from_be_bytes([*hello.first()?, *hello.get(1)?]);
    let mut at = 2 + 32; // version, random
    let session_id = usize::from(*hello.get(at)?);
    at += 1 + session_id + 2 + 1; // session id, cipher suite, compression
    let mut version = legacy;
    if let Some(len) = hello.get(at..at + 2) {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let mut extensions = hello.get(at + 2..at + 2 + len)?;
        while extensions.len() >= 4 {
            let kind = u16::from_be_bytes([extensions[0], extensions[1]]);
            let size = usize::from(u16::from_be_bytes([extensions[2], extensions[3]]));
            let data = extensions.get(4..4 + size)?;
            if kind == SUPPORTED_VERSIONS && size == 2 {
                version = u16::from_be_bytes([data[0], data[1]]);
            }
            extensions = &extensions[4 + size..];
        }
    }
    version_name(version).map(str::to_owned)
}

fn version_name(version: u16) -> Option<&'static str> {
    Some(match version {
        0x0300 => "SSLv3",
        0x0301 => "TLSv1.0",
        0x0302 => "TLSv1.1",
        0x0303 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS 1.3 HelloRetryRequest as a server sends it to a hello without key shares:
    /// legacy version 1.2, the HRR random, an empty session id, TLS_AES_128_GCM_SHA256, and
    /// the extensions supported_versions (1.3) and key_share (x25519).
    fn hello_retry_request() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0xcf; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0x13, 0x01, 0x00]);
        let extensions = [
            0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x02, 0x00, 0x1d,
        ];
        push_len16(&mut body, &extensions);
        let mut message = vec![SERVER_HELLO];
        message.extend_from_slice(&u24(body.len()));
        message.extend_from_slice(&body);
        let mut record = vec![HANDSHAKE, 0x03, 0x03];
        push_len16(&mut record, &message);
        record
    }

    #[test]
    fn server_hello_gives_the_chosen_version() {
        let reply = hello_retry_request();
        assert_eq!(
            parse(&reply, false),
            Verdict::Is(Service::new("tls", None, Some("TLSv1.3".into())))
        );
        // Cut anywhere inside the hello: wait for it, or settle for "tls" at the end.
        for cut in 1..reply.len() {
            assert_eq!(parse(&reply[..cut], false), Verdict::More, "cut at {cut}");
        }
        assert_eq!(
            parse(&reply[..20], true),
            Verdict::Is(Service::new("tls", None, None))
        );
    }

    #[test]
    fn tls12_server_hello_without_supported_versions() {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.push(32);
        body.extend_from_slice(&[9; 32]);
        body.extend_from_slice(&[0xc0, 0x2f, 0x00]);
        let mut message = vec![SERVER_HELLO];
        message.extend_from_slice(&u24(body.len()));
        message.extend_from_slice(&body);
        let mut record = vec![HANDSHAKE, 0x03, 0x03];
        push_len16(&mut record, &message);
        assert_eq!(
            parse(&record, false),
            Verdict::Is(Service::new("tls", None, Some("TLSv1.2".into())))
        );
    }

    #[test]
    fn an_alert_is_tls_too() {
        // handshake_failure, as a server sends when it shares no cipher suite with us.
        let alert = [ALERT, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];
        assert_eq!(
            parse(&alert, false),
            Verdict::Is(Service::new("tls", None, None))
        );
    }

    #[test]
    fn other_replies_are_not_tls() {
        assert_eq!(parse(b"HTTP/1.1 400 Bad Request\r\n", false), Verdict::Not);
        assert_eq!(parse(b"-ERR wrong\r\n", false), Verdict::Not);
        assert_eq!(parse(&[HANDSHAKE, 0x04], false), Verdict::Not);
        assert_eq!(parse(&[HANDSHAKE, 0x03, 0x09, 0, 1], false), Verdict::Not);
        assert_eq!(parse(&[HANDSHAKE, 0x03, 0x03, 0, 0], false), Verdict::Not);
        // A handshake record that does not start with a ServerHello.
        assert_eq!(
            parse(&[HANDSHAKE, 3, 3, 0, 4, 1, 0, 0, 0], false),
            Verdict::Not
        );
        assert_eq!(parse(&[], true), Verdict::Not);
        assert_eq!(parse(&[HANDSHAKE, 0x03], true), Verdict::Not);
    }

    #[test]
    fn client_hello_is_well_formed() {
        let hello = client_hello(Some("example.com"));
        assert_eq!(&hello[..3], &[HANDSHAKE, 0x03, 0x01]);
        let record_len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
        assert_eq!(record_len, hello.len() - 5);
        assert_eq!(hello[5], 1, "client_hello");
        let body_len =
            usize::from(hello[6]) << 16 | usize::from(hello[7]) << 8 | usize::from(hello[8]);
        assert_eq!(body_len, hello.len() - 9);
        let sni = b"example.com";
        assert!(hello.windows(sni.len()).any(|w| w == sni));
        // Without a name there is no server_name extension, and the hello is that much shorter.
        let bare = client_hello(None);
        assert_eq!(bare.len(), hello.len() - (4 + 2 + 3 + sni.len()));
    }
}
