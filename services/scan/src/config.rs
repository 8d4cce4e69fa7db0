use s4e_egress::EgressArgs;
use s4e_runtime::{AmqpArgs, BaseUrl, CommonConfig};

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    #[command(flatten)]
    pub base: BaseUrl,

    #[command(flatten)]
    pub amqp: AmqpArgs,

    #[command(flatten)]
    pub egress: EgressArgs,

    /// Refuse scans of unverified assets beyond one passive check. Only a deployment that
    /// scans nothing but its own networks turns this off.
    #[arg(
        long,
        env = "S4E_REQUIRE_OWNERSHIP_VERIFICATION",
        value_name = "S4E_REQUIRE_OWNERSHIP_VERIFICATION",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub require_ownership_verification: bool,

    /// Time limit of one verification method, in seconds.
    #[arg(
        long,
        env = "S4E_VERIFICATION_TIMEOUT_SECONDS",
        value_name = "S4E_VERIFICATION_TIMEOUT_SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=120)
    )]
    pub verification_timeout_seconds: u64,

    /// Address ranges the operator vouches for, comma-separated (`10.0.0.0/8,192.0.2.0/24`):
    /// an IP or range asset inside one is proven by the `operator` method. For on-prem
    /// deployments scanning their own networks; empty by default.
    #[arg(
        long,
        env = "S4E_OPERATOR_VERIFIED_RANGES",
        value_name = "S4E_OPERATOR_VERIFIED_RANGES",
        value_delimiter = ',',
        num_args = 0..
    )]
    pub operator_verified_ranges: Vec<ipnet::IpNet>,
}
