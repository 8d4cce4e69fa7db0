//! Port-scan benchmark: every TCP port of 127.0.0.1, with our scanner and with nmap's connect
//! scan, timed the same way, and the open ports each found compared.
//!
//! ```text
//! cargo run --release -p s4e-checks --bin port-scan-bench -- [--concurrency N]
//! ```
//!
//! Ours runs with identification off (nmap runs without `-sV` too), then nmap
//! (`nmap -sT -p- -n -T4 --open 127.0.0.1 -oG -`, Debian: `apt-get install -y nmap`), then
//! ours again: ports can open or close between runs on a busy machine, and two runs of ours
//! around nmap's show whether a difference is the scanner's or the machine's.

use std::collections::BTreeSet;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use s4e_checks::ports::{self, PortScanOptions};
use s4e_checks::{CheckContext, Target};
use s4e_egress::EgressPolicy;
use s4e_types::PortScope;

const TARGET: &str = "127.0.0.1";
const DEFAULT_CONCURRENCY: usize = 2048;
const NMAP_ARGS: [&str; 8] = ["-sT", "-p-", "-n", "-T4", "--open", TARGET, "-oG", "-"];

struct Run {
    tool: String,
    time: Duration,
    open: BTreeSet<u16>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match bench().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("port-scan-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn bench() -> Result<(), String> {
    let concurrency = concurrency_arg()?;
    println!("target {TARGET}, all 65535 TCP ports; our concurrency {concurrency}");
    let first = ours(concurrency, 1).await?;
    let nmap = nmap()?;
    let second = ours(concurrency, 2).await?;

    println!();
    println!("{:<44} {:>9} {:>11}", "tool", "time (s)", "open ports");
    for run in [&first, &nmap, &second] {
        println!(
            "{:<44} {:>9.3} {:>11}",
            run.tool,
            run.time.as_secs_f64(),
            run.open.len()
        );
    }
    println!();
    for ours in [&first, &second] {
        let difference: Vec<u16> = ours
            .open
            .symmetric_difference(&nmap.open)
            .copied()
            .collect();
        println!(
            "symmetric difference, {} vs nmap: {}",
            ours.tool,
            list(&difference)
        );
    }
    println!(
        "open (nmap): {}",
        list(&nmap.open.iter().copied().collect::<Vec<_>>())
    );
    Ok(())
}

fn concurrency_arg() -> Result<usize, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(DEFAULT_CONCURRENCY),
        [flag, value] if flag == "--concurrency" || flag == "-c" => value
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("--concurrency takes a positive number, not {value:?}")),
        _ => Err("usage: port-scan-bench [--concurrency N]".into()),
    }
}

async fn ours(concurrency: usize, round: u32) -> Result<Run, String> {
    let context = CheckContext {
        egress: EgressPolicy::allowing_private(),
        ports: PortScanOptions {
            concurrency,
            identify: false,
            ..PortScanOptions::default()
        },
        ..CheckContext::default()
    };
    let target = Target::with_ports(TARGET, PortScope::Full);
    let started = Instant::now();
    let output = ports::run(&target, &context)
        .await
        .map_err(|err| format!("our scan failed: {err}"))?;
    let time = started.elapsed();
    Ok(Run {
        tool: format!("s4e ports, run {round} (concurrency {concurrency})"),
        time,
        open: output.raw.open.iter().map(|port| port.port).collect(),
    })
}

fn nmap() -> Result<Run, String> {
    let started = Instant::now();
    let output = Command::new("nmap")
        .args(NMAP_ARGS)
        .output()
        .map_err(|err| {
            format!("could not run nmap ({err}); install it with `apt-get install -y nmap`")
        })?;
    let time = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "nmap failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(Run {
        tool: format!("nmap {}", NMAP_ARGS[..5].join(" ")),
        time,
        open: grepable_open_ports(&String::from_utf8_lossy(&output.stdout)),
    })
}

/// The open ports in nmap's grepable output: `Host: 127.0.0.1 ()\tPorts: 22/open/tcp//ssh///,
/// 631/open/tcp//ipp///\tIgnored State: closed (65533)`.
fn grepable_open_ports(text: &str) -> BTreeSet<u16> {
    let mut open = BTreeSet::new();
    for line in text.lines().filter(|line| line.starts_with("Host:")) {
        let Some(ports) = line
            .split('\t')
            .find_map(|field| field.strip_prefix("Ports: "))
        else {
            continue;
        };
        for entry in ports.split(", ") {
            let mut fields = entry.split('/');
            if let (Some(port), Some("open")) = (fields.next(), fields.next())
                && let Ok(port) = port.trim().parse()
            {
                open.insert(port);
            }
        }
    }
    open
}

fn list(ports: &[u16]) -> String {
    if ports.is_empty() {
        return "none".into();
    }
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grepable_output_is_parsed() {
        let text = "# Nmap 7.93 scan initiated as: nmap -sT -p- -oG - 127.0.0.1\n\
            Host: 127.0.0.1 ()\tStatus: Up\n\
            Host: 127.0.0.1 ()\tPorts: 22/open/tcp//ssh///, 631/open/tcp//ipp///, \
            8080/filtered/tcp//http-proxy///\tIgnored State: closed (65532)\n\
            # Nmap done at ... -- 1 IP address (1 host up) scanned in 1.02 seconds\n";
        assert_eq!(grepable_open_ports(text), BTreeSet::from([22, 631]));
        assert!(grepable_open_ports("Host: 127.0.0.1 ()\tStatus: Up\n").is_empty());
    }
}
