use s4e_egress::EgressArgs;
use s4e_runtime::{AmqpArgs, BaseUrl, CommonConfig, MongoArgs, RedisArgs};

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    #[command(flatten)]
    pub base: BaseUrl,

    #[command(flatten)]
    pub amqp: AmqpArgs,

    #[command(flatten)]
    pub redis: RedisArgs,

    #[command(flatten)]
    pub mongo: MongoArgs,

    #[command(flatten)]
    pub egress: EgressArgs,

    #[command(flatten)]
    pub settings: Settings,
}

/// How the dispatcher routes and runs jobs; every one has a default.
#[derive(Clone, Debug, clap::Args)]
pub struct Settings {
    /// What this replica does: `all` routes jobs and runs the checks; a deployment that
    /// scales the checks apart from routing runs `router` replicas and `worker` replicas.
    #[arg(long, env = "S4E_DISPATCHER_ROLE", value_name = "S4E_DISPATCHER_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,

    /// Jobs one worker runs at once, per check kind (the queue prefetch).
    #[arg(long, env = "S4E_WORKER_CONCURRENCY", value_name = "S4E_WORKER_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub worker_concurrency: u16,

    /// Jobs routed at once.
    #[arg(long, env = "S4E_ROUTER_PREFETCH", value_name = "S4E_ROUTER_PREFETCH", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub router_prefetch: u16,

    /// Time limit of one check against one target.
    #[arg(long, env = "S4E_CHECK_TIMEOUT_SECONDS", value_name = "S4E_CHECK_TIMEOUT_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub check_timeout_seconds: u64,

    /// Time limit of one port scan (all its ports and service probes).
    #[arg(long, env = "S4E_PORT_SCAN_TIMEOUT_SECONDS", value_name = "S4E_PORT_SCAN_TIMEOUT_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub port_scan_timeout_seconds: u64,

    /// Jobs of one organization running at once across every worker (0: no cap).
    #[arg(
        long,
        env = "S4E_MAX_JOBS_PER_ORG",
        value_name = "S4E_MAX_JOBS_PER_ORG",
        default_value_t = 0
    )]
    pub max_jobs_per_org: u32,

    /// Jobs against one target host running at once across every worker (0: no cap).
    #[arg(
        long,
        env = "S4E_MAX_JOBS_PER_HOST",
        value_name = "S4E_MAX_JOBS_PER_HOST",
        default_value_t = 0
    )]
    pub max_jobs_per_host: u32,

    /// The longest a job whose dependencies are away waits before it is tried again, in ms
    /// (waits double from 250 ms up to this). With the queue's tries this sets how long a
    /// dependency may be away before its jobs are dead-lettered.
    #[arg(long, env = "S4E_RETRY_DELAY_CAP_MILLISECONDS", value_name = "S4E_RETRY_DELAY_CAP_MILLISECONDS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub retry_delay_cap_milliseconds: u64,

    /// How often a running job looks for its run's cancellation (a Redis read), in ms.
    #[arg(long, env = "S4E_CANCEL_POLL_MILLISECONDS", value_name = "S4E_CANCEL_POLL_MILLISECONDS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..=60000))]
    pub cancel_poll_milliseconds: u64,
}

/// The parts of the dispatcher one replica runs. Every role stores dead letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Routes jobs to their check's queue and runs the checks.
    All,
    /// Routes jobs to their check's queue.
    Router,
    /// Runs the checks.
    Worker,
}

impl Role {
    pub fn routes(self) -> bool {
        self != Role::Worker
    }

    pub fn runs_checks(self) -> bool {
        self != Role::Router
    }
}

impl Default for Settings {
    fn default() -> Self {
        s4e_runtime::config::defaults()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    const REQUIRED: &[&str] = &[
        "s4e-dispatcher",
        "--service-token",
        "0123456789abcdef0123456789abcdef",
        "--base-url",
        "http://127.0.0.1:1",
        "--amqp-url",
        "amqp://127.0.0.1",
        "--redis-url",
        "redis://127.0.0.1",
        "--mongodb-url",
        "mongodb://127.0.0.1",
    ];

    fn parse(extra: &[&str]) -> Result<Config, clap::Error> {
        let args = REQUIRED.iter().chain(extra).copied();
        Cli::try_parse_from(args).map(|cli| cli.config)
    }

    #[test]
    fn dns_servers_are_a_comma_separated_list_or_the_system() {
        assert!(parse(&[]).unwrap().egress.dns_servers.is_empty());
        let config = parse(&["--dns-servers", "127.0.0.1:5353,9.9.9.9,[::1]:53"]).unwrap();
        assert_eq!(
            config.egress.dns_servers,
            vec![
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "9.9.9.9:53".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
            ]
        );
        assert!(parse(&["--dns-servers", "resolver.example:53"]).is_err());
    }

    #[test]
    fn settings_default_to_what_the_flags_declare() {
        let parsed = parse(&[]).unwrap().settings;
        let defaults = Settings::default();
        assert_eq!(parsed.worker_concurrency, defaults.worker_concurrency);
        assert_eq!(defaults.worker_concurrency, 16);
        assert_eq!(defaults.check_timeout_seconds, 15);
        assert_eq!(defaults.cancel_poll_milliseconds, 1000);
    }
}
