//! `Email`: the only way to hold an address is a valid, normalised one (trimmed and
//! lower-cased, product.md §1), so two spellings of one address are one user.

use std::fmt;

use email_address::{EmailAddress, Options};

use super::error::FieldError;

const MAX_LEN: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let normalised = input.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(FieldError::new(
                "email",
                "required",
                "Enter an email address.",
            ));
        }
        if normalised.chars().count() > MAX_LEN {
            return Err(FieldError::new(
                "email",
                "invalid_email",
                "An email address can be at most 254 characters.",
            ));
        }
        let options = Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            allow_long_local_parts: false,
        };
        if EmailAddress::parse_with_options(&normalised, options).is_err() {
            return Err(FieldError::new(
                "email",
                "invalid_email",
                "Enter an email address like name@example.com.",
            ));
        }
        Ok(Self(normalised))
    }

    /// Wraps an address read back from the database, where only parsed ones are written.
    pub(crate) fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the last `@`: a password may not contain it (product.md §3).
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(local, _)| local)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_trimmed_and_lower_cased() {
        let email = Email::parse("  Alice@ACME.com ").unwrap();
        assert_eq!(email.as_str(), "alice@acme.com");
        assert_eq!(email.local_part(), "alice");
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "   ",
            "alice",
            "alice@",
            "@acme.com",
            "alice@acme",
            "Alice <alice@acme.com>",
            "alice@[127.0.0.1]",
            "a b@acme.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn refuses_more_than_254_characters() {
        let long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
        let error = Email::parse(&long).unwrap_err();
        assert_eq!(error.code, "invalid_email");
        let at_limit = format!(
            "{}@{}.{}.com",
            "a".repeat(60),
            "b".repeat(60),
            "c".repeat(60)
        );
        assert!(at_limit.len() <= 254);
        assert!(Email::parse(&at_limit).is_ok());
    }
}
