//! The TLS protocol check: which protocol versions a server accepts, whether it accepts weak
//! cipher suites, and what it chooses for a modern client.
//!
//! rustls cannot offer SSL 3.0, TLS 1.0/1.1 or weak suites, so each probe is a ClientHello
//! made by hand (`hello.rs`) offering one version and a list of suites; the server's answer
//! (`reply.rs`) says whether it accepts them: a ServerHello names the version and the suite it
//! chose; an alert, a closed or reset connection is a refusal. The handshake is never
//! finished. One TCP connection per probe (`probe.rs`), one after another, all to the one
//! address the egress policy approved; the host name goes in SNI.
//!
//! The probes, in order (about a dozen connections for a well-configured server):
//! 1. one per version: TLS 1.3, 1.2, 1.1, 1.0 and SSL 3.0, each offering every suite this
//!    module knows for that version (so a server left with only weak suites is still seen);
//! 2. at the newest version below 1.3 the server accepts: the suites a current browser offers
//!    for TLS 1.2, to see whether it picks one with forward secrecy;
//! 3. at that version, each weak family (NULL, anonymous, export, RC4, DES, 3DES) offered as
//!    one group; when the server picks one, the group is offered again without it, up to
//!    [`MAX_SUITES_PER_FAMILY`] suites named per family.
//!
//! Each probe gets at most a quarter of the check's time, so a server that ignores one kind of
//! hello (some drop SSL 3.0 silently) still gets judged; that probe counts as a refusal. When
//! the check's own deadline passes, or no version probe is answered, it is a timeout. A
//! server that accepts none of the versions (or answers in something other than TLS) is an
//! error: `CheckError::Unreachable("no TLS handshake: …")`. The rules are in `rules.rs`.

mod hello;
mod probe;
mod reply;
mod rules;
mod suites;

use std::net::SocketAddr;
use std::time::Duration;

use s4e_types::CheckKind;
use serde::Serialize;
use tokio::time::Instant;
use url::Host;

use s4e_egress::http;

use crate::tls_cert::{host_name, io_reason, location, target_host_port};
use crate::{CheckContext, CheckError, CheckOutput, Target};
use hello::{SSL3, TLS10, TLS11, TLS12, TLS13, version_name};
use probe::Answer;
use reply::Reply;
pub use rules::WeakSuite;
use s4e_types::inventory::Observations;
pub use suites::Weakness;

/// Narrowing a weak family down stops after naming this many accepted suites: the finding
/// is the same with more, and each one costs a connection.
pub const MAX_SUITES_PER_FAMILY: usize = 3;

/// The versions probed, newest first.
const VERSIONS: [u16; 5] = [TLS13, TLS12, TLS11, TLS10, SSL3];

/// The check's raw output: what the server accepted, and every hello sent.
#[derive(Clone, Debug, Serialize)]
pub struct TlsProtocolsRaw {
    /// The host checked, as given (an IPv6 address without brackets).
    pub host: String,
    /// The address the egress policy approved; the only one connected to.
    pub address: SocketAddr,
    /// The versions the server accepted, newest first (`TLSv1.3`, …).
    pub protocols: Vec<String>,
    /// The version the suite probes used: the newest accepted below TLS 1.3.
    pub suites_probed_with: Option<String>,
    /// The suite chosen for a modern client's list at that version.
    pub modern_choice: Option<String>,
    /// The weak suites the server accepted.
    pub weak_suites: Vec<WeakSuite>,
    /// Every hello sent and what came back.
    pub probes: Vec<ProbeRecord>,
    /// From the first connection to the last answer.
    pub elapsed_ms: u64,
}

/// One hello and its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeRecord {
    /// Why it was sent: `tls1_2`, `modern_client`, `weak_rc4`, …
    pub probe: String,
    /// The version offered.
    pub version: String,
    /// How many suites were offered.
    pub suites: usize,
    /// `TLSv1.2 TLS_RSA_WITH_AES_128_GCM_SHA256`, `alert handshake_failure`, `closed`,
    /// `no answer`, or why the answer is not TLS.
    pub answer: String,
}

