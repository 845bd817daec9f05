//! `AllowedDomains`: the e-mail domains a tenant admits (delivery.md §13). Each is kept
//! lower-case in its IDNA (punycode) form, so `bücher.example` and `xn--bcher-kva.example`
//! are one domain; `*.acme.com` admits `acme.com` and every name under it.

use std::fmt;

use super::email::Email;
use super::error::FieldError;

/// The field a list is entered in, on every edge.
pub const FIELD: &str = "allowed_email_domains";

/// How many domains one tenant may list: far beyond any company's own, small enough that
/// checking an address against the list stays trivial.
const MAX_DOMAINS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DomainRule {
    /// The domain in IDNA form, without any `*.`.
    domain: String,
    subdomains: bool,
}

impl DomainRule {
    fn parse(input: &str) -> Result<Self, FieldError> {
        let entry = input.trim().trim_end_matches('.');
        let (subdomains, name) = match entry.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, entry),
        };
        let refused = || {
            FieldError::new(
                FIELD,
                "invalid_domain",
                format!("\"{entry}\" is not a domain name like acme.com or *.acme.com."),
            )
        };
        if name.contains('*') || name.contains('@') {
            return Err(refused());
        }
        let domain = idna::domain_to_ascii_strict(name).map_err(|_| refused())?;
        if !domain.contains('.') || domain.starts_with('.') {
            return Err(refused());
        }
        Ok(Self { domain, subdomains })
    }

    fn admits(&self, domain: &str) -> bool {
        domain == self.domain
            || (self.subdomains
                && domain
                    .strip_suffix(self.domain.as_str())
                    .is_some_and(|head| head.ends_with('.')))
    }
}

impl fmt::Display for DomainRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subdomains {
            f.write_str("*.")?;
        }
        f.write_str(&self.domain)
    }
}

/// A tenant's allowed e-mail domains; empty admits every address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedDomains(Vec<DomainRule>);

impl AllowedDomains {
    /// A list as entered: each entry a domain or `*.domain`, in any case and in Unicode or
    /// punycode. Repeats are kept once; empty entries are skipped.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, FieldError> {
        let mut rules: Vec<DomainRule> = Vec::new();
        for entry in entries {
            if entry.trim().is_empty() {
                continue;
            }
            let rule = DomainRule::parse(entry)?;
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        if rules.len() > MAX_DOMAINS {
            return Err(FieldError::new(
                FIELD,
                "too_many_domains",
                format!("A tenant can allow at most {MAX_DOMAINS} domains."),
            ));
        }
        Ok(Self(rules))
    }

    /// A list typed in one box or one argument: entries separated by commas, spaces or
    /// lines.
    pub fn parse_text(text: &str) -> Result<Self, FieldError> {
        Self::parse(text.split(|c: char| c == ',' || c.is_whitespace()))
    }

    /// Reads the stored form, which only `to_stored` writes.
    pub(crate) fn from_stored(stored: &str) -> Self {
        Self(
            stored
                .split(',')
                .filter(|entry| !entry.is_empty())
                .map(|entry| match entry.strip_prefix("*.") {
                    Some(domain) => DomainRule {
                        domain: domain.to_owned(),
                        subdomains: true,
                    },
                    None => DomainRule {
                        domain: entry.to_owned(),
                        subdomains: false,
                    },
                })
                .collect(),
        )
    }

    pub(crate) fn to_stored(&self) -> String {
        self.entries().join(",")
    }

    /// Each entry as stored and shown: `acme.com`, `*.acme.co.uk`.
    pub fn entries(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the list lets `email` into its tenant.
    pub fn admits(&self, email: &Email) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let domain = email.domain();
        // An address's domain passed `Email::parse`; one IDNA cannot map is admitted by no
        // list.
        let Ok(domain) = idna::domain_to_ascii(domain) else {
            return false;
        };
        self.0.iter().any(|rule| rule.admits(&domain))
    }

    /// The field error for an address outside the list, naming what the list admits.
    pub fn refusal(&self, field: &'static str) -> FieldError {
        FieldError::new(
            field,
            "email_domain_not_allowed",
            format!(
                "This tenant only admits addresses at {}.",
                self.entries().join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(address: &str) -> Email {
        Email::parse(address).unwrap()
    }

    #[test]
    fn unicode_and_punycode_spellings_are_one_domain() {
        let unicode = AllowedDomains::parse(["Bücher.Example"]).unwrap();
        let punycode = AllowedDomains::parse(["xn--bcher-kva.example"]).unwrap();
        assert_eq!(unicode, punycode);
        assert_eq!(unicode.entries(), ["xn--bcher-kva.example"]);
        assert!(unicode.admits(&email("anna@bücher.example")));
        assert!(unicode.admits(&email("anna@xn--bcher-kva.example")));
        assert!(!unicode.admits(&email("anna@buecher.example")));
    }

    #[test]
    fn a_star_admits_the_domain_and_its_subdomains_only() {
        let list = AllowedDomains::parse_text("*.acme.com, acme.co.uk").unwrap();
        assert!(list.admits(&email("a@acme.com")));
        assert!(list.admits(&email("a@eu.acme.com")));
        assert!(list.admits(&email("a@x.eu.acme.com")));
        assert!(!list.admits(&email("a@notacme.com")));
        assert!(list.admits(&email("a@acme.co.uk")));
        assert!(!list.admits(&email("a@eu.acme.co.uk")));
        assert!(!list.admits(&email("a@gmail.com")));
    }

    #[test]
    fn an_empty_list_admits_everyone_and_survives_storage() {
        assert!(AllowedDomains::default().admits(&email("a@gmail.com")));
        let list = AllowedDomains::parse_text("acme.com\n*.Acme.NET acme.com").unwrap();
        assert_eq!(list.entries(), ["acme.com", "*.acme.net"]);
        assert_eq!(AllowedDomains::from_stored(&list.to_stored()), list);
        assert_eq!(
            AllowedDomains::parse_text(" , ").unwrap(),
            AllowedDomains::default()
        );
    }

    #[test]
    fn what_is_not_a_domain_is_refused_with_its_text() {
        for bad in [
            "localhost",
            "acme..com",
            "*.*.acme.com",
            "a@acme.com",
            "acme .com!",
            "*.",
        ] {
            let error = AllowedDomains::parse([bad]).unwrap_err();
            assert_eq!(
                (error.field, error.code),
                (FIELD, "invalid_domain"),
                "{bad}"
            );
        }
    }
}
