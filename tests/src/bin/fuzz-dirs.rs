//! Directory fuzzing benchmark: the crawler's fuzzing engine and Debian's ffuf (`apt-get install
//! -y ffuf`) with the same wordlist and the same concurrency against the same local server,
//! once answering 404 for what is not there and once a soft-404 server (200 for everything,
//! echoing the path; ffuf with `-ac`, its auto-calibration). Requests per second and hits, true
//! and false, side by side.
//!
//! ```text
//! cargo run --release -p s4e-e2e --bin fuzz-dirs -- [--words N] [--concurrency N]
//! ```

use std::collections::BTreeSet;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use s4e_crawler::fuzz::{self, FuzzOptions};
use s4e_egress::http::Pinned;
use s4e_test_support::listener;
use url::Url;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One word in this many is on the server.
const HIDDEN_EVERY: usize = 50;

struct Run {
    tool: &'static str,
    mode: &'static str,
    time: Duration,
    requests: usize,
    hits: BTreeSet<String>,
}

#[derive(Clone)]
struct Server {
    hidden: Arc<BTreeSet<String>>,
    soft_404: bool,
}

async fn answer(State(server): State<Server>, uri: Uri) -> Response {
    let name = uri.path().trim_start_matches('/');
    if server.hidden.contains(name) {
        return Html(format!(
            "<html><title>{name}</title><p>The real {name} page.</p></html>"
        ))
        .into_response();
    }
    if server.soft_404 {
        return Html(format!(
            "<html><body><p>Sorry, /{name} does not exist here.</p></body></html>"
        ))
        .into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

#[tokio::main]
async fn main() -> ExitCode {
    match bench().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fuzz-dirs: {message}");
            ExitCode::FAILURE
        }
    }
}

fn arg(name: &str, default: usize) -> Result<usize, String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == name {
            return args
                .next()
                .and_then(|value| value.parse().ok())
                .ok_or(format!("{name} takes a number"));
        }
    }
    Ok(default)
}

async fn bench() -> Result<(), String> {
    let total = arg("--words", 20_000)?;
    let concurrency = arg("--concurrency", 40)?;
    if Command::new("ffuf").arg("-V").output().is_err() {
        return Err("ffuf is not installed: apt-get install -y ffuf".into());
    }
    // The bundled list, then made-up names, to `total` words.
    let mut words: Vec<String> = fuzz::bundled_words()
        .iter()
        .map(|w| w.to_string())
        .collect();
    words.extend((words.len()..total).map(|i| format!("entry-{i:05}")));
    words.truncate(total);
    let hidden: BTreeSet<String> = words.iter().step_by(HIDDEN_EVERY).cloned().collect();
    let list = std::env::temp_dir().join(format!("fuzz-dirs-{}.txt", std::process::id()));
    std::fs::write(&list, words.join("\n")).map_err(|e| e.to_string())?;

    let mut runs = Vec::new();
    for (mode, soft_404) in [("404", false), ("soft-404", true)] {
        let server = listener().await;
        let addr = server.local_addr().map_err(|e| e.to_string())?;
        let router = axum::Router::new().fallback(answer).with_state(Server {
            hidden: Arc::new(hidden.clone()),
            soft_404,
        });
        let serving = tokio::spawn(async move { axum::serve(server, router).await });
        let directory = Url::parse(&format!("http://{addr}/")).map_err(|e| e.to_string())?;

        let client = Pinned::new(&directory, addr).map_err(|e| e.to_string())?;
        let options = FuzzOptions {
            concurrency,
            ..FuzzOptions::default()
        };
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        let outcome =
            fuzz::fuzz_directory(&client, &directory, &refs, &options, deadline, || async {}).await;
        runs.push(Run {
            tool: "s4e fuzz",
            mode,
            time: started.elapsed(),
            requests: outcome.requests,
            hits: outcome
                .hits
                .iter()
                .map(|hit| hit.url.trim_start_matches(directory.as_str()).to_string())
                .collect(),
        });

        let output = std::env::temp_dir().join(format!("fuzz-dirs-{}.json", std::process::id()));
        let mut command = Command::new("ffuf");
        command
            .args(["-w"])
            .arg(&list)
            .args(["-u", &format!("{directory}FUZZ")])
            .args([
                "-t",
                &concurrency.to_string(),
                "-mc",
                "all",
                "-fc",
                "404",
                "-s",
            ])
            .args(["-of", "json", "-o"])
            .arg(&output);
        if soft_404 {
            command.arg("-ac");
        }
        let started = Instant::now();
        let status = command.output().map_err(|e| format!("ffuf: {e}"))?;
        let time = started.elapsed();
        if !status.status.success() {
            return Err(format!(
                "ffuf failed: {}",
                String::from_utf8_lossy(&status.stderr)
            ));
        }
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&output).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        let hits = report["results"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .filter_map(|result| result["input"]["FUZZ"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let _ = std::fs::remove_file(&output);
        runs.push(Run {
            tool: "ffuf",
            mode,
            time,
            // ffuf asks each word once (and a few calibration names with -ac).
            requests: words.len(),
            hits,
        });
        serving.abort();
    }
    let _ = std::fs::remove_file(&list);

    println!(
        "{:<10} {:<9} {:>8} {:>9} {:>11} {:>6} {:>10}",
        "tool", "server", "seconds", "requests", "requests/s", "hits", "false hits"
    );
    for run in &runs {
        let false_hits = run.hits.difference(&hidden).count();
        println!(
            "{:<10} {:<9} {:>8.2} {:>9} {:>11.0} {:>6} {:>10}",
            run.tool,
            run.mode,
            run.time.as_secs_f64(),
            run.requests,
            run.requests as f64 / run.time.as_secs_f64(),
            run.hits.intersection(&hidden).count(),
            false_hits
        );
    }
    println!("hidden names: {}", hidden.len());
    Ok(())
}
