//! Where each tenant lives: the MSP at the configured base URL, a client at its own
//! subdomain of the base host. Links are always built from configuration, never from a
//! request's `Host` header (quality.md Security 1).

use std::fmt;

use axum::http::Uri;

use super::tenant::Slug;
use super::token::Token;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    https: bool,
    /// Lower-case host name, without the port.
    host: String,
    /// `:8080`, or empty for the scheme's default port.
    port_suffix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the base URL must look like https://example.com or http://localhost:8080 (no path): {0}")]
pub struct BaseUrlError(String);

impl BaseUrl {
    pub fn parse(input: &str) -> Result<Self, BaseUrlError> {
        let invalid = || BaseUrlError(input.to_owned());
        let uri: Uri = input.trim_end_matches('/').parse().map_err(|_| invalid())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid()),
        };
        let authority = uri.authority().ok_or_else(invalid)?;
        if authority.as_str().contains('@')
            || !matches!(uri.path(), "" | "/")
            || uri.query().is_some()
        {
            return Err(invalid());
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err(invalid());
        }
        let port_suffix = match (authority.port_u16(), https) {
            (None, _) | (Some(443), true) | (Some(80), false) => String::new(),
            (Some(port), _) => format!(":{port}"),
        };
        Ok(Self {
            https,
            host,
            port_suffix,
        })
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The MSP's host name, e.g. `atechsolutions.org`.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    /// The origin a tenant is served at: the base URL for the MSP (`None`), its subdomain
    /// for a client.
    pub fn tenant_origin(&self, slug: Option<&Slug>) -> String {
        match slug {
            None => format!("{}://{}{}", self.scheme(), self.host, self.port_suffix),
            Some(slug) => format!(
                "{}://{}.{}{}",
                self.scheme(),
                slug,
                self.host,
                self.port_suffix
            ),
        }
    }

    pub fn invite_link(&self, slug: Option<&Slug>, token: &Token) -> String {
        format!("{}/invite/{}", self.tenant_origin(slug), token.expose())
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tenant_origin(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_live_on_subdomains_of_the_base_host() {
        let base = BaseUrl::parse("http://localhost:8080").unwrap();
        let acme = Slug::parse("acme").unwrap();
        assert_eq!(base.tenant_origin(None), "http://localhost:8080");
        assert_eq!(
            base.tenant_origin(Some(&acme)),
            "http://acme.localhost:8080"
        );
        let token = Token::presented("abc");
        assert_eq!(
            base.invite_link(Some(&acme), &token),
            "http://acme.localhost:8080/invite/abc"
        );
    }

    #[test]
    fn default_ports_are_left_out() {
        let base = BaseUrl::parse("https://AtechSolutions.org:443/").unwrap();
        assert_eq!(base.to_string(), "https://atechsolutions.org");
        assert!(base.is_https());
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        for bad in [
            "atechsolutions.org",
            "ftp://x.org",
            "https://x.org/app",
            "https://u@x.org",
            "",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad:?}");
        }
    }
}
