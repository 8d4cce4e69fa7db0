//! The client's address as the gateway trusts it. Behind a reverse proxy (an Ingress
//! controller) every request's TCP peer is the proxy. When the peer is one of the trusted
//! proxies (`S4E_TRUSTED_PROXIES`), the client is the right-most address of `X-Forwarded-For`
//! that is not itself a trusted proxy: each proxy appends the peer it saw, so everything left
//! of that address is whatever the client wrote and proves nothing. The request's
//! `ConnectInfo` is replaced by that address before any step reads it, so the address rate
//! limit, the sign-in limits, sessions and the audit log all see the same client. With no
//! trusted proxy the header is never read.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderValue;
use axum::http::header::HeaderName;
use ipnet::IpNet;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

#[derive(Clone)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(proxies: &[IpNet]) -> Self {
        TrustedProxies(proxies.into())
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|proxy| proxy.contains(&address))
    }

    /// The client of a request that came from `peer` with these `X-Forwarded-For` values.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a HeaderValue>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops = forwarded_for
            .rev()
            .flat_map(|value| value.to_str().unwrap_or_default().rsplit(','));
        for hop in hops {
            // A hop that is not an address ends the chain at the last one known.
            let Some(address) = parse_hop(hop.trim()) else {
                break;
            };
            client = address.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }

    /// The request with its `ConnectInfo` set to the client (see the module's docs).
    pub fn apply(&self, mut request: Request) -> Request {
        if self.0.is_empty() {
            return request;
        }
        let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
            return request;
        };
        let client = self.client(
            peer.ip(),
            request.headers().get_all(&X_FORWARDED_FOR).iter(),
        );
        let port = if client == peer.ip().to_canonical() {
            peer.port()
        } else {
            0
        };
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(client, port)));
        request
    }
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        let nets: Vec<IpNet> = list.iter().map(|net| net.parse().unwrap()).collect();
        TrustedProxies::new(&nets)
    }

    fn client(trusted: &TrustedProxies, peer: &str, headers: &[&str]) -> String {
        let values: Vec<HeaderValue> = headers
            .iter()
            .map(|value| HeaderValue::from_str(value).unwrap())
            .collect();
        trusted
            .client(peer.parse().unwrap(), values.iter())
            .to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client(&trusted, "203.0.113.9", &["198.51.100.1"]),
            "203.0.113.9"
        );
        assert_eq!(
            client(&proxies(&[]), "10.1.2.3", &["198.51.100.1"]),
            "10.1.2.3"
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client_and_what_the_client_wrote_is_ignored() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.10/32"]);
        // The client claimed 1.1.1.1; the edge proxy appended the client's real address and
        // the ingress controller the edge proxy's.
        assert_eq!(
            client(
                &trusted,
                "10.244.1.5",
                &["1.1.1.1, 198.51.100.7, 192.0.2.10"]
            ),
            "198.51.100.7"
        );
        // The same chain split over several headers.
        assert_eq!(
            client(
                &trusted,
                "10.244.1.5",
                &["1.1.1.1", "198.51.100.7", "192.0.2.10"]
            ),
            "198.51.100.7"
        );
        assert_eq!(
            client(&trusted, "10.244.1.5", &["[2001:db8::7]:4711"]),
            "2001:db8::7"
        );
        assert_eq!(
            client(&trusted, "::ffff:10.244.1.5", &["198.51.100.7:80"]),
            "198.51.100.7"
        );
    }

    #[test]
    fn a_chain_of_proxies_only_or_of_garbage_ends_at_the_last_known_address() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(client(&trusted, "10.244.1.5", &[]), "10.244.1.5");
        assert_eq!(client(&trusted, "10.244.1.5", &["10.1.1.1"]), "10.1.1.1");
        assert_eq!(
            client(&trusted, "10.244.1.5", &["198.51.100.7, unknown, 10.1.1.1"]),
            "10.1.1.1"
        );
    }
}
