//! The crawler's configuration: its dependencies and the limits of every crawl.

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

    // Each crawl's state (seen URLs, frontier count), and runs' cancellation.
    #[command(flatten)]
    pub redis: RedisArgs,

    // The pages crawls fetched, and each crawl's summary as its job's raw output.
    #[command(flatten)]
    pub mongo: MongoArgs,

    #[command(flatten)]
    pub egress: EgressArgs,

    #[command(flatten)]
    pub settings: Settings,
}

/// How far and how fast a crawl goes; every one has a default. A crawl keeps the limits it
/// began with, whichever replica fetches its pages.
#[derive(Clone, Debug, clap::Args)]
pub struct Settings {
    /// The most URLs one crawl fetches.
    #[arg(long, env = "S4E_CRAWL_MAX_PAGES", value_name = "S4E_CRAWL_MAX_PAGES", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_pages: u64,

    /// How many links deep from the start URL a crawl follows.
    #[arg(long, env = "S4E_CRAWL_MAX_DEPTH", value_name = "S4E_CRAWL_MAX_DEPTH", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_depth: u32,

    /// The most URLs of one template (`/item/{id}`, `/calendar?day`) a crawl fetches: the rest
    /// are parametric duplicates or a trap.
    #[arg(long, env = "S4E_CRAWL_MAX_PER_TEMPLATE", value_name = "S4E_CRAWL_MAX_PER_TEMPLATE", default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_per_template: u64,

    /// How long a crawl may take; past it, what was fetched is reported (truncated).
    #[arg(long, env = "S4E_CRAWL_TIME_LIMIT_SECONDS", value_name = "S4E_CRAWL_TIME_LIMIT_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub time_limit_seconds: u64,

    /// Time limit of one request (resolving, connecting, the whole response).
    #[arg(long, env = "S4E_CRAWL_REQUEST_TIMEOUT_SECONDS", value_name = "S4E_CRAWL_REQUEST_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub request_timeout_seconds: u64,

    /// The most body bytes read of one response; the rest is not downloaded.
    #[arg(long, env = "S4E_CRAWL_BODY_LIMIT_BYTES", value_name = "S4E_CRAWL_BODY_LIMIT_BYTES", default_value_t = 2 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..=64 * 1024 * 1024))]
    pub body_limit_bytes: u64,

    /// How many directory levels from the start URL's directory the fuzzer tries its wordlist
    /// in: 1 the start directory alone, 2 also the directories just below it, 0 none.
    #[arg(long, env = "S4E_CRAWL_FUZZ_DEPTH", value_name = "S4E_CRAWL_FUZZ_DEPTH", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub fuzz_depth: u32,

    /// Requests one directory's fuzzing has in flight at once.
    #[arg(long, env = "S4E_CRAWL_FUZZ_CONCURRENCY", value_name = "S4E_CRAWL_FUZZ_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub fuzz_concurrency: u16,

    /// Which engine fuzzes directories: `native` (ours: calibration per directory and
    /// extension, the shared request budget) or `ffuf` (Debian's or any ffuf on the host,
    /// run per directory against the approved address; see `fuzz/ffuf.rs`).
    #[arg(long, env = "S4E_CRAWL_FUZZER", value_name = "S4E_CRAWL_FUZZER", value_enum, default_value_t = Fuzzer::Native)]
    pub fuzzer: Fuzzer,

    /// The ffuf program `S4E_CRAWL_FUZZER=ffuf` runs (a name on `PATH` or a path).
    #[arg(
        long,
        env = "S4E_CRAWL_FFUF_PATH",
        value_name = "S4E_CRAWL_FFUF_PATH",
        default_value = "ffuf"
    )]
    pub ffuf_path: std::path::PathBuf,

    /// Whether HTML pages are also rendered in Chromium, to collect what their scripts request
    /// and link to (see `headless/mod.rs`). Each page is then fetched once and rendered once.
    #[arg(
        long,
        env = "S4E_CRAWL_HEADLESS",
        value_name = "S4E_CRAWL_HEADLESS",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub headless: bool,

    /// The Chromium program the headless mode runs (a name on `PATH` or a path).
    #[arg(
        long,
        env = "S4E_CRAWL_CHROMIUM_PATH",
        value_name = "S4E_CRAWL_CHROMIUM_PATH",
        default_value = "chromium"
    )]
    pub chromium_path: std::path::PathBuf,

    /// Whether Chromium runs in its own sandbox (it needs unprivileged user namespaces; a
    /// crawler running as root never gets it).
    #[arg(
        long,
        env = "S4E_CRAWL_CHROMIUM_SANDBOX",
        value_name = "S4E_CRAWL_CHROMIUM_SANDBOX",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub chromium_sandbox: bool,

    /// Pages one crawler replica renders at once in the headless mode.
    #[arg(long, env = "S4E_CRAWL_HEADLESS_CONCURRENCY", value_name = "S4E_CRAWL_HEADLESS_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub headless_concurrency: u16,

    /// Extensions the fuzzer tries after each word (`php,bak`), besides the word alone.
    #[arg(
        long,
        env = "S4E_CRAWL_FUZZ_EXTENSIONS",
        value_name = "S4E_CRAWL_FUZZ_EXTENSIONS",
        value_delimiter = ','
    )]
    pub fuzz_extensions: Vec<String>,

    /// Requests per second to one target host, shared by every stage and replica (0: no
    /// budget).
    #[arg(
        long,
        env = "S4E_CRAWL_HOST_REQUESTS_PER_SECOND",
        value_name = "S4E_CRAWL_HOST_REQUESTS_PER_SECOND",
        default_value_t = 100
    )]
    pub host_requests_per_second: u32,

    /// Requests per second of one organization's crawls, shared by every stage and replica
    /// (0: no budget).
    #[arg(
        long,
        env = "S4E_CRAWL_ORGANIZATION_REQUESTS_PER_SECOND",
        value_name = "S4E_CRAWL_ORGANIZATION_REQUESTS_PER_SECOND",
        default_value_t = 0
    )]
    pub organization_requests_per_second: u32,

    /// Pages one crawler replica fetches at once (the fetch queue's prefetch).
    #[arg(long, env = "S4E_CRAWL_CONCURRENCY", value_name = "S4E_CRAWL_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub concurrency: u16,
}

/// The directory fuzzing engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fuzzer {
    Native,
    Ffuf,
}

impl Default for Settings {
    fn default() -> Self {
        s4e_runtime::config::defaults()
    }
}
