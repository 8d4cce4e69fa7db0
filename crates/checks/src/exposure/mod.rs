//! The exposure check: sensitive files and paths a site serves by mistake.
//!
//! Paths are requested from the site's root (`paths.rs`: `.git`, `.env`, backups and dumps,
//! `.htpasswd`, server-status, phpinfo, `.DS_Store`, OpenAPI/Swagger, Spring actuator, Go
//! pprof, Laravel Ignition), one GET each with a small body limit, at most
//! [`CONCURRENCY`] at once, all within one deadline. Django's debug page is recognised on the
//! answers to the baseline requests, the unknown paths it is shown on.
//!
//! Two findings rules keep it free of false positives: an answer counts only when it is a
//! 2xx whose content the path's validator recognises (`content.rs`; a 200 alone is never a
//! finding), and never when it looks like the answers to two random, never-existing paths
//! requested first (`soft404.rs`: sites that answer everything with their home page).
//!
//! Rules (stable `rule` names): `git_repository_exposed`, `env_file_exposed`,
//! `backup_file_exposed`, `password_file_exposed`, `server_status_exposed`, `phpinfo_exposed`,
//! `ds_store_exposed`, `api_documentation_exposed`, `debug_endpoint_exposed`. The location is
//! the full URL of the exposed path, so each path is its own finding.
//!
//! The baseline requests must be answered, or the check fails with their error; a later
//! request that fails on its own is logged and judged as no answer. A request still
//! unanswered at the deadline fails the check with [`CheckError::Timeout`] rather than
//! reporting a partial judgement.

mod content;
mod paths;
mod soft404;

/// Whether this check asks every site for `path` (what the crawler leaves to it).
pub fn probes(path: &str) -> bool {
    paths::PROBES.iter().any(|probe| probe.path == path)
}

/// The rules whose files may sit in any directory (a repository, an environment file, a
/// backup or dump, a password file, phpinfo, `.DS_Store`), not only at an application's root
/// as API documents and framework endpoints do.
const FILE_RULES: [&str; 6] = [
    "git_repository_exposed",
    "env_file_exposed",
    "backup_file_exposed",
    "password_file_exposed",
    "phpinfo_exposed",
    "ds_store_exposed",
];

fn file_probes() -> impl Iterator<Item = &'static Probe> {
    paths::PROBES
        .iter()
        .filter(|probe| FILE_RULES.contains(&probe.meta.id))
}

/// The names of this check's files relative to a directory (`.git/HEAD`, `.env`,
/// `backup.zip`, …): what the crawler asks for in every directory it discovers.
pub fn file_names() -> Vec<&'static str> {
    file_probes()
        .map(|probe| probe.path.trim_start_matches('/'))
        .collect()
}

/// An answer at `url` (from a crawl, in any directory) judged as this check judges its own:
/// a 2xx whose content is what one of its file names says, located at `url`, reported under
/// `check`. The crawl's soft-404 filtering comes first; the content test is what counts here.
pub fn judge_file(check: CheckKind, url: &Url, status: u16, body: &[u8]) -> Option<FindingDraft> {
    if !(200..300).contains(&status) {
        return None;
    }
    let probe = file_probes().find(|probe| url.path().ends_with(probe.path))?;
    let proof = (probe.validate)(body)?;
    Some(probe.meta.titled(
        check,
        url.as_str(),
        &format!("{} exposed", probe.what),
        json!({
            "status": status,
            "length": body.len(),
            "proof": crate::rule::excerpt(&proof),
        }),
    ))
}

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use reqwest::Method;
use s4e_egress::ReachError;
use s4e_egress::http::{self, Fetched, Pinned, Request};
use s4e_types::{CheckKind, FindingDraft};
use serde_json::json;
use tokio::time::Instant;
use url::Url;

use self::paths::Probe;
use self::soft404::Baseline;
use crate::probe_log::token;
use crate::{CheckContext, CheckError, CheckOutput, ProbeLog, ProbeRecord, Target};
use s4e_types::inventory::Observations;

/// Requests in flight at once: quick on a healthy site, gentle on a small one.
pub const CONCURRENCY: usize = 8;

/// Every validator recognises its file from the first few KiB.
const BODY_LIMIT: usize = 32 * 1024;