/// Connects to `target` (an `https://host[:port]/` URL, or `host[:port]`; port 443 unless
/// given), finds the protocol versions and weak suites the server accepts and judges them.
///
/// The context's timeout bounds resolving and every probe together.
pub async fn run(
    target: &Target,
    context: &CheckContext,
) -> Result<CheckOutput<TlsProtocolsRaw>, CheckError> {
    let timeout = context.timeout;
    let started = Instant::now();
    let deadline = started + timeout;
    let (host, port) = target_host_port(&target.address)?;
    let (_, address) = http::approve(
        &format!("https://{host}:{port}/"),
        &context.egress,
        deadline,
        timeout,
    )
    .await?;
    let host_text = host_name(&host);
    let sni = match &host {
        Host::Domain(domain) => Some(domain.clone()),
        Host::Ipv4(_) | Host::Ipv6(_) => None,
    };
    tracing::debug!(host = %host_text, %address, "tls_protocols: probing");
    let mut prober = Prober {
        address,
        sni,
        timeout,
        deadline,
        per_probe: timeout / 4,
        log: Vec::new(),
    };

    let mut accepted: Vec<u16> = Vec::new();
    let mut answers: Vec<Answer> = Vec::new();
    for version in VERSIONS {
        let offered = suites::all_for(version);
        let name = probe_name(version);
        let answer = prober.send(&name, version, &offered).await?;
        if chosen(&answer, version, &offered).is_some() {
            accepted.push(version);
        }
        answers.push(answer);
    }
    if accepted.is_empty() {
        return Err(no_handshake(&answers, address, timeout));
    }

    let suites_version = accepted.iter().copied().find(|version| *version < TLS13);
    let mut modern_choice = None;
    let mut weak = Vec::new();
    let mut incomplete = Vec::new();
    if let Some(version) = suites_version {
        let offered = suites::modern_client(version);
        let answer = prober.send("modern_client", version, &offered).await?;
        modern_choice = chosen(&answer, version, &offered);
        for family in suites::WEAK_FAMILIES {
            let complete = prober.weak_family(family, version, &mut weak).await?;
            if !complete {
                incomplete.push(family);
            }
        }
    }

    let weak_suites: Vec<WeakSuite> = weak
        .iter()
        .map(|id| WeakSuite {
            name: suites::name(*id),
            weaknesses: suites::by_id(*id)
                .map(|suite| suite.weaknesses.to_vec())
                .unwrap_or_default(),
        })
        .collect();
    let location = location(&host_text, port);
    let findings = rules::findings_for(&rules::Observed {
        check: CheckKind::TlsProtocols,
        location: &location,
        accepted: &accepted,
        suites_version,
        weak: &weak_suites,
        weak_incomplete: &incomplete,
        modern_choice,
    });
    tracing::debug!(
        host = %host_text, %address, probes = prober.log.len(), findings = findings.len(),
        "tls_protocols: checked"
    );
    Ok(CheckOutput {
        observed: Observations::default(),
        findings,
        raw: TlsProtocolsRaw {
            host: host_text,
            address,
            protocols: accepted.iter().map(|v| version_name(*v)).collect(),
            suites_probed_with: suites_version.map(version_name),
            modern_choice: modern_choice.map(suites::name),
            weak_suites,
            probes: prober.log,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        },
    })
}

/// `tls1_2`, `ssl3`: the name of a version probe.
fn probe_name(version: u16) -> String {
    match version {
        SSL3 => "ssl3".into(),
        TLS10 => "tls1_0".into(),
        TLS11 => "tls1_1".into(),
        TLS12 => "tls1_2".into(),
        _ => "tls1_3".into(),
    }
}

/// The suite the server chose, when it accepted `version` with one of the suites `offered`.
/// A ServerHello for another version (a server answering 1.2 to a 1.0 hello) or with a suite
/// never offered accepts nothing.
fn chosen(answer: &Answer, version: u16, offered: &[u16]) -> Option<u16> {
    match answer {
        Answer::Reply(Reply::Hello(hello))
            if hello.version == version && offered.contains(&hello.suite) =>
        {
            Some(hello.suite)
        }
        _ => None,
    }
}

/// Why a server that accepted no version is an error: silence is a timeout, anything but TLS
/// says so, and refusals are listed.
fn no_handshake(answers: &[Answer], address: SocketAddr, timeout: Duration) -> CheckError {
    if answers.iter().all(|answer| *answer == Answer::Silent) {
        return CheckError::Timeout(timeout);
    }
    if let Some(reason) = answers.iter().find_map(|answer| match answer {
        Answer::Reply(Reply::NotTls(reason)) => Some(reason),
        _ => None,
    }) {
        return CheckError::Unreachable(format!("no TLS handshake: {reason} ({address})"));
    }
    CheckError::Unreachable(format!(
        "no TLS handshake: the server accepted none of TLS 1.3, 1.2, 1.1, 1.0 and SSL 3.0 \
         with the suites offered ({address})"
    ))
}

/// Sends the probes, one connection each, and logs them.
struct Prober {
    address: SocketAddr,
    sni: Option<String>,
    timeout: Duration,
    deadline: Instant,
    per_probe: Duration,
    log: Vec<ProbeRecord>,
}

