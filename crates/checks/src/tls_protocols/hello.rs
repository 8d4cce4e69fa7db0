//! A ClientHello built by hand, for any protocol version from SSL 3.0 to TLS 1.3 and any list
//! of cipher suites: rustls (rightly) cannot offer what we need to find out whether a server
//! still accepts.
//!
//! The hello only has to make the server choose: the handshake is never finished, so the
//! random and session id need not be random and no key share is offered (a TLS 1.3 server
//! answers with a HelloRetryRequest, which names the version as well as a ServerHello does).
use crate::tls_wire::{push_extension, push_len16, push_u16_list, u24};

/// Protocol versions as they appear on the wire.
pub const SSL3: u16 = 0x0300;
pub const TLS10: u16 = 0x0301;
pub const TLS11: u16 = 0x0302;
pub const TLS12: u16 = 0x0303;
pub const TLS13: u16 = 0x0304;

pub const HANDSHAKE: u8 = 0x16;
pub const CLIENT_HELLO: u8 = 1;

pub const EXT_SERVER_NAME: u16 = 0x0000;
pub const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
pub const EXT_EC_POINT_FORMATS: u16 = 0x000b;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
pub const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
pub const EXT_KEY_SHARE: u16 = 0x0033;

/// Tells the server we support secure renegotiation (RFC 5746) without an extension, which
/// SSL 3.0 servers would not parse; servers that insist on it are satisfied either way.
const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;
/// x25519, secp256r1, secp384r1, secp521r1, then the finite-field groups of RFC 7919.
const GROUPS: [u16; 6] = [0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101];
/// ECDSA, RSA-PSS and RSA PKCS#1 with SHA-256/384/512, Ed25519, then the SHA-1 schemes old
/// servers may only have.
const SIGNATURE_ALGORITHMS: [u16; 13] = [
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0603, 0x0806, 0x0601, 0x0807, 0x0203, 0x0201,
    0x0202,
];

/// The name a version goes by (`TLSv1.0`, as OpenSSL and the certificate check write it).
pub fn version_name(version: u16) -> String {
    match version {
        SSL3 => "SSLv3".into(),
        TLS10 => "TLSv1.0".into(),
        TLS11 => "TLSv1.1".into(),
        TLS12 => "TLSv1.2".into(),
        TLS13 => "TLSv1.3".into(),
        other => format!("0x{other:04x}"),
    }
}

/// A ClientHello record offering exactly `version` and `suites`.
///
/// SSL 3.0 hellos carry no extensions (SSL 3.0 servers may not parse them). TLS 1.0–1.2
/// hellos carry the server name (when `sni` is a host name), the groups and point formats
/// ECDHE suites need and, for 1.2, the signature algorithms. A TLS 1.3 hello says 1.2 in its
/// legacy fields and 1.3 alone in `supported_versions`, with an empty key share.
pub fn client_hello(version: u16, suites: &[u16], sni: Option<&str>) -> Vec<u8> {
    let legacy_version = version.min(TLS12);
    let mut body = Vec::with_capacity(512);
    body.extend_from_slice(&legacy_version.to_be_bytes());
    body.extend_from_slice(&[0x5a; 32]); // random
    if version >= TLS13 {
        // Middlebox compatibility mode (RFC 8446 D.4) sends a session id.
        body.push(32);
        body.extend_from_slice(&[0xa5; 32]);
    } else {
        body.push(0);
    }
    let mut offered: Vec<u16> = suites.to_vec();
    if version < TLS13 {
        offered.push(EMPTY_RENEGOTIATION_INFO_SCSV);
    }
    push_u16_list(&mut body, &offered);
    body.extend_from_slice(&[1, 0]); // compression: null only

    if version > SSL3 {
        let mut extensions = Vec::new();
        if let Some(name) = sni.filter(|name| valid_sni(name)) {
            let mut list = vec![0]; // host_name
            push_len16(&mut list, name.as_bytes());
            let mut data = Vec::new();
            push_len16(&mut data, &list);
            push_extension(&mut extensions, EXT_SERVER_NAME, &data);
        }
        let mut groups = Vec::new();
        push_u16_list(&mut groups, &GROUPS);
        push_extension(&mut extensions, EXT_SUPPORTED_GROUPS, &groups);
        push_extension(&mut extensions, EXT_EC_POINT_FORMATS, &[1, 0]); // uncompressed
        if version >= TLS12 {
            let mut algorithms = Vec::new();
            push_u16_list(&mut algorithms, &SIGNATURE_ALGORITHMS);
            push_extension(&mut extensions, EXT_SIGNATURE_ALGORITHMS, &algorithms);
        }
        if version >= TLS13 {
            let [major, minor] = TLS13.to_be_bytes();
            push_extension(&mut extensions, EXT_SUPPORTED_VERSIONS, &[2, major, minor]);
            push_extension(&mut extensions, EXT_KEY_SHARE, &[0, 0]); // no share offered
        }
        push_len16(&mut body, &extensions);
    }

    let mut handshake = vec![CLIENT_HELLO];
    handshake.extend_from_slice(&u24(body.len()));
    handshake.extend_from_slice(&body);
    // The record says 1.0 for every TLS version, as clients do (some servers drop a first
    // record of a version they do not know); SSL 3.0 says 3.0.
    let record_version = if version == SSL3 { SSL3 } else { TLS10 };
    let mut record = vec![HANDSHAKE];
    record.extend_from_slice(&record_version.to_be_bytes());
    push_len16(&mut record, &handshake);
    record
}

