//! Port scan of a network of hosts: 16 hosts in network namespaces behind a bridge, each with a
//! few real listening services, a few closed ports and every other port filtered by nftables
//! (SYNs dropped). The top 1,000 TCP ports of nmap's own list on all 16, scanned by ours (one
//! scan per host, all at once, as the fleet's workers run them) and by `nmap -sT -T4` in the
//! same run; the open, closed and filtered ports each reports are compared host by host.
//!
//! ```text
//! cargo run --release -p s4e-checks --bin port-network-bench -- [--hosts N] [--concurrency N]
//! ```
//!
//! Needs root, iproute2, nftables, nmap and python3 (`apt-get install -y iproute2 nftables nmap`).
//! Everything it creates (namespaces `s4e-bench-*`, the bridge `s4e-bench-br`, their veths, the
//! listening processes) is removed when it ends, and any leftover of an interrupted run is
//! removed before it starts. Traffic goes only to the hosts it creates.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use s4e_checks::ports::{self, PortScanOptions};
use s4e_checks::{CheckContext, Target};
use s4e_egress::EgressPolicy;
use s4e_types::PortScope;

const NAMESPACE_PREFIX: &str = "s4e-bench-";
const BRIDGE: &str = "s4e-bench-br";
/// The bridge's address in the benchmark's own network (10.77.0.0/24).
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const FIRST_HOST: u8 = 10;
const DEFAULT_HOSTS: u8 = 16;
const DEFAULT_CONCURRENCY: usize = 512;
const TOP_PORTS: usize = 1000;
const NMAP_SERVICES: &str = "/usr/share/nmap/nmap-services";
/// What listens on host `i`: the first few of these (how many varies by host), all among the
/// top ports, so that both scanners look for them.
const SERVICE_PORTS: [u16; 8] = [22, 80, 443, 3306, 5432, 8080, 3389, 25];
/// Answered with a reset (allowed through, nothing listens): nmap's and our "closed".
const CLOSED_PORTS: [u16; 3] = [21, 23, 110];

/// One host's ports as a scanner reported them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct HostPorts {
    open: BTreeSet<u16>,
    closed: usize,
    filtered: usize,
}

struct Run {
    tool: String,
    time: Duration,
    hosts: BTreeMap<Ipv4Addr, HostPorts>,
}