impl Prober {
    /// One hello offering `suites` at `version`. A failed connect is `Unreachable`; the
    /// check's deadline passing is `Timeout`.
    async fn send(
        &mut self,
        probe: &str,
        version: u16,
        suites: &[u16],
    ) -> Result<Answer, CheckError> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(CheckError::Timeout(self.timeout));
        }
        let probe_deadline = self.deadline.min(now + self.per_probe);
        let hello = hello::client_hello(version, suites, self.sni.as_deref());
        let answer = probe::exchange(self.address, &hello, probe_deadline)
            .await
            .map_err(|err| {
                CheckError::Unreachable(format!("{} ({})", io_reason(&err), self.address))
            })?;
        if answer == Answer::Silent && Instant::now() >= self.deadline {
            return Err(CheckError::Timeout(self.timeout));
        }
        self.log.push(ProbeRecord {
            probe: probe.to_owned(),
            version: version_name(version),
            suites: suites.len(),
            answer: describe(&answer),
        });
        Ok(answer)
    }

    /// Offers the suites of `family` not already found, and again without each one the server
    /// picks, adding what it accepts to `found`. False when it stopped with more to try.
    async fn weak_family(
        &mut self,
        family: Weakness,
        version: u16,
        found: &mut Vec<u16>,
    ) -> Result<bool, CheckError> {
        let mut offered: Vec<u16> = suites::family(family, version)
            .into_iter()
            .filter(|id| !found.contains(id))
            .collect();
        let mut named = 0;
        while !offered.is_empty() {
            if named == MAX_SUITES_PER_FAMILY {
                return Ok(false);
            }
            let probe = format!("weak_{}", family.as_str());
            let answer = self.send(&probe, version, &offered).await?;
            let Some(suite) = chosen(&answer, version, &offered) else {
                break;
            };
            found.push(suite);
            offered.retain(|id| *id != suite);
            named += 1;
        }
        Ok(true)
    }
}

fn describe(answer: &Answer) -> String {
    match answer {
        Answer::Silent => "no answer".into(),
        Answer::Reply(Reply::Hello(hello)) => {
            let retry = if hello.retry { " (retry request)" } else { "" };
            format!(
                "{} {}{retry}",
                version_name(hello.version),
                suites::name(hello.suite)
            )
        }
        Answer::Reply(Reply::Alert { description, .. }) => {
            format!("alert {}", reply::alert_name(*description))
        }
        Answer::Reply(Reply::Closed) => "closed".into(),
        Answer::Reply(Reply::NotTls(reason)) => reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reply::ServerHello;

    fn hello(version: u16, suite: u16) -> Answer {
        Answer::Reply(Reply::Hello(ServerHello {
            version,
            suite,
            retry: false,
        }))
    }

    #[test]
    fn only_the_version_and_a_suite_offered_count_as_accepted() {
        assert_eq!(
            chosen(&hello(TLS10, 0x002f), TLS10, &[0x002f]),
            Some(0x002f)
        );
        // A server answering 1.2 to a 1.0 hello does not accept 1.0.
        assert_eq!(chosen(&hello(TLS12, 0x002f), TLS10, &[0x002f]), None);
        // Nor does one choosing a suite nobody offered.
        assert_eq!(chosen(&hello(TLS10, 0x0005), TLS10, &[0x002f]), None);
        let refused = Answer::Reply(Reply::Alert {
            level: 2,
            description: 40,
        });
        assert_eq!(chosen(&refused, TLS10, &[0x002f]), None);
        assert_eq!(chosen(&Answer::Silent, TLS10, &[0x002f]), None);
    }

    #[test]
    fn no_version_accepted_is_an_error_that_says_why() {
        let address: SocketAddr = "192.0.2.1:443".parse().unwrap();
        let timeout = Duration::from_secs(3);
        let silent = [Answer::Silent, Answer::Silent];
        assert!(matches!(
            no_handshake(&silent, address, timeout),
            CheckError::Timeout(t) if t == timeout
        ));
        let garbage = [
            Answer::Silent,
            Answer::Reply(Reply::NotTls("the answer is not TLS: \"SSH-2.0\"".into())),
        ];
        assert_eq!(
            no_handshake(&garbage, address, timeout).to_string(),
            "target unreachable: no TLS handshake: the answer is not TLS: \"SSH-2.0\" \
             (192.0.2.1:443)"
        );
        let refused = [Answer::Reply(Reply::Closed), Answer::Silent];
        assert!(
            no_handshake(&refused, address, timeout)
                .to_string()
                .contains("accepted none of")
        );
    }

    #[test]
    fn answers_are_described_for_the_log() {
        assert_eq!(
            describe(&hello(TLS12, 0xc02f)),
            "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        let retry = Answer::Reply(Reply::Hello(ServerHello {
            version: TLS13,
            suite: 0x1301,
            retry: true,
        }));
        assert_eq!(
            describe(&retry),
            "TLSv1.3 TLS13_AES_128_GCM_SHA256 (retry request)"
        );
        assert_eq!(describe(&Answer::Silent), "no answer");
        assert_eq!(describe(&Answer::Reply(Reply::Closed)), "closed");
    }
}
