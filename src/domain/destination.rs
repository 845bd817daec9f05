//! Where a webhook may be delivered (delivery.md §14, quality.md Security 14): `https://`
//! unless the operator allows `http://`, and never, unless the operator allows it, an address
//! in loopback, private, shared, link-local, unique-local, multicast, documentation or other
//! special ranges, nor an IPv6 form that carries an IPv4 address. The URL is checked when an
//! endpoint is saved; every address a name resolves to is checked again at each delivery,
//! and the connection goes to a checked address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use url::{Host, Url};

/// What the operator allows beyond the default (`--webhook-allow-http`,
/// `--webhook-allow-private`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    pub allow_http: bool,
    pub allow_private: bool,
}

/// Why a destination is refused, as a sentence's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationRefusal {
    NotAUrl,
    Scheme(String),
    NoHost,
    Credentials,
    Special {
        address: IpAddr,
        range: &'static str,
    },
}

impl fmt::Display for DestinationRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAUrl => f.write_str("it is not a URL like https://hooks.example.com/tether"),
            Self::Scheme(scheme) if scheme == "http" => f.write_str(
                "it is http://, and webhooks are sent only over https:// unless the server allows http",
            ),
            Self::Scheme(scheme) => write!(f, "it is {scheme}://, and webhooks are sent over https://"),
            Self::NoHost => f.write_str("it names no host"),
            Self::Credentials => f.write_str(
                "it carries a user name or password; put any credential in the path or rely on the signature",
            ),
            Self::Special { address, range } => write!(
                f,
                "{address} is a {range} address, which webhooks may not reach unless the server allows private destinations"
            ),
        }
    }
}

const V4_SPECIAL: &[(Ipv4Net, &str)] = &[
    (
        Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8),
        "\"this network\"",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8),
        "private (RFC 1918)",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10),
        "shared (carrier-grade NAT)",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8),
        "loopback",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 0, 0), 16),
        "link-local",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12),
        "private (RFC 1918)",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 0, 0), 24),
        "protocol assignment",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 0), 24),
        "documentation",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(192, 88, 99, 0), 24),
        "6to4 relay",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16),
        "private (RFC 1918)",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(198, 18, 0, 0), 15),
        "benchmarking",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(198, 51, 100, 0), 24),
        "documentation",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(203, 0, 113, 0), 24),
        "documentation",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 4),
        "multicast",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(240, 0, 0, 0), 4),
        "reserved",
    ),
];

const V6_SPECIAL: &[(Ipv6Net, &str)] = &[
    (
        Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 128),
        "unspecified",
    ),
    (Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128), "loopback"),
    // Both forms that carry an IPv4 address in the last 32 bits: IPv4-mapped
    // (::ffff:0:0/96) and the deprecated IPv4-compatible (::/96).
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96),
        "IPv4-mapped IPv6",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 96),
        "IPv4-compatible IPv6",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96),
        "NAT64",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48),
        "NAT64",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
        "discard-only",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32),
        "Teredo",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
        "documentation",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),
        "6to4",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
        "documentation",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
        "unique-local",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
        "link-local",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
        "site-local",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
        "multicast",
    ),
];

/// The special range `address` falls in, if any; `None` for a public address.
pub fn special_range(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => V4_SPECIAL
            .iter()
            .find(|(net, _)| net.contains(&v4))
            .map(|(_, range)| *range),
        IpAddr::V6(v6) => V6_SPECIAL
            .iter()
            .find(|(net, _)| net.contains(&v6))
            .map(|(_, range)| *range),
    }
}

impl DestinationPolicy {
    /// A webhook URL as an MSP admin entered it: its scheme, a host, no credentials, and a
    /// literal address outside the special ranges. A name is checked when it is resolved.
    pub fn check_url(&self, input: &str) -> Result<Url, DestinationRefusal> {
        let url = Url::parse(input.trim()).map_err(|_| DestinationRefusal::NotAUrl)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            other => return Err(DestinationRefusal::Scheme(other.to_owned())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(DestinationRefusal::Credentials);
        }
        match url.host() {
            None => return Err(DestinationRefusal::NoHost),
            Some(Host::Ipv4(v4)) => self.check_address(IpAddr::V4(v4))?,
            Some(Host::Ipv6(v6)) => self.check_address(IpAddr::V6(v6))?,
            Some(Host::Domain(_)) => {}
        }
        Ok(url)
    }