/// A name SNI may carry: a DNS name, not an address (RFC 6066 forbids literal addresses) and
/// short enough for its length fields.
fn valid_sni(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.parse::<std::net::IpAddr>().is_err()
        && name.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts of a ClientHello record, read back with every length checked.
    #[derive(Debug)]
    struct Decoded {
        record_version: u16,
        legacy_version: u16,
        session_id: Vec<u8>,
        suites: Vec<u16>,
        /// `None` when the hello ends after the compression methods.
        extensions: Option<Vec<(u16, Vec<u8>)>>,
    }

    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([bytes[at], bytes[at + 1]])
    }

    fn decode(record: &[u8]) -> Decoded {
        assert_eq!(record[0], HANDSHAKE);
        let record_version = u16_at(record, 1);
        assert_eq!(
            usize::from(u16_at(record, 3)),
            record.len() - 5,
            "record length"
        );
        let handshake = &record[5..];
        assert_eq!(handshake[0], CLIENT_HELLO);
        let body_len = usize::from(handshake[1]) << 16
            | usize::from(handshake[2]) << 8
            | usize::from(handshake[3]);
        assert_eq!(body_len, handshake.len() - 4, "handshake length");
        let body = &handshake[4..];
        let legacy_version = u16_at(body, 0);
        let mut at = 2 + 32;
        let sid_len = usize::from(body[at]);
        let session_id = body[at + 1..at + 1 + sid_len].to_vec();
        at += 1 + sid_len;
        let suites_len = usize::from(u16_at(body, at));
        assert_eq!(suites_len % 2, 0);
        let suites = (0..suites_len / 2)
            .map(|i| u16_at(body, at + 2 + 2 * i))
            .collect();
        at += 2 + suites_len;
        assert_eq!(&body[at..at + 2], &[1, 0], "compression: null only");
        at += 2;
        if at == body.len() {
            return Decoded {
                record_version,
                legacy_version,
                session_id,
                suites,
                extensions: None,
            };
        }
        let ext_len = usize::from(u16_at(body, at));
        assert_eq!(ext_len, body.len() - at - 2, "extensions length");
        let mut rest = &body[at + 2..];
        let mut extensions = Vec::new();
        while !rest.is_empty() {
            let kind = u16_at(rest, 0);
            let len = usize::from(u16_at(rest, 2));
            extensions.push((kind, rest[4..4 + len].to_vec()));
            rest = &rest[4 + len..];
        }
        Decoded {
            record_version,
            legacy_version,
            session_id,
            suites,
            extensions: Some(extensions),
        }
    }

    fn extension(decoded: &Decoded, kind: u16) -> Option<Vec<u8>> {
        decoded
            .extensions
            .as_ref()?
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, data)| data.clone())
    }

    #[test]
    fn a_tls12_hello_offers_exactly_what_it_is_given() {
        let hello = decode(&client_hello(TLS12, &[0xc02f, 0x000a], Some("example.com")));
        assert_eq!(hello.record_version, TLS10);
        assert_eq!(hello.legacy_version, TLS12);
        assert!(hello.session_id.is_empty());
        assert_eq!(
            hello.suites,
            [0xc02f, 0x000a, EMPTY_RENEGOTIATION_INFO_SCSV]
        );
        let sni = extension(&hello, EXT_SERVER_NAME).expect("server_name");
        // list length, host_name type, name length, name
        let mut expected = vec![0, 14, 0, 0, 11];
        expected.extend_from_slice(b"example.com");
        assert_eq!(sni, expected);
        let groups = extension(&hello, EXT_SUPPORTED_GROUPS).expect("groups");
        assert_eq!(usize::from(u16_at(&groups, 0)), groups.len() - 2);
        assert_eq!(&groups[2..4], &[0x00, 0x1d], "x25519 first");
        assert_eq!(extension(&hello, EXT_EC_POINT_FORMATS), Some(vec![1, 0]));
        let algorithms = extension(&hello, EXT_SIGNATURE_ALGORITHMS).expect("sigalgs");
        assert_eq!(
            usize::from(u16_at(&algorithms, 0)),
            2 * SIGNATURE_ALGORITHMS.len()
        );
        assert_eq!(extension(&hello, EXT_SUPPORTED_VERSIONS), None);
        assert_eq!(extension(&hello, EXT_KEY_SHARE), None);
    }

    #[test]
    fn a_tls13_hello_names_the_version_in_supported_versions() {
        let hello = decode(&client_hello(TLS13, &[0x1301, 0x1302], Some("example.com")));
        assert_eq!(hello.record_version, TLS10);
        assert_eq!(hello.legacy_version, TLS12);
        assert_eq!(hello.session_id.len(), 32);
        // No renegotiation SCSV: TLS 1.3 has no renegotiation.
        assert_eq!(hello.suites, [0x1301, 0x1302]);
        assert_eq!(
            extension(&hello, EXT_SUPPORTED_VERSIONS),
            Some(vec![2, 0x03, 0x04])
        );
        assert_eq!(extension(&hello, EXT_KEY_SHARE), Some(vec![0, 0]));
        assert!(extension(&hello, EXT_SIGNATURE_ALGORITHMS).is_some());
    }

    #[test]
    fn tls10_and_11_hellos_carry_no_signature_algorithms() {
        for version in [TLS10, TLS11] {
            let hello = decode(&client_hello(version, &[0x002f], Some("example.com")));
            assert_eq!(hello.legacy_version, version);
            assert_eq!(hello.record_version, TLS10);
            assert!(extension(&hello, EXT_SERVER_NAME).is_some());
            assert!(extension(&hello, EXT_SUPPORTED_GROUPS).is_some());
            assert_eq!(extension(&hello, EXT_SIGNATURE_ALGORITHMS), None);
            assert_eq!(extension(&hello, EXT_SUPPORTED_VERSIONS), None);
        }
    }

    #[test]
    fn an_ssl3_hello_has_no_extensions() {
        let hello = decode(&client_hello(SSL3, &[0x000a, 0x0005], Some("example.com")));
        assert_eq!(hello.record_version, SSL3);
        assert_eq!(hello.legacy_version, SSL3);
        assert_eq!(
            hello.suites,
            [0x000a, 0x0005, EMPTY_RENEGOTIATION_INFO_SCSV]
        );
        assert!(hello.extensions.is_none());
    }

    #[test]
    fn addresses_and_odd_names_get_no_sni() {
        for sni in [
            None,
            Some("127.0.0.1"),
            Some("::1"),
            Some(""),
            Some("exämple.com"),
        ] {
            let hello = decode(&client_hello(TLS12, &[0xc02f], sni));
            assert_eq!(extension(&hello, EXT_SERVER_NAME), None, "{sni:?}");
        }
        let long = "a".repeat(254);
        let hello = decode(&client_hello(TLS12, &[0xc02f], Some(&long)));
        assert_eq!(extension(&hello, EXT_SERVER_NAME), None);
    }

    #[test]
    fn versions_read_like_openssl() {
        assert_eq!(version_name(SSL3), "SSLv3");
        assert_eq!(version_name(TLS10), "TLSv1.0");
        assert_eq!(version_name(TLS13), "TLSv1.3");
        assert_eq!(version_name(0x7f1c), "0x7f1c");
    }
}
