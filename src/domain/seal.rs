//! Secrets in transit (delivery.md §8): a token that an e-mail must carry after the commit is
//! kept in the outbox sealed with XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`),
//! under a key made at first start and kept with the other server secrets. The sealed copy
//! is bound to what it belongs to (the associated data), so one row's copy cannot be moved
//! to another's.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use super::error::{Error, Result};
use super::token::Token;

const NONCE_BYTES: usize = 24;

/// Seals and opens tokens in transit. Cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key>)")
    }
}

impl Sealer {
    /// A sealer under a 32-byte key.
    pub fn new(key: &[u8]) -> Result<Self> {
        if key.len() != 32 {
            return Err(Error::Internal(String::from(
                "the outbox sealing key is not 32 bytes long",
            )));
        }
        Ok(Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(key)),
        })
    }

    /// 32 fresh random bytes for a new key.
    pub fn fresh_key() -> Result<[u8; 32]> {
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key)
            .map_err(|e| Error::Internal(format!("the OS random source failed: {e}")))?;
        Ok(key)
    }

    /// The token sealed for `context`: a random nonce followed by the ciphertext.
    pub fn seal(&self, token: &Token, context: &str) -> Result<Vec<u8>> {
        self.seal_bytes(token.expose().as_bytes(), context)
    }

    /// Any secret sealed for `context` (a webhook's signing secret, which must be read to
    /// sign): a random nonce followed by the ciphertext.
    pub fn seal_bytes(&self, secret: &[u8], context: &str) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::getrandom(&mut nonce)
            .map_err(|e| Error::Internal(format!("the OS random source failed: {e}")))?;
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal(String::from("sealing a token failed")))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// The token `seal` sealed for the same `context`, or an error if the bytes were made
    /// under another key, for another context, or changed.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Token> {
        let text = String::from_utf8(self.open_bytes(sealed, context)?)
            .map_err(|_| Error::Internal(String::from("a sealed token is not text")))?;
        Ok(Token::presented(&text))
    }

    /// The bytes `seal_bytes` sealed for the same `context`.
    pub fn open_bytes(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>> {
        if sealed.len() <= NONCE_BYTES {
            return Err(Error::Internal(String::from("a sealed token is truncated")));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let opened = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal(String::from("a sealed token does not open")))?;
        Ok(opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_for_its_own_context_and_key() {
        let sealer = Sealer::new(&Sealer::fresh_key().unwrap()).unwrap();
        let token = Token::generate().unwrap();
        let sealed = sealer.seal(&token, "invite:7").unwrap();
        assert!(!sealed
            .windows(token.expose().len())
            .any(|w| w == token.expose().as_bytes()));
        assert_eq!(sealer.open(&sealed, "invite:7").unwrap(), token);
        assert!(sealer.open(&sealed, "invite:8").is_err());
        let other = Sealer::new(&Sealer::fresh_key().unwrap()).unwrap();
        assert!(other.open(&sealed, "invite:7").is_err());
        let mut changed = sealed.clone();
        changed[30] ^= 1;
        assert!(sealer.open(&changed, "invite:7").is_err());
    }

    #[test]
    fn the_same_token_seals_differently_each_time() {
        let sealer = Sealer::new(&Sealer::fresh_key().unwrap()).unwrap();
        let token = Token::generate().unwrap();
        assert_ne!(
            sealer.seal(&token, "x").unwrap(),
            sealer.seal(&token, "x").unwrap()
        );
    }
}