/// Probes the target's site (an http or https URL) for exposed files and judges the answers.
///
/// The address is approved by the context's egress policy before any connection; its timeout
/// bounds the whole check.
pub async fn run(
    target: &Target,
    context: &CheckContext,
) -> Result<CheckOutput<ProbeLog>, CheckError> {
    let timeout = context.timeout;
    let started = Instant::now();
    let deadline = started + timeout;
    let (url, addr) = http::approve(&target.address, &context.egress, deadline, timeout).await?;
    tracing::debug!(%url, %addr, "exposure: requesting");
    let sender = Sender {
        pinned: Pinned::new(&url, addr)?,
        url: &url,
        deadline,
        timeout,
    };
    let mut log = ProbeLog {
        url: url.to_string(),
        ..ProbeLog::default()
    };
    let mut findings = Vec::new();

    let token = token();
    let baseline_paths = [format!("/{token}"), format!("/.{token}.bak")];
    let (first, second) = tokio::join!(
        sender.get("baseline", &baseline_paths[0]),
        sender.get("baseline", &baseline_paths[1]),
    );
    let mut baselines = Vec::new();
    for (path, (record, result)) in baseline_paths.iter().zip([first, second]) {
        log.requests.push(record);
        let fetched = result?;
        findings.extend(judge_baseline(&url, &fetched));
        baselines.push(Baseline::new(fetched.raw.status, &fetched.body, path));
    }
    // Reported once, at the site's root, however many baselines showed it.
    findings.dedup_by(|a, b| a.rule == b.rule && a.location == b.location);

    // The futures are built first and then driven `CONCURRENCY` at a time: a stream mapping
    // with a closure would make the whole check's future not `Send` (the closure's borrow of
    // a probe is inferred as higher-ranked), and workers run checks on spawned tasks.
    let requests: Vec<_> = paths::PROBES
        .iter()
        .enumerate()
        .map(|(index, probe)| {
            let sender = &sender;
            async move {
                let (record, result) = sender.get(probe_name(probe), probe.path).await;
                (index, record, result)
            }
        })
        .collect();
    let mut answers: Vec<(usize, ProbeRecord, Result<Fetched, ReachError>)> =
        stream::iter(requests)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    answers.sort_by_key(|(index, _, _)| *index);
    for (index, record, result) in answers {
        log.requests.push(record);
        let fetched = match result {
            Ok(fetched) => fetched,
            Err(ReachError::Timeout(timeout)) => return Err(CheckError::Timeout(timeout)),
            Err(_) => continue,
        };
        findings.extend(judge(&url, &paths::PROBES[index], &fetched, &baselines));
    }
    log.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::debug!(%url, findings = findings.len(), "exposure: judged");
    Ok(CheckOutput {
        findings,
        raw: log,
        observed: Observations::default(),
    })
}

/// The probe's name in the log: the rule it may prove.
fn probe_name(probe: &Probe) -> &'static str {
    probe.meta.id
}

/// A finding when the answer is a 2xx, not a soft-404, and its content is what the path names.
fn judge(
    site: &Url,
    probe: &Probe,
    fetched: &Fetched,
    baselines: &[Baseline],
) -> Option<FindingDraft> {
    let status = fetched.raw.status;
    if !(200..300).contains(&status)
        || soft404::is_soft_404(baselines, status, &fetched.body, probe.path)
    {
        return None;
    }
    let proof = (probe.validate)(&fetched.body)?;
    let location = site.join(probe.path).ok()?;
    Some(probe.meta.titled(
        CheckKind::Exposure,
        location.as_str(),
        &format!("{} exposed", probe.what),
        json!({
            "status": status,
            "length": fetched.body.len(),
            "proof": crate::rule::excerpt(&proof),
        }),
    ))
}

/// Django's debug page on a never-existing path: shown with status 404, and recognised by
/// content precise enough to need neither a 2xx nor a baseline.
fn judge_baseline(site: &Url, fetched: &Fetched) -> Option<FindingDraft> {
    let probe = &paths::DJANGO_DEBUG;
    let proof = (probe.validate)(&fetched.body)?;
    let location = site.join(probe.path).ok()?;
    Some(probe.meta.titled(
        CheckKind::Exposure,
        location.as_str(),
        &format!("{} on", probe.what),
        json!({
            "status": fetched.raw.status,
            "length": fetched.body.len(),
            "proof": crate::rule::excerpt(&proof),
        }),
    ))
}

/// What every request of one run shares.
struct Sender<'a> {
    pinned: Pinned,
    url: &'a Url,
    deadline: Instant,
    timeout: Duration,
}

impl Sender<'_> {
    /// GETs `path` from the site's root.
    async fn get(&self, name: &str, path: &str) -> (ProbeRecord, Result<Fetched, ReachError>) {
        let request = Request::new(Method::GET, BODY_LIMIT);
        let url = match self.url.join(path) {
            Ok(url) => url,
            Err(err) => {
                let result = Err(ReachError::InvalidTarget(format!("{path}: {err}")));
                return (ProbeRecord::of(name, &request, self.url, &result), result);
            }
        };
        let result = self
            .pinned
            .send(&url, &request, self.deadline, self.timeout)
            .await;
        (ProbeRecord::of(name, &request, &url, &result), result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_this_check_in_any_directory_is_judged_by_its_content() {
        let url = Url::parse("https://shop.example/app/config/.env").unwrap();
        let env = b"APP_KEY=base64:abc\nDB_PASSWORD=hunter2\n";
        let finding = judge_file(CheckKind::Crawl, &url, 200, env).unwrap();
        assert_eq!(finding.rule, "env_file_exposed");
        assert_eq!(finding.location, url.as_str());
        assert_eq!(finding.check, CheckKind::Crawl);
        assert!(!finding.evidence.to_string().contains("hunter2"));
        // A page where the file should be, a refusal, a name of no file rule: nothing.
        assert!(judge_file(CheckKind::Crawl, &url, 200, b"<html>not here</html>").is_none());
        assert!(judge_file(CheckKind::Crawl, &url, 403, env).is_none());
        let docs = Url::parse("https://shop.example/app/swagger.json").unwrap();
        assert!(judge_file(CheckKind::Crawl, &docs, 200, br#"{"swagger":"2.0"}"#).is_none());
        let names = file_names();
        assert!(names.contains(&".git/HEAD") && names.contains(&"backup.zip"));
        assert!(!names.contains(&"swagger.json"));
    }
}
