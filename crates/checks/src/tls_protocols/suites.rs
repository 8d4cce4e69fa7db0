//! The cipher suites the probes offer, with what makes a suite weak.
//!
//! Only the suites a real server may still accept are listed: every suite of the OpenSSL,
//! SChannel and Java families worth knowing about, not the whole IANA registry (Kerberos,
//! PSK, SRP and GOST suites need a pre-arranged secret or a national profile; nobody
//! configures them on a public web server). Names are the IANA ones, as rustls reports them.

use serde::Serialize;

/// Why a suite is weak. A suite can be weak for several reasons (anonymous RC4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weakness {
    /// No encryption at all.
    Null,
    /// No server authentication (aNULL): anyone on the path can stand in for the server.
    Anonymous,
    /// 40- or 56-bit export-grade keys (FREAK, Logjam).
    Export,
    /// RC4, prohibited by RFC 7465: its keystream biases leak plaintext.
    Rc4,
    /// Single DES: a 56-bit key.
    Des,
    /// Triple DES: a 64-bit block, so long connections collide (Sweet32).
    TripleDes,
}

impl Weakness {
    pub fn as_str(self) -> &'static str {
        match self {
            Weakness::Null => "null",
            Weakness::Anonymous => "anonymous",
            Weakness::Export => "export",
            Weakness::Rc4 => "rc4",
            Weakness::Des => "des",
            Weakness::TripleDes => "3des",
        }
    }
}

/// How the session key is agreed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kx {
    /// Ephemeral (EC)DH: forward secrecy.
    Ephemeral,
    /// The key travels encrypted to the certificate's RSA key, or is derived from a static
    /// (EC)DH key: whoever gets that key later reads every recorded session.
    Static,
    /// TLS 1.3: always ephemeral, agreed outside the suite.
    Tls13,
}

#[derive(Clone, Copy, Debug)]
pub struct Suite {
    pub id: u16,
    pub name: &'static str,
    pub kx: Kx,
    /// AEAD or SHA-256/384 MAC: defined for TLS 1.2 only.
    pub tls12_only: bool,
    /// An elliptic-curve key exchange: defined for TLS (RFC 4492), not SSL 3.0.
    pub ec: bool,
    pub weaknesses: &'static [Weakness],
}

use Kx::{Ephemeral as E, Static as S, Tls13};
use Weakness::TripleDes as TDES;
use Weakness::{Anonymous as ANON, Des as DES, Export as EXP, Null as NULL, Rc4 as RC4};

const fn suite(
    id: u16,
    name: &'static str,
    kx: Kx,
    tls12_only: bool,
    ec: bool,
    weaknesses: &'static [Weakness],
) -> Suite {
    Suite {
        id,
        name,
        kx,
        tls12_only,
        ec,
        weaknesses,
    }
}

