//! The `ffuf` binary as the fuzzing engine (`S4E_CRAWL_FUZZER=ffuf`), for a deployment that
//! wants its matchers and auto-calibration: one run per directory, its JSON output read back
//! into hits.
//!
//! ffuf makes its own connections, so it is pointed at the address the egress policy
//! approved, with the URL's host sent as `Host`: it never resolves a name itself. Over HTTPS
//! the TLS handshake then names the address rather than the host (ffuf does not verify
//! certificates). The crawler's shared request budget does not reach into ffuf: its pace is
//! its own `-t` (the fuzzing concurrency) and the run is cut at the directory's time limit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::FuzzOptions;

/// A directory to fuzz with ffuf, at the address approved for it.
pub struct FfufRun<'a> {
    pub program: &'a Path,
    pub directory: &'a Url,
    pub addr: SocketAddr,
    pub words: &'a [&'a str],
    pub options: &'a FuzzOptions,
    pub time_limit: Duration,
}

/// What ffuf writes with `-of json`; only the results' URLs are read.
#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    results: Vec<OutputResult>,
}

#[derive(Deserialize)]
struct OutputResult {
    url: String,
}

/// Files of one run, removed when it ends however it ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl FfufRun<'_> {
    /// The URLs of the directory that ffuf reported, on the directory's own origin.
    pub async fn hits(&self) -> Result<Vec<Url>, String> {
        let scratch =
            Scratch(std::env::temp_dir().join(format!("s4e-ffuf-{}", uuid::Uuid::new_v4())));
        std::fs::create_dir_all(&scratch.0).map_err(|error| format!("ffuf: {error}"))?;
        let wordlist = scratch.0.join("words.txt");
        let output = scratch.0.join("results.json");
        std::fs::write(&wordlist, self.words.join("\n"))
            .map_err(|error| format!("ffuf: {error}"))?;
        let mut command = tokio::process::Command::new(self.program);
        command
            .args(self.arguments(&wordlist, &output))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|error| format!("ffuf: cannot run {}: {error}", self.program.display()))?;
        // ffuf stops itself at -maxtime; the margin is for its start and its output.
        let finished = tokio::time::timeout(
            self.time_limit + Duration::from_secs(5),
            child.wait_with_output(),
        )
        .await
        .map_err(|_| "ffuf: did not stop at its time limit".to_string())?
        .map_err(|error| format!("ffuf: {error}"))?;
        if !finished.status.success() {
            let stderr = String::from_utf8_lossy(&finished.stderr);
            return Err(format!(
                "ffuf: {}: {}",
                finished.status,
                stderr.trim().chars().take(300).collect::<String>()
            ));
        }
        let text = std::fs::read(&output).map_err(|error| format!("ffuf: no output: {error}"))?;
        let output: Output = serde_json::from_slice(&text)
            .map_err(|error| format!("ffuf: unreadable output: {error}"))?;
        Ok(output
            .results
            .iter()
            .filter_map(|result| self.on_origin(&result.url))
            .collect())
    }

    fn arguments(&self, wordlist: &Path, output: &Path) -> Vec<String> {
        let host = match self.directory.port() {
            Some(port) => format!("{}:{port}", self.directory.host_str().unwrap_or_default()),
            None => self.directory.host_str().unwrap_or_default().to_string(),
        };
        let mut arguments = vec![
            "-u".to_string(),
            format!(
                "{}://{}{}FUZZ",
                self.directory.scheme(),
                self.addr,
                self.directory.path()
            ),
            "-w".into(),
            wordlist.display().to_string(),
            "-H".into(),
            format!("Host: {host}"),
            "-t".into(),
            self.options.concurrency.to_string(),
            "-timeout".into(),
            self.options.timeout.as_secs().max(1).to_string(),
            "-maxtime".into(),
            self.time_limit.as_secs().max(1).to_string(),
            // Its own calibration against names that cannot exist, every status but 404.
            "-ac".into(),
            "-mc".into(),
            "all".into(),
            "-fc".into(),
            "404".into(),
            "-of".into(),
            "json".into(),
            "-o".into(),
            output.display().to_string(),
            "-s".into(),
        ];
        if !self.options.extensions.is_empty() {
            let extensions: Vec<String> = self
                .options
                .extensions
                .iter()
                .map(|extension| format!(".{}", extension.trim_start_matches('.')))
                .collect();
            arguments.extend(["-e".to_string(), extensions.join(",")]);
        }
        arguments
    }

    /// A result's URL (on the approved address) as the same path on the directory's origin;
    /// `None` for anything outside the directory.
    fn on_origin(&self, reported: &str) -> Option<Url> {
        let reported = Url::parse(reported).ok()?;
        let mut url = self.directory.clone();
        url.set_path(reported.path());
        url.set_query(reported.query());
        url.path().starts_with(self.directory.path()).then_some(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffuf_is_aimed_at_the_approved_address_with_the_host_named() {
        let directory = Url::parse("https://shop.example:8443/app/").unwrap();
        let options = FuzzOptions {
            concurrency: 12,
            extensions: vec!["php".into(), ".bak".into()],
            ..FuzzOptions::default()
        };
        let run = FfufRun {
            program: Path::new("ffuf"),
            directory: &directory,
            addr: "192.0.2.7:8443".parse().unwrap(),
            words: &["admin"],
            options: &options,
            time_limit: Duration::from_secs(90),
        };
        let arguments = run.arguments(Path::new("/w"), Path::new("/o"));
        let after = |flag: &str| {
            let at = arguments.iter().position(|a| a == flag).unwrap();
            arguments[at + 1].as_str()
        };
        assert_eq!(after("-u"), "https://192.0.2.7:8443/app/FUZZ");
        assert_eq!(after("-H"), "Host: shop.example:8443");
        assert_eq!(after("-t"), "12");
        assert_eq!(after("-maxtime"), "90");
        assert_eq!(after("-e"), ".php,.bak");
        assert_eq!(
            run.on_origin("https://192.0.2.7:8443/app/admin?x=1")
                .unwrap()
                .as_str(),
            "https://shop.example:8443/app/admin?x=1"
        );
        assert_eq!(run.on_origin("https://192.0.2.7:8443/elsewhere"), None);
    }
}
