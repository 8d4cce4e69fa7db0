//! Subdomain discovery benchmark: a local zone of 10,000 names and a wordlist of those names
//! and as many that do not exist, swept by our `subdomains` sweep and by Debian's gobuster
//! (`gobuster dns`, `apt-get install -y gobuster`) against the same local DNS server with the
//! same concurrency, timed the same way; names found, recall and false hits compared.
//!
//! ```text
//! cargo run --release -p s4e-e2e --bin subdomain-discovery -- [--concurrency N]
//! ```
//!
//! Ours, then gobuster, then ours again: two runs of ours around the peer's show whether a
//! difference is the tool's or the machine's. The server is `s4e-test-dns` on a loopback port,
//! in this process: both tools pay for it alike.

use std::collections::BTreeSet;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use s4e_checks::subdomains;
use s4e_egress::dns::DnsClient;
use s4e_test_dns::{Rec, TestDns};

const DOMAIN: &str = "bench.test";
const ZONE_NAMES: usize = 10_000;
const DEFAULT_CONCURRENCY: usize = subdomains::DEFAULT_CONCURRENCY;

struct Run {
    tool: String,
    time: Duration,
    found: BTreeSet<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match bench().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("subdomain-discovery: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The zone's labels and the wordlist: every zone label, each followed by one that is not in
/// the zone.
fn labels() -> (Vec<String>, Vec<String>) {
    let zone: Vec<String> = (0..ZONE_NAMES).map(|i| format!("h{i:05}-app")).collect();
    let wordlist = zone
        .iter()
        .enumerate()
        .flat_map(|(i, label)| [label.clone(), format!("m{i:05}-none")])
        .collect();
    (zone, wordlist)
}

async fn bench() -> Result<(), String> {
    let concurrency = concurrency_arg()?;
    let (zone, wordlist) = labels();
    let server = TestDns::start()
        .await
        .map_err(|error| format!("cannot start the DNS server: {error}"))?;
    server.add(DOMAIN, Rec::Soa);
    for (i, label) in zone.iter().enumerate() {
        let address = std::net::Ipv4Addr::new(10, 77, (i / 256) as u8, (i % 256) as u8);
        server.add(&format!("{label}.{DOMAIN}"), Rec::A(address));
    }
    let expected: BTreeSet<String> = zone.iter().map(|l| format!("{l}.{DOMAIN}")).collect();
    println!(
        "zone {DOMAIN}: {ZONE_NAMES} names; wordlist {} names (half not in the zone); \
         concurrency {concurrency}; server {}",
        wordlist.len(),
        server.addr()
    );

    let first = ours(&server, &wordlist, concurrency, 1).await?;
    let peer = gobuster(&server, &wordlist, concurrency).await?;
    let second = ours(&server, &wordlist, concurrency, 2).await?;

    println!();
    println!(
        "{:<52} {:>9} {:>12} {:>7} {:>8} {:>11}",
        "tool", "time (s)", "names/s", "found", "recall", "false hits"
    );
    for run in [&first, &peer, &second] {
        let hits = run.found.intersection(&expected).count();
        println!(
            "{:<52} {:>9.3} {:>12.0} {:>7} {:>7.2}% {:>11}",
            run.tool,
            run.time.as_secs_f64(),
            wordlist.len() as f64 / run.time.as_secs_f64(),
            run.found.len(),
            100.0 * hits as f64 / ZONE_NAMES as f64,
            run.found.len() - hits
        );
    }
    Ok(())
}

async fn ours(
    server: &TestDns,
    wordlist: &[String],
    concurrency: usize,
    round: u32,
) -> Result<Run, String> {
    let client = DnsClient::new(&[server.addr()]).map_err(|error| error.to_string())?;
    let labels: Vec<&str> = wordlist.iter().map(String::as_str).collect();
    let started = Instant::now();
    // Part of every sweep: the check asks for the wildcard first.
    let wildcard = subdomains::detect_wildcard(&client, DOMAIN)
        .await
        .map_err(|error| error.to_string())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let sweep = subdomains::sweep(
        &client,
        DOMAIN,
        &labels,
        wildcard.as_ref(),
        concurrency,
        deadline,
    )
    .await;
    let time = started.elapsed();
    if sweep.failed > 0 {
        eprintln!("ours ({round}): {} names failed twice", sweep.failed);
    }
    Ok(Run {
        tool: format!("s4e subdomains sweep (run {round})"),
        time,
        found: sweep.resolved.into_iter().map(|found| found.name).collect(),
    })
}

async fn gobuster(
    server: &TestDns,
    wordlist: &[String],
    concurrency: usize,
) -> Result<Run, String> {
    let path =
        std::env::temp_dir().join(format!("s4e-subdomain-wordlist-{}.txt", std::process::id()));
    std::fs::write(&path, wordlist.join("\n") + "\n")
        .map_err(|error| format!("cannot write the wordlist: {error}"))?;
    let args = vec![
        "dns".to_string(),
        "-d".into(),
        DOMAIN.into(),
        "-w".into(),
        path.display().to_string(),
        "-r".into(),
        server.addr().to_string(),
        "-t".into(),
        concurrency.to_string(),
        "-q".into(),
        "-z".into(),
        "--no-color".into(),
    ];
    let tool = format!("gobuster dns -t {concurrency} -q -z");

    let started = Instant::now();
    // Blocking: the DNS server runs on this runtime's other threads meanwhile.
    let output = tokio::task::spawn_blocking(move || Command::new("gobuster").args(&args).output())
        .await
        .map_err(|error| error.to_string())?;
    let time = started.elapsed();
    let _ = std::fs::remove_file(&path);
    let output = output.map_err(|error| {
        format!("cannot run gobuster ({error}); on Debian: apt-get install -y gobuster")
    })?;
    if !output.status.success() {
        return Err(format!(
            "gobuster failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let found = String::from_utf8_lossy(&output.stdout)
        .lines()
        // Each line starts by clearing the progress line (`\r`, ESC [2K), even with -z.
        .filter_map(|line| line.split_once("Found: ").map(|(_, name)| name))
        .map(|name| name.trim().trim_end_matches('.').to_ascii_lowercase())
        .collect();
    Ok(Run { tool, time, found })
}

fn concurrency_arg() -> Result<usize, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(DEFAULT_CONCURRENCY),
        [flag, value] if flag == "--concurrency" => value
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("--concurrency: a positive number, not {value:?}")),
        _ => Err("usage: subdomain-discovery [--concurrency N]".into()),
    }
}