fn main() -> ExitCode {
    let settings = match Settings::from_args() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("port-network-bench: {message}");
            return ExitCode::from(2);
        }
    };
    let network = match Network::create(settings.hosts) {
        Ok(network) => network,
        Err(message) => {
            eprintln!("port-network-bench: {message}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = bench(&settings, &network);
    drop(network);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("port-network-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

struct Settings {
    hosts: u8,
    concurrency: usize,
}

impl Settings {
    fn from_args() -> Result<Settings, String> {
        let mut settings = Settings {
            hosts: DEFAULT_HOSTS,
            concurrency: DEFAULT_CONCURRENCY,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        for pair in args.chunks(2) {
            let [flag, value] = pair else {
                return Err("usage: port-network-bench [--hosts N] [--concurrency N]".into());
            };
            let number: usize = value
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag} takes a positive number, not {value:?}"))?;
            match flag.as_str() {
                "--hosts" => {
                    settings.hosts = u8::try_from(number)
                        .ok()
                        .filter(|n| *n <= 200)
                        .ok_or("--hosts is at most 200")?;
                }
                "--concurrency" => settings.concurrency = number,
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        Ok(settings)
    }
}

fn bench(settings: &Settings, network: &Network) -> Result<(), String> {
    let top = top_ports()?;
    for port in SERVICE_PORTS.iter().chain(&CLOSED_PORTS) {
        if !top.contains(port) {
            return Err(format!("port {port} is not among nmap's top {TOP_PORTS}"));
        }
    }
    println!(
        "{} hosts ({}), the top {} TCP ports of nmap-services on each; our concurrency {} per host",
        network.hosts.len(),
        host_range(network),
        top.len(),
        settings.concurrency
    );
    let runtime = tokio::runtime::Runtime::new().map_err(|err| err.to_string())?;
    let first = runtime.block_on(ours(network, &top, settings.concurrency, 1))?;
    let nmap = nmap(network)?;
    let second = runtime.block_on(ours(network, &top, settings.concurrency, 2))?;

    let expected = network.expected(top.len());
    println!();
    println!(
        "{:<40} {:>9} {:>8} {:>8} {:>9} {:>16}",
        "tool", "time (s)", "open", "closed", "filtered", "hosts as set up"
    );
    for run in [&first, &nmap, &second] {
        let total = |count: fn(&HostPorts) -> usize| run.hosts.values().map(count).sum::<usize>();
        let matching = expected
            .iter()
            .filter(|(host, ports)| run.hosts.get(host) == Some(ports))
            .count();
        println!(
            "{:<40} {:>9.3} {:>8} {:>8} {:>9} {:>13}/{:<2}",
            run.tool,
            run.time.as_secs_f64(),
            total(|host| host.open.len()),
            total(|host| host.closed),
            total(|host| host.filtered),
            matching,
            expected.len()
        );
    }
    println!();
    println!(
        "speed: nmap's time / ours = {:.2} (run 1), {:.2} (run 2)",
        nmap.time.as_secs_f64() / first.time.as_secs_f64(),
        nmap.time.as_secs_f64() / second.time.as_secs_f64()
    );
    for run in [&first, &nmap, &second] {
        for (host, wanted) in &expected {
            let seen = run.hosts.get(host).cloned().unwrap_or_default();
            if &seen != wanted {
                println!("{}: {host} differs: {seen:?}, set up {wanted:?}", run.tool);
            }
        }
    }
    Ok(())
}

fn host_range(network: &Network) -> String {
    match (network.hosts.first(), network.hosts.last()) {
        (Some(first), Some(last)) => format!("{first}–{last}"),
        _ => "none".into(),
    }
}

/// nmap's top ports by how often they are found open (the third column of nmap-services).
fn top_ports() -> Result<Vec<u16>, String> {
    let text = std::fs::read_to_string(NMAP_SERVICES).map_err(|err| {
        format!("cannot read {NMAP_SERVICES} ({err}); install nmap: apt-get install -y nmap")
    })?;
    let mut ranked: Vec<(f64, u16)> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_name, port, frequency) = (fields.next()?, fields.next()?, fields.next()?);
            let port = port.strip_suffix("/tcp")?.parse().ok()?;
            Some((frequency.parse().ok()?, port))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut ports: Vec<u16> = ranked.into_iter().map(|(_, port)| port).collect();
    ports.dedup();
    ports.truncate(TOP_PORTS);
    Ok(ports)
}

async fn ours(
    network: &Network,
    top: &[u16],
    concurrency: usize,
    round: u32,
) -> Result<Run, String> {
    let context = CheckContext {
        egress: EgressPolicy::allowing_private(),
        ports: PortScanOptions {
            concurrency,
            identify: false,
            ..PortScanOptions::default()
        },
        ..CheckContext::default()
    };
    let started = Instant::now();
    let scans = network.hosts.iter().map(|host| {
        let target = Target::with_ports(
            host.to_string(),
            PortScope::List {
                ports: top.to_vec(),
            },
        );
        let context = &context;
        async move { (*host, ports::run(&target, context).await) }
    });
    let outcomes = futures_util::future::join_all(scans).await;
    let time = started.elapsed();
    let mut hosts = BTreeMap::new();
    for (host, outcome) in outcomes {
        let raw = outcome
            .map_err(|err| format!("our scan of {host} failed: {err}"))?
            .raw;
        hosts.insert(
            host,
            HostPorts {
                open: raw.open.iter().map(|port| port.port).collect(),
                closed: raw.closed,
                filtered: raw.filtered,
            },
        );
    }
    Ok(Run {
        tool: format!("s4e ports, run {round}"),
        time,
        hosts,
    })
}

fn nmap(network: &Network) -> Result<Run, String> {
    let top = TOP_PORTS.to_string();
    let mut args = vec!["-sT", "-T4", "-n", "-Pn", "--top-ports", &top, "-oG", "-"];
    let targets: Vec<String> = network.hosts.iter().map(Ipv4Addr::to_string).collect();
    args.extend(targets.iter().map(String::as_str));
    let started = Instant::now();
    let output = Command::new("nmap")
        .args(&args)
        .output()
        .map_err(|err| format!("could not run nmap ({err}); apt-get install -y nmap"))?;
    let time = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "nmap failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(Run {
        tool: "nmap -sT -T4 -n -Pn --top-ports 1000".into(),
        time,
        hosts: grepable(&String::from_utf8_lossy(&output.stdout)),
    })
}

/// Each host's ports in nmap's grepable output: `Host: 10.77.0.10 ()\tPorts: 22/open/tcp//ssh///,
/// 21/closed/tcp//ftp///\tIgnored State: filtered (997)`.
fn grepable(text: &str) -> BTreeMap<Ipv4Addr, HostPorts> {
    let mut hosts = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("Host: ") else {
            continue;
        };
        let Some(address) = rest.split_whitespace().next().and_then(|a| a.parse().ok()) else {
            continue;
        };
        let mut ports = HostPorts::default();
        let mut listed = false;
        for field in rest.split('\t') {
            if let Some(list) = field.strip_prefix("Ports: ") {
                listed = true;
                for entry in list.split(", ") {
                    let mut parts = entry.trim().split('/');
                    match (parts.next().and_then(|p| p.parse().ok()), parts.next()) {
                        (Some(port), Some("open")) => {
                            ports.open.insert(port);
                        }
                        (Some(_), Some("closed")) => ports.closed += 1,
                        (Some(_), Some("filtered")) => ports.filtered += 1,
                        _ => {}
                    }
                }
            } else if let Some(ignored) = field.strip_prefix("Ignored State: ") {
                let (state, count) = ignored.split_once(' ').unwrap_or((ignored, ""));
                let count: usize = count
                    .trim_matches(|c| c == '(' || c == ')')
                    .parse()
                    .unwrap_or(0);
                match state {
                    "closed" => ports.closed += count,
                    "filtered" => ports.filtered += count,
                    _ => {}
                }
            }
        }
        if listed {
            hosts.insert(address, ports);
        }
    }
    hosts
}

/// The benchmark's hosts, removed (with their processes) when dropped.
struct Network {
    hosts: Vec<Ipv4Addr>,
    /// The listening services, one process per host.
    services: Vec<Child>,
}

impl Network {
    fn create(count: u8) -> Result<Network, String> {
        remove_leftovers();
        let mut network = Network {
            hosts: Vec::new(),
            services: Vec::new(),
        };
        run("ip", &["link", "add", BRIDGE, "type", "bridge"])?;
        run(
            "ip",
            &["addr", "add", &format!("{GATEWAY}/24"), "dev", BRIDGE],
        )?;
        run("ip", &["link", "set", BRIDGE, "up"])?;
        for index in 0..count {
            let address = Ipv4Addr::new(10, 77, 0, FIRST_HOST + index);
            network.add_host(index, address)?;
        }
        network.wait_until_listening()?;
        Ok(network)
    }

    fn add_host(&mut self, index: u8, address: Ipv4Addr) -> Result<(), String> {
        let namespace = format!("{NAMESPACE_PREFIX}{index}");
        let (outside, inside) = (format!("s4e-b{index}"), format!("s4e-h{index}"));
        run("ip", &["netns", "add", &namespace])?;
        self.hosts.push(address);
        run(
            "ip",
            &[
                "link", "add", &outside, "type", "veth", "peer", "name", &inside,
            ],
        )?;
        run("ip", &["link", "set", &inside, "netns", &namespace])?;
        run("ip", &["link", "set", &outside, "master", BRIDGE, "up"])?;
        let in_host = |args: &[&str]| {
            let mut full = vec!["netns", "exec", namespace.as_str()];
            full.extend_from_slice(args);
            run("ip", &full)
        };
        in_host(&["ip", "link", "set", "lo", "up"])?;
        in_host(&[
            "ip",
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            &inside,
        ])?;
        in_host(&["ip", "link", "set", &inside, "up"])?;
        // Every TCP port but the services' and the closed ones drops its SYNs.
        let allowed: Vec<String> = Self::services_of(index)
            .iter()
            .chain(&CLOSED_PORTS)
            .map(u16::to_string)
            .collect();
        in_host(&["nft", "add", "table", "inet", "bench"])?;
        in_host(&[
            "nft",
            "add chain inet bench input { type filter hook input priority 0; policy accept; }",
        ])?;
        in_host(&[
            "nft",
            &format!(
                "add rule inet bench input tcp dport != {{ {} }} drop",
                allowed.join(", ")
            ),
        ])?;
        let ports: Vec<String> = Self::services_of(index)
            .iter()
            .map(u16::to_string)
            .collect();
        let child = Command::new("ip")
            .args(["netns", "exec", &namespace, "python3", "-c", LISTENER])
            .args(&ports)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start the services of {namespace}: {err}"))?;
        self.services.push(child);
        Ok(())
    }

    /// Host `index` runs 2 to 8 of [`SERVICE_PORTS`].
    fn services_of(index: u8) -> &'static [u16] {
        &SERVICE_PORTS[..2 + usize::from(index) % (SERVICE_PORTS.len() - 1)]
    }

    /// What a correct scan of the top `scanned` ports reports for each host.
    fn expected(&self, scanned: usize) -> BTreeMap<Ipv4Addr, HostPorts> {
        (0u8..)
            .zip(&self.hosts)
            .map(|(index, host)| {
                let open: BTreeSet<u16> = Self::services_of(index).iter().copied().collect();
                let ports = HostPorts {
                    filtered: scanned - open.len() - CLOSED_PORTS.len(),
                    closed: CLOSED_PORTS.len(),
                    open,
                };
                (*host, ports)
            })
            .collect()
    }

    /// Connects to every service until each accepts (the listeners start in the background).
    fn wait_until_listening(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        for (index, host) in (0u8..).zip(&self.hosts) {
            for port in Self::services_of(index) {
                let address = SocketAddr::new(IpAddr::V4(*host), *port);
                while std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200))
                    .is_err()
                {
                    if Instant::now() > deadline {
                        return Err(format!("{address} never started listening"));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for child in &mut self.services {
            let _ = child.kill();
            let _ = child.wait();
        }
        remove_leftovers();
    }
}

/// A service on each port named on its command line: accepts and closes every connection.
const LISTENER: &str = r"
import selectors, socket, sys
selector = selectors.DefaultSelector()
for port in sys.argv[1:]:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('0.0.0.0', int(port)))
    server.listen(1024)
    selector.register(server, selectors.EVENT_READ)
while True:
    for key, _ in selector.select():
        connection, _ = key.fileobj.accept()
        connection.close()
";

/// Removes every namespace and the bridge this program makes (their veths go with them).
fn remove_leftovers() {
    if let Ok(output) = Command::new("ip").args(["netns", "list"]).output() {
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Some(name) = line
                .split_whitespace()
                .next()
                .filter(|name| name.starts_with(NAMESPACE_PREFIX))
            {
                let _ = Command::new("ip")
                    .args(["netns", "pids", name])
                    .output()
                    .map(|pids| {
                        for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
                            let _ = Command::new("kill").args(["-9", pid]).status();
                        }
                    });
                let _ = Command::new("ip").args(["netns", "delete", name]).status();
            }
        }
    }
    let _ = Command::new("ip")
        .args(["link", "delete", BRIDGE])
        .stderr(Stdio::null())
        .status();
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|err| format!("cannot run {program} ({err}); is it installed?"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grepable_output_gives_each_hosts_states() {
        let text = "# Nmap 7.93 scan\n\
            Host: 10.77.0.10 ()\tStatus: Up\n\
            Host: 10.77.0.10 ()\tPorts: 21/closed/tcp//ftp///, 22/open/tcp//ssh///, \
            80/open/tcp//http///\tIgnored State: filtered (997)\n\
            Host: 10.77.0.11 ()\tPorts: 443/open/tcp//https///, 8080/filtered/tcp//http-proxy///\t\
            Ignored State: closed (998)\n";
        let hosts = grepable(text);
        assert_eq!(
            hosts[&Ipv4Addr::new(10, 77, 0, 10)],
            HostPorts {
                open: BTreeSet::from([22, 80]),
                closed: 1,
                filtered: 997
            }
        );
        assert_eq!(
            hosts[&Ipv4Addr::new(10, 77, 0, 11)],
            HostPorts {
                open: BTreeSet::from([443]),
                closed: 998,
                filtered: 1
            }
        );
    }

    #[test]
    fn each_host_runs_between_two_and_all_services() {
        let sizes: BTreeSet<usize> = (0..16).map(|i| Network::services_of(i).len()).collect();
        assert_eq!(sizes.first(), Some(&2));
        assert_eq!(sizes.last(), Some(&SERVICE_PORTS.len()));
    }
}
