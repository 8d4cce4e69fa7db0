//! Crawl benchmark: a large static site served locally (by default the Rust documentation of
//! the toolchain that builds this: `std/`, then the ~17× larger `core/`), crawled by
//! s4e-crawler and by Debian's wget2 (`wget2 --spider --recursive`, `apt-get install -y
//! wget2`) with the same concurrency against the same server; pages per second, pages found
//! and the crawler's peak resident memory side by side.
//!
//! ```text
//! cargo run --release -p s4e-e2e --bin crawl-site -- [--concurrency N] [--docs DIR] [--headless] [SITE...]
//! ```
//!
//! With `--headless`, each site is crawled a third time with every page also rendered in
//! Chromium (`S4E_CRAWL_HEADLESS=true`, `CHROMIUM` or `chromium` on `PATH`): what the headless
//! mode costs per page.
//!
//! A SITE is a directory of the documentation (`std`, `core`), or `gen<N>`: a generated site of
//! N pages of one shape, for memory at 1× and 10× the size.
//!
//! The crawler runs as a process of its own (this program started again in the crawler's
//! role), against the real infrastructure (`scripts/lib.sh`'s servers) and a base in this
//! process, so its peak RSS (`VmHWM`) is its own; wget2's comes from `/usr/bin/time`. "Pages"
//! are the distinct paths the server answered 200 during the run: one measure for both tools.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use s4e_bus::{Bus, BusOptions, Exchange};
use s4e_client::BaseClient;
use s4e_runtime::{CommonConfig, Service, ServiceToken};
use s4e_test_support::{TestEnv, listener, wait_for};
use s4e_types::api::{NewScanJob, NewScanRun};
use s4e_types::{AssetKind, CheckKind, Envelope, JobSpec, Message, NewAsset, RunStatus};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Set in the environment of this program started again as the crawler.
const ROLE: &str = "S4E_BENCH_ROLE";
const DEFAULT_CONCURRENCY: usize = 16;

struct Outcome {
    tool: &'static str,
    site: String,
    time: Duration,
    pages: usize,
    peak_rss_kib: u64,
}

fn main() -> ExitCode {
    if std::env::var(ROLE).as_deref() == Ok("crawler") {
        return match s4e_runtime::main::<s4e_crawler::Config>() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    match runtime.block_on(bench()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("crawl-site: {message}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    concurrency: usize,
    headless: bool,
    docs: PathBuf,
    sites: Vec<String>,
}

fn args() -> Result<Args, String> {
    let mut concurrency = DEFAULT_CONCURRENCY;
    let mut headless = false;
    let mut docs = None;
    let mut sites = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--concurrency" => {
                concurrency = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .ok_or("--concurrency takes a number")?;
            }
            "--headless" => headless = true,
            "--docs" => docs = Some(PathBuf::from(args.next().ok_or("--docs takes a path")?)),
            site => sites.push(site.trim_matches('/').to_string()),
        }
    }
    let docs = match docs {
        Some(docs) => docs,
        None => {
            let sysroot = Command::new("rustc")
                .args(["--print", "sysroot"])
                .output()
                .map_err(|error| format!("rustc --print sysroot: {error}"))?;
            PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim())
                .join("share/doc/rust/html")
        }
    };
    if sites.is_empty() {
        sites = vec!["std".into(), "core".into()];
    }
    Ok(Args {
        concurrency,
        headless,
        docs,
        sites,
    })
}

/// The static server: files under its root, and the distinct paths it answered 200.
#[derive(Clone)]
struct Site {
    root: Arc<PathBuf>,
    served: Arc<Mutex<HashSet<String>>>,
}

/// A generated site of `pages` pages of one shape (about 6 KB each, 20 links to other pages),
/// so that the same crawl can be measured at 1× and 10× its size.
fn generated_page(pages: usize, path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let links = |from: usize| -> String {
        (0..20)
            .map(|k| {
                format!(
                    "<li><a href=\"p{}.html\">page {k}</a></li>",
                    (from * 31 + k * 97 + 1) % pages
                )
            })
            .collect()
    };
    let filler = "<p>Generated text to give the page the size of a real one. </p>".repeat(90);
    if file == "index.html" {
        return Some(format!(
            "<html><title>Index</title><ul>{}</ul>{filler}</html>",
            links(0)
        ));
    }
    let index: usize = file
        .strip_prefix('p')?
        .strip_suffix(".html")?
        .parse()
        .ok()?;
    (index < pages).then(|| {
        format!(
            "<html><title>Page {index}</title><ul>{}</ul>{filler}</html>",
            links(index)
        )
    })
}

