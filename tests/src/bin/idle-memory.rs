//! Resident memory of a running fleet at rest, next to a bare axum server (the demo target)
//! as the floor of what a Rust HTTP service costs.
//!
//! scripts/up.sh --release && cargo run --release -p s4e-e2e --bin idle-memory
//!
//! Reads the pid files scripts/up.sh writes under .local/pids/.

use std::path::Path;

fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> anyhow::Result<()> {
    let pids = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/pids");
    let names = [
        "core",
        "base",
        "scan",
        "crawler",
        "dispatcher",
        "scheduler",
        "trigger",
        "demo-target",
    ];
    println!("| {:<28} | {:>10} |", "process", "RSS (MiB)");
    println!("|{:-<30}|{:->12}|", "", "");
    let mut total = 0;
    for name in names {
        let pid_file = pids.join(format!("{name}.pid"));
        let Ok(pid) = std::fs::read_to_string(&pid_file) else {
            anyhow::bail!(
                "{} is missing: is scripts/up.sh running?",
                pid_file.display()
            );
        };
        let Some(kib) = rss_kib(pid.trim()) else {
            anyhow::bail!("s4e-{name} (pid {}) is not running", pid.trim());
        };
        let label = if name == "demo-target" {
            "s4e-demo-target (bare axum)".to_string()
        } else {
            total += kib;
            format!("s4e-{name}")
        };
        println!("| {label:<28} | {:>10.1} |", kib as f64 / 1024.0);
    }
    println!(
        "| {:<28} | {:>10.1} |",
        "fleet total (seven services)",
        total as f64 / 1024.0
    );
    Ok(())
}
