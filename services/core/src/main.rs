use clap::{Parser, Subcommand};
use s4e_core::Config;

/// mimalloc rather than glibc's allocator: see BENCHMARKS.md (the gateway's profiles).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "s4e-core", version, about = "S4E gateway (the public API)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// How the administrative commands reach base.
#[derive(clap::Args)]
struct BaseAccess {
    #[command(flatten)]
    base: s4e_runtime::BaseUrl,
    #[arg(
        long,
        env = "S4E_SERVICE_TOKEN",
        value_name = "S4E_SERVICE_TOKEN",
        hide_env_values = true
    )]
    service_token: String,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the public API (the default).
    Serve(Box<Config>),
    /// Create an organization with its first owner (password from S4E_OWNER_PASSWORD).
    CreateOrganization {
        /// Name of the new organization.
        #[arg(long)]
        org_name: String,
        /// E-mail address the owner signs in with.
        #[arg(long)]
        owner_email: String,
        /// Make it a partner organization, which creates and manages customer organizations.
        #[arg(long)]
        partner: bool,
        /// Never a flag: command lines are visible to every user of the machine.
        #[arg(
            skip = std::env::var("S4E_OWNER_PASSWORD").unwrap_or_default()
        )]
        owner_password: String,
        #[command(flatten)]
        base: BaseAccess,
    },
    /// Set an organization's rate-limit tier (standard, professional, enterprise).
    SetRateTier {
        #[arg(long)]
        org_id: s4e_types::OrgId,
        #[arg(long, value_parser = parse_tier)]
        tier: s4e_types::api::RateTier,
        #[command(flatten)]
        base: BaseAccess,
    },
    /// Create an organization with an admin API key and print the key (shown once).
    CreateAdminKey {
        /// Name of the new organization.
        #[arg(long)]
        org_name: String,
        /// Make it a partner organization, which creates and manages customer organizations.
        #[arg(long)]
        partner: bool,
        #[command(flatten)]
        base: BaseAccess,
    },
}

#[tokio::main]
async fn main() -> Result<(), s4e_runtime::BoxError> {
    match Cli::parse().command {
        Some(Command::CreateAdminKey {
            org_name,
            partner,
            base:
                BaseAccess {
                    base: s4e_runtime::BaseUrl { url: base_url },
                    service_token,
                },
        }) => {
            let key =
                s4e_core::create_admin_key_with(&base_url, &service_token, &org_name, partner)
                    .await?;
            // The key alone on stdout, so scripts can capture it.
            println!("{key}");
            Ok(())
        }
        Some(Command::CreateOrganization {
            org_name,
            owner_email,
            partner,
            owner_password,
            base:
                BaseAccess {
                    base: s4e_runtime::BaseUrl { url: base_url },
                    service_token,
                },
        }) => {
            let user_id = s4e_core::create_organization(
                &base_url,
                &service_token,
                &org_name,
                &owner_email,
                &owner_password,
                partner,
            )
            .await?;
            println!("{user_id}");
            Ok(())
        }
        Some(Command::SetRateTier {
            org_id,
            tier,
            base:
                BaseAccess {
                    base: s4e_runtime::BaseUrl { url: base_url },
                    service_token,
                },
        }) => {
            let base = s4e_client::BaseClient::new(&base_url, &service_token)?;
            let organization = base.set_rate_tier(org_id, tier).await?;
            println!("{} {}", organization.id, organization.rate_tier.as_str());
            Ok(())
        }
        Some(Command::Serve(config)) => s4e_runtime::start(*config).await,
        None => s4e_runtime::start(s4e_runtime::parse_config::<Config>()).await,
    }
}

fn parse_tier(value: &str) -> Result<s4e_types::api::RateTier, String> {
    s4e_types::api::RateTier::parse(value)
        .ok_or_else(|| format!("{value:?} is not a tier (standard, professional, enterprise)"))
}
