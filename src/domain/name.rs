//! `Name`: a display name for a person or a tenant — 1 to 100 printable characters after
//! trimming (product.md §3).

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::error::FieldError;

const MAX_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Parses the input of form or API field `field`.
    pub fn parse(field: &'static str, input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(FieldError::new(field, "required", "Enter a name."));
        }
        if trimmed.chars().count() > MAX_CHARS {
            return Err(FieldError::new(
                field,
                "too_long",
                "A name can be at most 100 characters.",
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "invalid_characters",
                "A name cannot contain control characters such as line breaks or tabs.",
            ));
        }
        if trimmed.chars().any(is_hidden_format) {
            return Err(FieldError::new(
                field,
                "invalid_characters",
                "A name cannot contain invisible formatting characters such as direction overrides.",
            ));
        }
        Ok(Self(trimmed.nfc().collect()))
    }

    pub(crate) fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Format characters (Unicode category Cf) draw nothing: bidi overrides make a name read
/// as another, zero-width spaces make two names look alike. Zero-width (non-)joiners are
/// the exception: Persian, Indic scripts and emoji sequences need them to be written.
fn is_hidden_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format && !matches!(c, '\u{200c}' | '\u{200d}')
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_trimmed() {
        assert_eq!(
            Name::parse("name", "  Alice Smith ").unwrap().as_str(),
            "Alice Smith"
        );
    }

    #[test]
    fn holds_one_to_a_hundred_printable_characters() {
        assert!(Name::parse("name", "").is_err());
        assert!(Name::parse("name", "   ").is_err());
        assert!(Name::parse("name", &"é".repeat(100)).is_ok());
        assert_eq!(
            Name::parse("name", &"é".repeat(101)).unwrap_err().code,
            "too_long"
        );
        assert_eq!(
            Name::parse("name", "Alice\nSmith").unwrap_err().code,
            "invalid_characters"
        );
    }

    #[test]
    fn refuses_direction_overrides_and_zero_width_spaces_but_keeps_joiners() {
        for bad in [
            "Bob\u{202e}nottap",
            "Bo\u{200b}b",
            "\u{2066}Eve",
            "A\u{feff}B",
        ] {
            assert_eq!(
                Name::parse("name", bad).unwrap_err().code,
                "invalid_characters",
                "{bad:?}"
            );
        }
        assert!(Name::parse(
            "name",
            "\u{645}\u{6cc}\u{200c}\u{62e}\u{648}\u{627}\u{647}\u{645}"
        )
        .is_ok());
        assert_eq!(
            Name::parse("name", "Rene\u{301}").unwrap(),
            Name::parse("name", "Ren\u{e9}").unwrap()
        );
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            Name::parse("tenant_name", "").unwrap_err().field,
            "tenant_name"
        );
    }
}
