//! `Email`: the only way to hold an address is a valid, normalised one (trimmed and
//! lower-cased, product.md §1), so two spellings of one address are one user.

use std::fmt;

use email_address::{EmailAddress, Options};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::error::FieldError;

const MAX_LEN: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        // Bytes, before any work: a character is at most four.
        if input.len() > 4 * MAX_LEN + 64 {
            return Err(too_long());
        }
        if input.chars().any(is_invisible) {
            return Err(FieldError::new(
                "email",
                "invalid_email",
                "An email address cannot contain invisible characters.",
            ));
        }
        let normalised = normalise(input);
        if normalised.is_empty() {
            return Err(FieldError::new(
                "email",
                "required",
                "Enter an email address.",
            ));
        }
        if normalised.chars().count() > MAX_LEN {
            return Err(too_long());
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

    /// The part after the last `@`, as entered (lower-case, possibly Unicode).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// The part before the last `@`: a password may not contain it (product.md §3).
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(local, _)| local)
    }
}

fn too_long() -> FieldError {
    FieldError::new(
        "email",
        "invalid_email",
        "An email address can be at most 254 characters.",
    )
}

/// Format characters (Unicode category Cf: zero-width spaces and joiners, bidi overrides)
/// and controls draw nothing, so an address holding one looks like another address.
fn is_invisible(c: char) -> bool {
    c.is_control() || c.general_category() == GeneralCategory::Format
}

/// Trimmed, NFC (so `é` typed as one character or as `e` and a combining accent is one
/// address) and lower-cased. The domain is kept in Unicode, and one written in its ASCII form
/// (`xn--…`) is decoded to it, so both spellings of a domain are one address: how it is
/// stored, and why Unicode, is in docs/decisions.md.
fn normalise(input: &str) -> String {
    let lower: String = input.trim().nfc().collect::<String>().to_lowercase();
    let Some((local, domain)) = lower.rsplit_once('@') else {
        return lower;
    };
    let (unicode, result) = idna::domain_to_unicode(domain);
    match result {
        Ok(()) => format!("{local}@{}", unicode.nfc().collect::<String>()),
        // Not a valid domain: left as typed, for the address check to refuse.
        Err(_) => lower,
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
    fn one_visible_address_is_one_email() {
        let composed = Email::parse("ren\u{e9}@acme.example.com").unwrap();
        let decomposed = Email::parse("rene\u{301}@acme.example.com").unwrap();
        assert_eq!(composed, decomposed);
        let unicode = Email::parse("anna@b\u{fc}cher.example").unwrap();
        let ascii = Email::parse("Anna@XN--BCHER-KVA.example").unwrap();
        assert_eq!(unicode, ascii);
        assert_eq!(unicode.as_str(), "anna@b\u{fc}cher.example");
    }

    #[test]
    fn refuses_invisible_characters() {
        for bad in [
            "bob\u{200b}@acme.example.com",
            "bob@acme\u{200d}.example.com",
            "\u{202e}bob@acme.example.com",
            "bob\u{feff}@acme.example.com",
            "bob\u{0}@acme.example.com",
        ] {
            let refused = Email::parse(bad).unwrap_err();
            assert_eq!(refused.code, "invalid_email", "{bad:?}");
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
        assert!(Email::parse(&"a".repeat(2 << 20)).is_err());
    }
}
