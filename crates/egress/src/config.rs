//! How a deployment sets the egress of a service that reaches out (scan's verification, the
//! check workers): flattened into each such service's configuration.

use std::net::SocketAddr;

use crate::{EgressPolicy, OwnServices};

#[derive(Clone, Debug, Default, clap::Args)]
pub struct EgressArgs {
    /// Let checks and ownership verification reach private and loopback addresses. Off in the
    /// cloud; on-prem deployments that scan their own networks, and local demos, turn it on.
    /// Cloud metadata and link-local addresses stay refused either way, and so do the
    /// platform's own services.
    #[arg(
        id = "egress_allow_private",
        long = "egress-allow-private",
        env = "S4E_EGRESS_ALLOW_PRIVATE",
        value_name = "S4E_EGRESS_ALLOW_PRIVATE",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub allow_private: bool,

    /// The recursive resolvers the DNS check and DNS verification ask, comma-separated
    /// `ip:port` (or `ip`, port 53), in order. Unset: the system's (`/etc/resolv.conf`).
    #[arg(
        long,
        env = "S4E_DNS_SERVERS",
        value_name = "S4E_DNS_SERVERS",
        value_delimiter = ',',
        value_parser = crate::dns::parse_server
    )]
    pub dns_servers: Vec<SocketAddr>,
}

impl EgressArgs {
    /// The policy these settings make, refusing `own_services` whatever they allow.
    pub fn policy(&self, own_services: OwnServices) -> EgressPolicy {
        EgressPolicy {
            allow_private: self.allow_private,
            ..EgressPolicy::default()
        }
        .refusing(own_services)
    }
}