async fn serve_file(State(site): State<Site>, uri: Uri) -> Response {
    let path = uri.path();
    // `/gen<N>/…`: the generated site of N pages.
    if let Some(rest) = path.strip_prefix("/gen")
        && let Some((pages, _)) = rest.split_once('/')
        && let Ok(pages) = pages.parse::<usize>()
    {
        let Some(body) = generated_page(pages, path) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        site.served
            .lock()
            .expect("not poisoned")
            .insert(path.to_string());
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    }
    if path.split('/').any(|segment| segment == "..") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let mut file = site.root.join(path.trim_start_matches('/'));
    if path.ends_with('/') {
        file.push("index.html");
    }
    let Ok(body) = tokio::fs::read(&file).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    site.served
        .lock()
        .expect("not poisoned")
        .insert(path.to_string());
    let content_type = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "application/javascript",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn bench() -> Result<(), String> {
    let args = args()?;
    if !args.docs.is_dir() {
        return Err(format!("{} is not a directory", args.docs.display()));
    }
    if Command::new("wget2").arg("--version").output().is_err() {
        return Err("wget2 is not installed: apt-get install -y wget2".into());
    }
    let site = Site {
        root: Arc::new(args.docs.clone()),
        served: Arc::new(Mutex::new(HashSet::new())),
    };
    let server = listener().await;
    let origin = format!("http://{}", server.local_addr().map_err(|e| e.to_string())?);
    let router = axum::Router::new()
        .fallback(serve_file)
        .with_state(site.clone());
    tokio::spawn(async move { axum::serve(server, router).await });

    let env = TestEnv::new().await.map_err(|e| e.to_string())?;
    let base = s4e_base::Config {
        common: CommonConfig::new(
            ServiceToken::new(&env.service_token).map_err(|e| e.to_string())?,
            &env.namespace,
        ),
        database_url: env.database_url.clone(),
        database_max_connections: 5,
        migrate_on_start: true,
    }
    .spawn(listener().await)
    .map_err(|e| e.to_string())?;
    let client = BaseClient::new(&base.url(), &env.service_token).map_err(|e| e.to_string())?;
    wait_for("base", Duration::from_secs(60), || async {
        client.ready().await.ok()
    })
    .await
    .map_err(|e| e.to_string())?;

    let mut outcomes = Vec::new();
    for name in &args.sites {
        let generated = name
            .strip_prefix("gen")
            .and_then(|pages| pages.parse::<usize>().ok());
        if generated.is_none() && !args.docs.join(name).join("index.html").is_file() {
            return Err(format!(
                "{name}/index.html is not under {}",
                args.docs.display()
            ));
        }
        let start = format!("{origin}/{name}/index.html");
        let files = generated.unwrap_or_else(|| html_files(&args.docs.join(name)));
        eprintln!("crawl-site: {name}/ ({files} HTML files)");
        let modes: &[bool] = if args.headless {
            &[false, true]
        } else {
            &[false]
        };
        for headless in modes {
            outcomes.push(
                ours(
                    &env,
                    &client,
                    &base.url(),
                    &site,
                    &start,
                    name,
                    Mode {
                        concurrency: args.concurrency,
                        headless: *headless,
                    },
                )
                .await?,
            );
        }
        outcomes.push(wget2(&site, &start, name, args.concurrency)?);
    }

    println!(
        "{:<14} {:<8} {:>9} {:>8} {:>9} {:>14}",
        "tool", "site", "seconds", "pages", "pages/s", "peak RSS (MiB)"
    );
    for outcome in &outcomes {
        println!(
            "{:<14} {:<8} {:>9.2} {:>8} {:>9.0} {:>14.1}",
            outcome.tool,
            outcome.site,
            outcome.time.as_secs_f64(),
            outcome.pages,
            outcome.pages as f64 / outcome.time.as_secs_f64(),
            outcome.peak_rss_kib as f64 / 1024.0,
        );
    }
    base.stop().await.map_err(|e| e.to_string())?;
    env.cleanup().await.map_err(|e| e.to_string())?;
    Ok(())
}

fn html_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                html_files(&path)
            } else {
                usize::from(path.extension().is_some_and(|e| e == "html"))
            }
        })
        .sum()
}

/// How the crawler runs: pages at once, and whether it renders them.
struct Mode {
    concurrency: usize,
    headless: bool,
}

