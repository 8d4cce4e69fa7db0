//! Reading a DER certificate into the facts the rules judge.

use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::CertSummary;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";

/// The public key of a certificate, as far as its strength goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    Rsa {
        bits: usize,
    },
    /// `curve` is the named curve (`P-256`), when it is one we know.
    Ec {
        bits: usize,
        curve: Option<&'static str>,
    },
    Ed25519,
    Ed448,
    /// Another algorithm, by its OID.
    Other(String),
}

impl Key {
    /// `RSA 2048`, `EC P-256`, `Ed25519`.
    pub fn describe(&self) -> String {
        match self {
            Key::Rsa { bits } => format!("RSA {bits}"),
            Key::Ec {
                curve: Some(curve), ..
            } => format!("EC {curve}"),
            Key::Ec { bits, curve: None } => format!("EC {bits}"),
            Key::Ed25519 => "Ed25519".into(),
            Key::Ed448 => "Ed448".into(),
            Key::Other(oid) => format!("unknown ({oid})"),
        }
    }
}

/// One certificate: its summary as reported, and the typed facts the rules need.
#[derive(Clone, Debug)]
pub struct ParsedCert {
    pub summary: CertSummary,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub ip_sans: Vec<IpAddr>,
    /// Whether the certificate has a subject alternative name extension at all (then the
    /// common name is not a host name).
    pub has_san: bool,
    pub common_names: Vec<String>,
    pub key: Key,
}

/// Parses a DER certificate. `None` when it is not one.
pub fn parse(der: &[u8]) -> Option<ParsedCert> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let not_before = timestamp(cert.validity().not_before.timestamp());
    let not_after = timestamp(cert.validity().not_after.timestamp());

    let mut dns_names = Vec::new();
    let mut ip_sans = Vec::new();
    let mut has_san = false;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        has_san = true;
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => dns_names.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        ip_sans.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    let common_names = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    let key = key_of(&cert);
    let self_signed =
        cert.subject().as_raw() == cert.issuer().as_raw() && cert.verify_signature(None).is_ok();
    let summary = CertSummary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: rfc3339(not_before),
        not_after: rfc3339(not_after),
        dns_names,
        ip_addresses: ip_sans.iter().map(IpAddr::to_string).collect(),
        key: key.describe(),
        self_signed,
    };
    Some(ParsedCert {
        summary,
        not_before,
        not_after,
        ip_sans,
        has_san,
        common_names,
        key,
    })
}

/// The validity bounds of a DER certificate, as seconds since the epoch.
pub fn validity(der: &[u8]) -> Option<(i64, i64)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some((
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
    ))
}

pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn timestamp(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or(if seconds < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
}

fn key_of(cert: &X509Certificate) -> Key {
    let spki = cert.public_key();
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        OID_RSA => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Key::Rsa {
                bits: rsa.key_size(),
            },
            _ => Key::Other(oid),
        },
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|params| params.as_oid().ok())
                .and_then(|curve| curve_name(&curve.to_id_string()));
            let bits = match spki.parsed() {
                Ok(PublicKey::EC(point)) => point.key_size(),
                _ => 0,
            };
            let bits = curve.map_or(bits, curve_bits);
            Key::Ec { bits, curve }
        }
        OID_ED25519 => Key::Ed25519,
        OID_ED448 => Key::Ed448,
        _ => Key::Other(oid),
    }
}

fn curve_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.10045.3.1.1" => "P-192",
        "1.3.132.0.33" => "P-224",
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.10" => "secp256k1",
        _ => return None,
    })
}

fn curve_bits(curve: &str) -> usize {
    match curve {
        "P-192" => 192,
        "P-224" => 224,
        "P-384" => 384,
        "P-521" => 521,
        _ => 256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_described() {
        assert_eq!(Key::Rsa { bits: 2048 }.describe(), "RSA 2048");
        assert_eq!(
            Key::Ec {
                bits: 256,
                curve: Some("P-256")
            }
            .describe(),
            "EC P-256"
        );
        assert_eq!(
            Key::Ec {
                bits: 200,
                curve: None
            }
            .describe(),
            "EC 200"
        );
        assert_eq!(Key::Ed25519.describe(), "Ed25519");
    }

    #[test]
    fn ip_sans_are_read_from_their_bytes() {
        assert_eq!(
            ip_from_bytes(&[127, 0, 0, 1]),
            Some("127.0.0.1".parse().unwrap())
        );
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_from_bytes(&v6), Some("::1".parse().unwrap()));
        assert_eq!(ip_from_bytes(&[1, 2, 3]), None);
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(parse(b"not a certificate").is_none());
        assert!(validity(&[]).is_none());
    }
}
