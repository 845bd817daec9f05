//! Bearer secrets — invite tokens, session and API tokens: 32 bytes from the OS's random
//! source written base64url without padding (43 characters). Only the SHA-256 digest is
//! ever stored; the token itself is shown once and never logged.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::error::{Error, Result};

const TOKEN_BYTES: usize = 32;

/// A token in the clear. Its `Debug` prints a placeholder, and it has no `Display`, so it
/// cannot slip into a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| Error::Internal(format!("the OS random source failed: {e}")))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// A token as a client presented it; it may be anything, and is only ever digested.
    pub fn presented(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// The token in the clear, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// What the database holds in place of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn to_vec(self) -> Vec<u8> {
        self.0.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_43_base64url_characters() {
        let token = Token::generate().unwrap();
        assert_eq!(token.expose().len(), 43);
        assert!(token
            .expose()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let decoded = URL_SAFE_NO_PAD.decode(token.expose()).unwrap();
        assert_eq!(decoded.len(), 32);
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(Token::generate().unwrap(), Token::generate().unwrap());
    }

    #[test]
    fn digest_is_sha256_of_the_text() {
        let digest = Token::presented("abc").digest();
        let expected: [u8; 32] = Sha256::digest(b"abc").into();
        assert_eq!(digest.to_vec(), expected.to_vec());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = Token::generate().unwrap();
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
