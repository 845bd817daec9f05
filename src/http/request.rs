//! What a request says about its sender: the client's IP address, read from the socket, or
//! from `X-Forwarded-For` only when the socket's peer is a reverse proxy Tether was told to
//! trust (`--trust-proxy`, `--trusted-proxies`).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use super::AppState;
use crate::domain::session::Client;

/// The client's IP address, if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    pub fn text(self) -> Option<String> {
        self.0.map(|ip| ip.to_string())
    }

    /// The client as a new session remembers it: this address and the request's user agent.
    pub fn with_agent(self, headers: &HeaderMap) -> Client {
        let agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        Client::new(self.text(), agent)
    }
}

/// The reverse proxies whose `X-Forwarded-*` headers are believed: a list of networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of networks (`10.0.0.0/8`) or single addresses (`::1`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let network = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("{entry:?} is not an IP address or network like 10.0.0.0/8")
                })?;
            networks.push(network);
        }
        Ok(Self(networks))
    }

    /// Proxies on this machine only: the default.
    pub fn loopback() -> Self {
        Self::parse("127.0.0.0/8, ::1").unwrap_or(Self(Vec::new()))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|network| network.contains(&ip))
    }

    /// Whether a request's headers may be believed: it came straight from a trusted proxy.
    pub fn vouch_for(&self, parts: &Parts) -> bool {
        peer(parts).is_some_and(|ip| self.trusts(ip))
    }

    /// The client behind the proxies. Each proxy appends the address it was reached from, so
    /// only the right-hand end of `X-Forwarded-For` is written by proxies we trust; the
    /// left-hand end is whatever the client sent. Walking from the right, the first address
    /// that is not a trusted proxy is the client.
    fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // Garbage where an address should be: the last proxy we trust is all we know.
                return nearest;
            };
            if !self.trusts(ip) {
                return canonical(ip);
            }
            nearest = ip;
        }
        canonical(nearest)
    }
}

/// An IPv4 address written as IPv6 (`::ffff:192.0.2.1`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| canonical(addr.ip()))
}

impl<S> FromRequestParts<S> for ClientIp
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let peer = peer(parts);
        Ok(Self(match (&state.proxies, peer) {
            (Some(proxies), Some(peer)) if proxies.trusts(peer) => {
                Some(proxies.client(peer, &parts.headers))
            }
            _ => peer,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_right_most_hop_that_is_not_a_trusted_proxy() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        let peer = ip("127.0.0.1");
        // nginx's $proxy_add_x_forwarded_for: the client's own header, then what nginx saw.
        let headers = forwarded(&["203.0.113.66, 192.0.2.7"]);
        assert_eq!(proxies.client(peer, &headers), ip("192.0.2.7"));
        // Through two proxies, one of them in the private network.
        let headers = forwarded(&["1.1.1.1", "192.0.2.7, 10.1.2.3"]);
        assert_eq!(proxies.client(peer, &headers), ip("192.0.2.7"));
        // Garbage is never taken for an address.
        let headers = forwarded(&["not-an-ip, 10.1.2.3"]);
        assert_eq!(proxies.client(peer, &headers), ip("10.1.2.3"));
        // No header: the proxy itself.
        assert_eq!(proxies.client(peer, &HeaderMap::new()), peer);
    }

    #[test]
    fn trusted_proxies_are_networks_or_addresses() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, ::1, 192.0.2.1").unwrap();
        assert!(proxies.trusts(ip("10.200.0.1")));
        assert!(proxies.trusts(ip("::1")));
        assert!(proxies.trusts(ip("::ffff:192.0.2.1")));
        assert!(!proxies.trusts(ip("192.0.2.2")));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::loopback().trusts(ip("127.0.0.1")));
    }
}
