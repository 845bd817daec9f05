//! Cross-site request forgery defence for every state-changing form, in the two layers of
//! api.md "Web forms": a `csrf_token` field that must match the page's (an HMAC of a random
//! cookie under a key kept in the database), and a request that comes from the page's own
//! origin (`Sec-Fetch-Site`, else `Origin`).

use std::sync::Arc;

use axum::http::header::{COOKIE, ORIGIN};
use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::token::Token;

pub const CSRF_COOKIE: &str = "tether_csrf";

/// Signs and checks form tokens.
#[derive(Clone)]
pub struct FormKey(Arc<Vec<u8>>);

impl FormKey {
    pub fn new(key: Vec<u8>) -> Self {
        Self(Arc::new(key))
    }

    fn mac(&self, nonce: &str) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).ok()?;
        mac.update(nonce.as_bytes());
        Some(mac)
    }

    fn sign(&self, nonce: &str) -> String {
        self.mac(nonce)
            .map(|mac| URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
            .unwrap_or_default()
    }

    fn verify(&self, nonce: &str, token: &str) -> bool {
        let (Some(mac), Ok(given)) = (self.mac(nonce), URL_SAFE_NO_PAD.decode(token)) else {
            return false;
        };
        mac.verify_slice(&given).is_ok()
    }
}

/// A page's form token, and the cookie to set when the browser had none yet.
pub struct FormToken {
    pub token: String,
    pub set_cookie: Option<String>,
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The token for a page's forms, minting the browser's CSRF cookie if it has none.
pub fn form_token(key: &FormKey, headers: &HeaderMap, secure: bool) -> FormToken {
    if let Some(nonce) = cookie_value(headers, CSRF_COOKIE).filter(|n| n.len() == 43) {
        return FormToken {
            token: key.sign(&nonce),
            set_cookie: None,
        };
    }
    let nonce = Token::generate()
        .map(|t| t.expose().to_owned())
        .unwrap_or_default();
    let cookie = Cookie::build((CSRF_COOKIE, nonce.clone()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .build();
    FormToken {
        token: key.sign(&nonce),
        set_cookie: Some(cookie.to_string()),
    }
}

/// Whether a submitted form may be acted on: its token matches the browser's cookie, and it
/// came from `own_origin`. A sibling client subdomain is another tenant, so `same-site` is
/// refused too. Browsers send `Origin: null` from pages with `Referrer-Policy: no-referrer`
/// (the invite page), which is why a `null` origin alone is not a refusal.
pub fn form_is_trusted(
    key: &FormKey,
    headers: &HeaderMap,
    submitted: &str,
    own_origin: &str,
) -> bool {
    let token_matches =
        cookie_value(headers, CSRF_COOKIE).is_some_and(|nonce| key.verify(&nonce, submitted));
    let same_origin = match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => match headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
            None | Some("null") => true,
            Some(origin) => origin == own_origin,
        },
    };
    token_matches && same_origin
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_token_matches_only_its_own_cookie_under_the_same_key() {
        let key = FormKey::new(vec![7; 32]);
        let issued = form_token(&key, &HeaderMap::new(), false);
        let cookie = issued.set_cookie.unwrap();
        let nonce = cookie.split(';').next().unwrap().to_owned();
        let with_cookie = headers(&[("cookie", &nonce)]);
        let own = "http://localhost:8080";
        assert!(form_is_trusted(&key, &with_cookie, &issued.token, own));
        assert!(!form_is_trusted(&key, &with_cookie, "forged", own));
        assert!(!form_is_trusted(
            &key,
            &HeaderMap::new(),
            &issued.token,
            own
        ));
        assert!(!form_is_trusted(
            &FormKey::new(vec![8; 32]),
            &with_cookie,
            &issued.token,
            own
        ));
    }

    #[test]
    fn the_origin_layer_follows_api_md() {
        let key = FormKey::new(vec![7; 32]);
        let issued = form_token(&key, &HeaderMap::new(), false);
        let nonce = issued
            .set_cookie
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let own = "http://acme.localhost:8080";
        let check = |extra: &[(&'static str, &str)]| {
            let mut pairs = vec![("cookie", nonce.as_str())];
            pairs.extend_from_slice(extra);
            form_is_trusted(&key, &headers(&pairs), &issued.token, own)
        };
        assert!(check(&[("sec-fetch-site", "same-origin")]));
        assert!(check(&[("sec-fetch-site", "none")]));
        assert!(check(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "null")
        ]));
        assert!(!check(&[("sec-fetch-site", "same-site")]));
        assert!(!check(&[("sec-fetch-site", "cross-site")]));
        assert!(check(&[]));
        assert!(check(&[("origin", "null")]));
        assert!(check(&[("origin", own)]));
        assert!(!check(&[("origin", "http://globex.localhost:8080")]));
    }
}