    /// An address a delivery is about to connect to.
    pub fn check_address(&self, address: IpAddr) -> Result<(), DestinationRefusal> {
        match special_range(address) {
            Some(range) if !self.allow_private => {
                Err(DestinationRefusal::Special { address, range })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: DestinationPolicy = DestinationPolicy {
        allow_http: false,
        allow_private: false,
    };

    fn refused_range(url: &str) -> &'static str {
        match STRICT.check_url(url) {
            Err(DestinationRefusal::Special { range, .. }) => range,
            other => panic!("{url}: expected a special range, got {other:?}"),
        }
    }

    #[test]
    fn every_special_range_is_refused_by_default_and_named() {
        for (url, range) in [
            ("https://127.0.0.1/hook", "loopback"),
            ("https://127.1.2.3/hook", "loopback"),
            ("https://10.1.2.3/", "private (RFC 1918)"),
            ("https://172.20.0.1/", "private (RFC 1918)"),
            ("https://192.168.1.1/", "private (RFC 1918)"),
            ("https://100.100.0.1/", "shared (carrier-grade NAT)"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://0.0.0.0/", "\"this network\""),
            ("https://224.0.0.1/", "multicast"),
            ("https://255.255.255.255/", "reserved"),
            ("https://192.0.2.10/", "documentation"),
            ("https://198.51.100.1/", "documentation"),
            ("https://203.0.113.9/", "documentation"),
            ("https://198.18.0.1/", "benchmarking"),
            ("https://[::1]/", "loopback"),
            ("https://[::]/", "unspecified"),
            ("https://[::ffff:127.0.0.1]/", "IPv4-mapped IPv6"),
            ("https://[::ffff:8.8.8.8]/", "IPv4-mapped IPv6"),
            ("https://[::127.0.0.1]/", "IPv4-compatible IPv6"),
            ("https://[64:ff9b::a00:1]/", "NAT64"),
            ("https://[fe80::1]/", "link-local"),
            ("https://[fd12:3456::1]/", "unique-local"),
            ("https://[ff02::1]/", "multicast"),
            ("https://[2001:db8::1]/", "documentation"),
            ("https://[2002:7f00:1::]/", "6to4"),
        ] {
            assert_eq!(refused_range(url), range, "{url}");
        }
    }

    #[test]
    fn the_url_itself_names_a_refused_range_even_in_other_spellings() {
        // The URL parser reads an address however it is written.
        assert_eq!(refused_range("https://2130706433/"), "loopback");
        assert_eq!(refused_range("https://0x7f.1/"), "loopback");
        assert_eq!(
            refused_range("https://[0:0:0:0:0:ffff:7f00:1]/"),
            "IPv4-mapped IPv6"
        );
    }

    #[test]
    fn public_addresses_and_names_pass_and_the_flags_open_what_they_say() {
        assert!(STRICT.check_url("https://hooks.example.com/tether").is_ok());
        assert!(STRICT.check_url("https://8.8.8.8/").is_ok());
        assert!(STRICT.check_url("https://[2606:4700::1111]/").is_ok());
        assert_eq!(
            STRICT.check_url("http://hooks.example.com/"),
            Err(DestinationRefusal::Scheme("http".into()))
        );
        assert_eq!(
            STRICT.check_url("ftp://hooks.example.com/"),
            Err(DestinationRefusal::Scheme("ftp".into()))
        );
        assert_eq!(
            STRICT.check_url("https://user:pw@hooks.example.com/"),
            Err(DestinationRefusal::Credentials)
        );
        assert_eq!(
            STRICT.check_url("not a url"),
            Err(DestinationRefusal::NotAUrl)
        );
        let open = DestinationPolicy {
            allow_http: true,
            allow_private: true,
        };
        assert!(open.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(open
            .check_address("::ffff:127.0.0.1".parse().unwrap())
            .is_ok());
        let sentence = STRICT
            .check_url("https://10.0.0.1/")
            .unwrap_err()
            .to_string();
        assert!(
            sentence.contains("10.0.0.1 is a private (RFC 1918) address"),
            "{sentence}"
        );
    }
}