/// Every suite known here, in the order a modern client prefers them: TLS 1.3, ECDHE with
/// AEAD, ECDHE with CBC, DHE, static RSA, then the weak ones.
pub const SUITES: &[Suite] = &[
    // TLS 1.3
    suite(0x1301, "TLS13_AES_128_GCM_SHA256", Tls13, false, false, &[]),
    suite(0x1302, "TLS13_AES_256_GCM_SHA384", Tls13, false, false, &[]),
    suite(
        0x1303,
        "TLS13_CHACHA20_POLY1305_SHA256",
        Tls13,
        false,
        false,
        &[],
    ),
    suite(0x1304, "TLS13_AES_128_CCM_SHA256", Tls13, false, false, &[]),
    // ECDHE, AEAD
    suite(
        0xc02b,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        E,
        true,
        true,
        &[],
    ),
    suite(
        0xc02f,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        E,
        true,
        true,
        &[],
    ),
    suite(
        0xc02c,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        E,
        true,
        true,
        &[],
    ),
    suite(
        0xc030,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        E,
        true,
        true,
        &[],
    ),
    suite(
        0xcca9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        E,
        true,
        true,
        &[],
    ),
    suite(
        0xcca8,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        E,
        true,
        true,
        &[],
    ),
    // ECDHE, CBC
    suite(
        0xc009,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        E,
        false,
        true,
        &[],
    ),
    suite(
        0xc013,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        E,
        false,
        true,
        &[],
    ),
    suite(
        0xc00a,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        E,
        false,
        true,
        &[],
    ),
    suite(
        0xc014,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        E,
        false,
        true,
        &[],
    ),
    suite(
        0xc023,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        E,
        true,
        true,
        &[],
    ),
    suite(
        0xc027,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        E,
        true,
        true,
        &[],
    ),
    suite(
        0xc024,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        E,
        true,
        true,
        &[],
    ),
    suite(
        0xc028,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        E,
        true,
        true,
        &[],
    ),
    // DHE
    suite(
        0x009e,
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        E,
        true,
        false,
        &[],
    ),
    suite(
        0x009f,
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        E,
        true,
        false,
        &[],
    ),
    suite(
        0xccaa,
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        E,
        true,
        false,
        &[],
    ),
    suite(
        0x0033,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        E,
        false,
        false,
        &[],
    ),
    suite(
        0x0039,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        E,
        false,
        false,
        &[],
    ),
    suite(
        0x0067,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        E,
        true,
        false,
        &[],
    ),
    suite(
        0x006b,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        E,
        true,
        false,
        &[],
    ),
    suite(
        0x0032,
        "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
        E,
        false,
        false,
        &[],
    ),
    suite(
        0x0038,
        "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
        E,
        false,
        false,
        &[],
    ),
    // Static RSA key exchange
    suite(
        0x009c,
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        S,
        true,
        false,
        &[],
    ),
    suite(
        0x009d,
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        S,
        true,
        false,
        &[],
    ),
    suite(0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", S, false, false, &[]),
    suite(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", S, false, false, &[]),
    suite(
        0x003c,
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        S,
        true,
        false,
        &[],
    ),
    suite(
        0x003d,
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        S,
        true,
        false,
        &[],
    ),
    suite(
        0x0041,
        "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
        S,
        false,
        false,
        &[],
    ),
    suite(
        0x0084,
        "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
        S,
        false,
        false,
        &[],
    ),
    // Triple DES and DES
    suite(
        0xc012,
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        E,
        false,
        true,
        &[TDES],
    ),
    suite(
        0xc008,
        "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
        E,
        false,
        true,
        &[TDES],
    ),
    suite(
        0x0016,
        "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        E,
        false,
        false,
        &[TDES],
    ),
    suite(
        0x0013,
        "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
        E,
        false,
        false,
        &[TDES],
    ),
    suite(
        0x000a,
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        S,
        false,
        false,
        &[TDES],
    ),
    suite(
        0xc00d,
        "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA",
        S,
        false,
        true,
        &[TDES],
    ),
    suite(
        0xc003,
        "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA",
        S,
        false,
        true,
        &[TDES],
    ),
    suite(
        0x0015,
        "TLS_DHE_RSA_WITH_DES_CBC_SHA",
        E,
        false,
        false,
        &[DES],
    ),
    suite(
        0x0012,
        "TLS_DHE_DSS_WITH_DES_CBC_SHA",
        E,
        false,
        false,
        &[DES],
    ),
    suite(0x0009, "TLS_RSA_WITH_DES_CBC_SHA", S, false, false, &[DES]),
    // RC4
    suite(
        0xc011,
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        E,
        false,
        true,
        &[RC4],
    ),
    suite(
        0xc007,
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        E,
        false,
        true,
        &[RC4],
    ),
    suite(0x0005, "TLS_RSA_WITH_RC4_128_SHA", S, false, false, &[RC4]),
    suite(0x0004, "TLS_RSA_WITH_RC4_128_MD5", S, false, false, &[RC4]),
    suite(
        0xc00c,
        "TLS_ECDH_RSA_WITH_RC4_128_SHA",
        S,
        false,
        true,
        &[RC4],
    ),
    suite(
        0xc002,
        "TLS_ECDH_ECDSA_WITH_RC4_128_SHA",
        S,
        false,
        true,
        &[RC4],
    ),
    // Export grade
    suite(
        0x0014,
        "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
        E,
        false,
        false,
        &[EXP, DES],
    ),
    suite(
        0x0011,
        "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
        E,
        false,
        false,
        &[EXP, DES],
    ),
    suite(
        0x0008,
        "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
        S,
        false,
        false,
        &[EXP, DES],
    ),
    suite(
        0x0006,
        "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
        S,
        false,
        false,
        &[EXP],
    ),
    suite(
        0x0003,
        "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
        S,
        false,
        false,
        &[EXP, RC4],
    ),
    // Anonymous (no certificate)
    suite(
        0xc018,
        "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
        E,
        false,
        true,
        &[ANON],
    ),
    suite(
        0xc019,
        "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
        E,
        false,
        true,
        &[ANON],
    ),
    suite(
        0x00a6,
        "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
        E,
        true,
        false,
        &[ANON],
    ),
    suite(
        0x00a7,
        "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
        E,
        true,
        false,
        &[ANON],
    ),
    suite(
        0x0034,
        "TLS_DH_anon_WITH_AES_128_CBC_SHA",
        E,
        false,
        false,
        &[ANON],
    ),
    suite(
        0x003a,
        "TLS_DH_anon_WITH_AES_256_CBC_SHA",
        E,
        false,
        false,
        &[ANON],
    ),
    suite(
        0x006c,
        "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
        E,
        true,
        false,
        &[ANON],
    ),
    suite(
        0x006d,
        "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
        E,
        true,
        false,
        &[ANON],
    ),
    suite(
        0x0046,
        "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
        E,
        false,
        false,
        &[ANON],
    ),
    suite(
        0x0089,
        "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
        E,
        false,
        false,
        &[ANON],
    ),
    suite(
        0xc017,
        "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
        E,
        false,
        true,
        &[ANON, TDES],
    ),
    suite(
        0x001b,
        "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
        E,
        false,
        false,
        &[ANON, TDES],
    ),
    suite(
        0x001a,
        "TLS_DH_anon_WITH_DES_CBC_SHA",
        E,
        false,
        false,
        &[ANON, DES],
    ),
    suite(
        0xc016,
        "TLS_ECDH_anon_WITH_RC4_128_SHA",
        E,
        false,
        true,
        &[ANON, RC4],
    ),
    suite(
        0x0018,
        "TLS_DH_anon_WITH_RC4_128_MD5",
        E,
        false,
        false,
        &[ANON, RC4],
    ),
    suite(
        0x0019,
        "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
        E,
        false,
        false,
        &[ANON, EXP, DES],
    ),
    suite(
        0x0017,
        "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
        E,
        false,
        false,
        &[ANON, EXP, RC4],
    ),
    // No encryption
    suite(
        0xc010,
        "TLS_ECDHE_RSA_WITH_NULL_SHA",
        E,
        false,
        true,
        &[NULL],
    ),
    suite(
        0xc006,
        "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
        E,
        false,
        true,
        &[NULL],
    ),
    suite(0x003b, "TLS_RSA_WITH_NULL_SHA256", S, true, false, &[NULL]),
    suite(0x0002, "TLS_RSA_WITH_NULL_SHA", S, false, false, &[NULL]),
    suite(0x0001, "TLS_RSA_WITH_NULL_MD5", S, false, false, &[NULL]),
    suite(
        0xc00b,
        "TLS_ECDH_RSA_WITH_NULL_SHA",
        S,
        false,
        true,
        &[NULL],
    ),
    suite(
        0xc001,
        "TLS_ECDH_ECDSA_WITH_NULL_SHA",
        S,
        false,
        true,
        &[NULL],
    ),
    suite(
        0xc015,
        "TLS_ECDH_anon_WITH_NULL_SHA",
        E,
        false,
        true,
        &[NULL, ANON],
    ),
];

/// The families of weak suites, each offered as one group, in the order they are probed.
pub const WEAK_FAMILIES: [Weakness; 6] = [
    Weakness::Null,
    Weakness::Anonymous,
    Weakness::Export,
    Weakness::Rc4,
    Weakness::Des,
    Weakness::TripleDes,
];

pub fn by_id(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|suite| suite.id == id)
}

/// The suite's name, or its number for a suite not listed here.
pub fn name(id: u16) -> String {
    by_id(id).map_or_else(|| format!("0x{id:04x}"), |suite| suite.name.to_owned())
}

/// Whether `suite` may be offered in a hello for `version` (the legacy version field).
pub fn usable_in(suite: &Suite, version: u16) -> bool {
    match version {
        0x0300 => suite.kx != Kx::Tls13 && !suite.tls12_only && !suite.ec,
        0x0301 | 0x0302 => suite.kx != Kx::Tls13 && !suite.tls12_only,
        0x0303 => suite.kx != Kx::Tls13,
        _ => suite.kx == Kx::Tls13,
    }
}

/// Every suite usable in `version`: what the version probes offer, so a server that only has
/// weak suites left is still seen to accept the version.
pub fn all_for(version: u16) -> Vec<u16> {
    SUITES
        .iter()
        .filter(|suite| usable_in(suite, version))
        .map(|suite| suite.id)
        .collect()
}

/// What a current browser offers for TLS 1.2 (ECDHE first, then DHE, then static RSA with
/// AES, and nothing weak): the list the forward-secrecy probe offers.
pub fn modern_client(version: u16) -> Vec<u16> {
    SUITES
        .iter()
        .filter(|suite| usable_in(suite, version) && suite.weaknesses.is_empty())
        .map(|suite| suite.id)
        .collect()
}

/// The suites of one weak family usable in `version`.
pub fn family(weakness: Weakness, version: u16) -> Vec<u16> {
    SUITES
        .iter()
        .filter(|suite| usable_in(suite, version) && suite.weaknesses.contains(&weakness))
        .map(|suite| suite.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_names_follow_their_kind() {
        for (index, suite) in SUITES.iter().enumerate() {
            assert!(
                SUITES[index + 1..].iter().all(|other| other.id != suite.id),
                "{} listed twice",
                suite.name
            );
            let anonymous = suite.name.contains("_anon_");
            assert_eq!(
                anonymous,
                suite.weaknesses.contains(&Weakness::Anonymous),
                "{}",
                suite.name
            );
            assert_eq!(
                suite.name.contains("_NULL_"),
                suite.weaknesses.contains(&Weakness::Null),
                "{}",
                suite.name
            );
            assert_eq!(
                suite.name.contains("RC4"),
                suite.weaknesses.contains(&Weakness::Rc4),
                "{}",
                suite.name
            );
            assert_eq!(
                suite.name.contains("EXPORT"),
                suite.weaknesses.contains(&Weakness::Export),
                "{}",
                suite.name
            );
            assert_eq!(
                suite.name.contains("3DES"),
                suite.weaknesses.contains(&Weakness::TripleDes),
                "{}",
                suite.name
            );
            let ephemeral =
                suite.name.contains("_ECDHE_") || suite.name.contains("_DHE_") || anonymous;
            if suite.kx != Kx::Tls13 {
                assert_eq!(suite.kx == Kx::Ephemeral, ephemeral, "{}", suite.name);
            }
            assert_eq!(suite.ec, suite.name.contains("_ECDH"), "{}", suite.name);
        }
    }

    #[test]
    fn cbc_with_sha1_is_not_weak_by_itself() {
        let cbc = by_id(0xc013).unwrap();
        assert_eq!(cbc.name, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
        assert!(cbc.weaknesses.is_empty());
        assert!(modern_client(0x0303).contains(&0xc013));
        assert!(modern_client(0x0303).contains(&0x002f));
    }

    #[test]
    fn lists_fit_their_version() {
        assert!(all_for(0x0304).iter().all(|id| id >> 8 == 0x13));
        // SSL 3.0 has neither elliptic curves nor TLS 1.2 suites.
        assert!(!all_for(0x0300).contains(&0xc013));
        assert!(!all_for(0x0300).contains(&0x009c));
        assert!(all_for(0x0300).contains(&0x000a));
        assert!(!all_for(0x0301).contains(&0xc02f));
        assert!(all_for(0x0303).contains(&0xc02f));
        assert_eq!(family(Weakness::Null, 0x0303).len(), 8);
        assert!(!family(Weakness::Null, 0x0301).contains(&0x003b));
        assert!(
            modern_client(0x0303)
                .iter()
                .all(|id| by_id(*id).unwrap().weaknesses.is_empty())
        );
        assert_eq!(name(0x000a), "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
        assert_eq!(name(0xfefe), "0xfefe");
    }
}