/// One crawl by a fresh crawler process, from the job's publication to its run's end.
async fn ours(
    env: &TestEnv,
    client: &BaseClient,
    base_url: &str,
    site: &Site,
    start: &str,
    name: &str,
    Mode {
        concurrency,
        headless,
    }: Mode,
) -> Result<Outcome, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let extra = [
        ("S4E_CRAWL_HEADLESS", headless.to_string()),
        ("S4E_CRAWL_CHROMIUM_PATH", chromium),
        (ROLE, "crawler".to_string()),
        ("S4E_BASE_URL", base_url.to_string()),
        ("S4E_EGRESS_ALLOW_PRIVATE", "true".to_string()),
        ("S4E_CRAWL_CONCURRENCY", concurrency.to_string()),
        ("S4E_CRAWL_MAX_PAGES", "1000000".to_string()),
        ("S4E_CRAWL_MAX_DEPTH", "100".to_string()),
        ("S4E_CRAWL_MAX_PER_TEMPLATE", "1000000".to_string()),
        ("S4E_CRAWL_TIME_LIMIT_SECONDS", "3600".to_string()),
        // As fast as it goes, as wget2 does.
        ("S4E_CRAWL_HOST_REQUESTS_PER_SECOND", "0".to_string()),
        // Crawling against crawling: wget2 does not fuzz.
        ("S4E_CRAWL_FUZZ_DEPTH", "0".to_string()),
        // wget2 reads whole bodies: so does the crawler here (core/all.html is 2.3 MB).
        ("S4E_CRAWL_BODY_LIMIT_BYTES", (16 * 1024 * 1024).to_string()),
    ];
    let (child, _) =
        s4e_test_support::start_service_binary(exe.to_str().ok_or("exe path")?, env, &extra)
            .await
            .map_err(|e| e.to_string())?;
    let pid = child.id().ok_or("the crawler has no pid")?;
    let org = client
        .create_organization(&format!("bench-{name}-{headless}"))
        .await
        .map_err(|e| e.to_string())?;
    let asset = client
        .create_asset(
            org.id,
            &NewAsset {
                kind: AssetKind::Url,
                value: start.to_string(),
                name: None,
                tags: Vec::new(),
                criticality: Default::default(),
                owner: None,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let created = client
        .create_run(
            org.id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id: asset.id,
                profile: "crawl_only".into(),
                jobs: vec![NewScanJob {
                    check: CheckKind::Crawl,
                    target: start.to_string(),
                    ports: None,
                }],
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let bus = Bus::connect(&env.amqp_url, &env.namespace, BusOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    site.served.lock().expect("not poisoned").clear();
    let started = Instant::now();
    let envelope = Envelope::new(org.id, Message::ScanJob(JobSpec::from(&created.jobs[0])));
    bus.publish(Exchange::Jobs, CheckKind::Crawl.as_str(), &envelope)
        .await
        .map_err(|e| e.to_string())?;
    let run = wait_for("the crawl", Duration::from_secs(3600), || async {
        let run = client.get_run(org.id, created.run.id).await.ok()?;
        run.status.is_final().then_some(run)
    })
    .await
    .map_err(|e| e.to_string())?;
    let time = started.elapsed();
    if run.status != RunStatus::Completed {
        return Err(format!("the crawl ended {:?}: {:?}", run.status, run.error));
    }
    let peak_rss_kib = peak_rss(pid);
    drop(child);
    bus.close().await;
    let pages = site.served.lock().expect("not poisoned").len();
    Ok(Outcome {
        tool: if headless {
            "s4e headless"
        } else {
            "s4e-crawler"
        },
        site: format!("{name}/"),
        time,
        pages,
        peak_rss_kib,
    })
}

/// A live process's peak resident set (`VmHWM`), in KiB.
fn peak_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// `wget2 --spider --recursive` from the same start URL, below it only, with as many threads.
fn wget2(site: &Site, start: &str, name: &str, concurrency: usize) -> Result<Outcome, String> {
    site.served.lock().expect("not poisoned").clear();
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .args([
            "-f",
            "%M",
            "wget2",
            "--spider",
            "--recursive",
            "--level=inf",
            "--no-parent",
        ])
        .arg(format!("--max-threads={concurrency}"))
        .args(["--robots=off", "--quiet", "--tries=1", start])
        .output()
        .map_err(|e| format!("wget2: {e}"))?;
    let time = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak_rss_kib = stderr
        .lines()
        .rev()
        .find_map(|line| line.trim().parse().ok())
        .unwrap_or(0);
    let pages = site.served.lock().expect("not poisoned").len();
    Ok(Outcome {
        tool: "wget2 --spider",
        site: format!("{name}/"),
        time,
        pages,
        peak_rss_kib,
    })
}
