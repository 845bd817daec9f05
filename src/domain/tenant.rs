//! Tenants and their branding: `Slug`, `AccentColour`, `Logo` (recognised by its bytes).

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use serde_json::json;
use sha2::{Digest, Sha256};

use super::actor::{Action, Actor};
use super::allowed_domains::AllowedDomains;
use super::audit::{AuditAction, NewAuditEvent, Target};
use super::clock::Timestamp;
use super::error::{Error, FieldError, FieldErrors, Result};
use super::name::Name;
use super::webhook::{EventType, Subject};
use super::Tether;
use crate::store;
pub use crate::store::tenants::{LogoFile, TenantSummary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantId(pub i64);

/// Which tenant each known host serves, keyed by slug ("" for the MSP's base host); see
/// `Tether::site_tenant_id`.
#[derive(Debug, Default)]
pub struct Sites(RwLock<HashMap<String, TenantId>>);

impl Sites {
    fn get(&self, slug: &str) -> Option<TenantId> {
        let known = self.0.read().unwrap_or_else(PoisonError::into_inner);
        known.get(slug).copied()
    }

    fn remember(&self, slug: &str, id: TenantId) {
        let mut known = self.0.write().unwrap_or_else(PoisonError::into_inner);
        known.insert(slug.to_owned(), id);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TenantKind {
    Msp,
    Client,
}

impl TenantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Msp => "msp",
            Self::Client => "client",
        }
    }

    pub fn from_stored(stored: &str) -> Self {
        if stored == "msp" {
            Self::Msp
        } else {
            Self::Client
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub kind: TenantKind,
    pub name: Name,
    /// `None` for the MSP, which is served at the base URL itself.
    pub slug: Option<Slug>,
    pub accent_colour: AccentColour,
    /// The logo's ETag, when the tenant has a logo; it also versions the logo's URL.
    pub logo_etag: Option<String>,
    pub created_at: Timestamp,
    /// Whether e-mailed invites get their reminder a day before they expire (delivery.md §11).
    pub invite_reminders: bool,
    /// The e-mail domains it admits; empty admits any address (delivery.md §13).
    pub allowed_email_domains: AllowedDomains,
}

/// Labels a client may not take because they name something other than a tenant.
const RESERVED_SLUGS: &[&str] = &[
    "www",
    "api",
    "admin",
    "app",
    "auth",
    "login",
    "mail",
    "smtp",
    "static",
    "assets",
    "cdn",
    "status",
    "metrics",
    "msp",
    "tether",
    "localhost",
];

/// A client's DNS label: `acme` in `acme.atechsolutions.org`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn parse(input: &str) -> std::result::Result<Self, FieldError> {
        let slug = input.trim();
        let bytes = slug.as_bytes();
        let allowed_inside = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
        let well_formed = !bytes.is_empty()
            && bytes.len() <= 63
            && bytes.iter().all(allowed_inside)
            && bytes.first() != Some(&b'-')
            && bytes.last() != Some(&b'-');
        if !well_formed {
            return Err(FieldError::new(
                "slug",
                "invalid_slug",
                "Use 1 to 63 lower-case letters, digits or hyphens, not starting or ending with a hyphen.",
            ));
        }
        if RESERVED_SLUGS.contains(&slug) {
            return Err(FieldError::new(
                "slug",
                "reserved_slug",
                format!("\"{slug}\" is reserved; choose another address."),
            ));
        }
        Ok(Self(slug.to_owned()))
    }

    pub(crate) fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A brand colour `#RRGGBB`, kept upper-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccentColour(String);

impl AccentColour {
    pub fn parse(input: &str) -> std::result::Result<Self, FieldError> {
        let colour = input.trim();
        let valid = colour.len() == 7
            && colour.starts_with('#')
            && colour[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(FieldError::new(
                "accent_colour",
                "invalid_colour",
                "Use a colour written as # and six hexadecimal digits, like #2563EB.",
            ));
        }
        Ok(Self(colour.to_ascii_uppercase()))
    }

    pub fn default_colour() -> Self {
        Self(String::from("#2563EB"))
    }

    pub(crate) fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn rgb(&self) -> [u8; 3] {
        let channel = |i: usize| u8::from_str_radix(&self.0[1 + i * 2..3 + i * 2], 16).unwrap_or(0);
        [channel(0), channel(1), channel(2)]
    }

    /// A colour that carries text readably, and that text's colour: the accent itself when
    /// black or white text on it reaches WCAG AA (4.5:1), otherwise the accent darkened
    /// just enough for white text to. Buttons use it; the brand stripe uses the accent as is.
    pub fn readable(&self) -> (String, &'static str) {
        let mut rgb = self.rgb();
        if contrast(luminance(rgb), luminance(DARK_TEXT)) >= 4.5 {
            return (self.0.clone(), "#111111");
        }
        while contrast(luminance(rgb), 1.0) < 4.5 {
            rgb = rgb.map(|c| (f64::from(c) * 0.92) as u8);
        }
        (
            format!("#{:02X}{:02X}{:02X}", rgb[0], rgb[1], rgb[2]),
            "#FFFFFF",
        )
    }
}

const DARK_TEXT: [u8; 3] = [0x11, 0x11, 0x11];

/// WCAG 2 relative luminance.
fn luminance(rgb: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
}

fn contrast(a: f64, b: f64) -> f64 {
    let (light, dark) = if a > b { (a, b) } else { (b, a) };
    (light + 0.05) / (dark + 0.05)
}

/// The image formats a logo may have, recognised by their leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoType {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl LogoType {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    // Four fixed signatures are all we accept; a general sniffing crate would recognise
    // (and so invite) many more formats than a logo may have.
    fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else {
            None
        }
    }
}

pub const MAX_LOGO_BYTES: usize = 512 * 1024;

/// Markup that makes an image a polyglot a browser might render as a document.
const MARKUP_SIGNS: &[&[u8]] = &[
    b"<svg",
    b"<html",
    b"<script",
    b"<!doctype",
    b"<?xml",
    b"<body",
    b"<iframe",
    b"<head",
];

#[derive(Debug, Clone)]
pub struct Logo {
    pub kind: LogoType,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoRefusal {
    Empty,
    TooLarge,
    NotAnImage,
}

impl Logo {
    /// Accepts PNG, JPEG, WebP or GIF by their bytes, never by a declared type; refuses SVG,
    /// HTML, and images that also carry markup (product.md §1, quality.md Security 9).
    pub fn sniff(bytes: Vec<u8>) -> std::result::Result<Self, LogoRefusal> {
        if bytes.is_empty() {
            return Err(LogoRefusal::Empty);
        }
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(LogoRefusal::TooLarge);
        }
        let kind = LogoType::sniff(&bytes).ok_or(LogoRefusal::NotAnImage)?;
        if contains_markup(&bytes) {
            return Err(LogoRefusal::NotAnImage);
        }
        Ok(Self { kind, bytes })
    }

    /// A strong validator for the logo's bytes.
    pub fn etag(&self) -> String {
        let digest = Sha256::digest(&self.bytes);
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("\"{hex}\"")
    }
}

fn contains_markup(bytes: &[u8]) -> bool {
    let lower = bytes.to_ascii_lowercase();
    MARKUP_SIGNS
        .iter()
        .any(|sign| lower.windows(sign.len()).any(|window| window == *sign))
}

impl fmt::Display for LogoRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the logo file is empty",
            Self::TooLarge => "a logo can be at most 512 KiB",
            Self::NotAnImage => "a logo must be a PNG, JPEG, WebP or GIF image",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_is_a_dns_label() {
        for good in ["acme", "a", "acme-corp", "a1", &"a".repeat(63)] {
            assert!(Slug::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "-acme",
            "acme-",
            "Acme",
            "ac_me",
            "ac.me",
            "ácme",
            &"a".repeat(64),
        ] {
            assert_eq!(
                Slug::parse(bad).unwrap_err().code,
                "invalid_slug",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reserved_slugs_are_refused() {
        for reserved in ["www", "api", "admin"] {
            assert_eq!(Slug::parse(reserved).unwrap_err().code, "reserved_slug");
        }
    }

    #[test]
    fn accent_colour_is_six_hex_digits() {
        assert_eq!(AccentColour::parse("#ff8800").unwrap().as_str(), "#FF8800");
        for bad in ["ff8800", "#ff880", "#ff88000", "#gg8800", "red", ""] {
            assert!(AccentColour::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn text_on_the_accent_colour_stays_readable() {
        for colour in [
            "#FFFF00", "#1E3A8A", "#FFFFFF", "#000000", "#D9480F", "#2563EB", "#0B7285", "#FF00FF",
        ] {
            let (background, text) = AccentColour::parse(colour).unwrap().readable();
            let background = AccentColour::parse(&background).unwrap().rgb();
            let text = AccentColour::parse(text).unwrap().rgb();
            let ratio = contrast(luminance(background), luminance(text));
            assert!(ratio >= 4.5, "{colour}: {ratio}");
        }
        assert_eq!(
            AccentColour::parse("#FFFF00").unwrap().readable(),
            (String::from("#FFFF00"), "#111111")
        );
        assert_eq!(
            AccentColour::parse("#1E3A8A").unwrap().readable(),
            (String::from("#1E3A8A"), "#FFFFFF")
        );
    }

    fn png(extra: &[u8]) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend_from_slice(extra);
        bytes
    }

    #[test]
    fn logos_are_recognised_by_their_bytes() {
        assert_eq!(Logo::sniff(png(b"")).unwrap().kind, LogoType::Png);
        assert_eq!(
            Logo::sniff(vec![0xFF, 0xD8, 0xFF, 0xE0]).unwrap().kind,
            LogoType::Jpeg
        );
        assert_eq!(
            Logo::sniff(b"GIF89a\x01\0".to_vec()).unwrap().kind,
            LogoType::Gif
        );
        assert_eq!(
            Logo::sniff(b"RIFF\0\0\0\0WEBPVP8 ".to_vec()).unwrap().kind,
            LogoType::Webp
        );
    }

    #[test]
    fn svg_html_and_polyglots_are_refused() {
        let svg = b"<svg xmlns='http://www.w3.org/2000/svg'></svg>".to_vec();
        assert_eq!(Logo::sniff(svg).unwrap_err(), LogoRefusal::NotAnImage);
        let html = b"<!DOCTYPE html><p>hi".to_vec();
        assert_eq!(Logo::sniff(html).unwrap_err(), LogoRefusal::NotAnImage);
        let polyglot = b"GIF89a/*<SCRIPT>alert(1)</script>*/".to_vec();
        assert_eq!(Logo::sniff(polyglot).unwrap_err(), LogoRefusal::NotAnImage);
        assert_eq!(
            Logo::sniff(png(b"<html>")).unwrap_err(),
            LogoRefusal::NotAnImage
        );
    }

    #[test]
    fn logos_are_at_most_512_kib() {
        assert!(Logo::sniff(png(&vec![0; MAX_LOGO_BYTES - 16])).is_ok());
        assert_eq!(
            Logo::sniff(png(&vec![0; MAX_LOGO_BYTES])).unwrap_err(),
            LogoRefusal::TooLarge
        );
        assert_eq!(Logo::sniff(Vec::new()).unwrap_err(), LogoRefusal::Empty);
    }
}

/// A new client tenant, as a person typed it.
#[derive(Debug, Clone, Default)]
pub struct NewTenant {
    pub name: String,
    pub slug: String,
    pub accent_colour: Option<String>,
    /// The logo file's bytes, if one was given.
    pub logo: Option<Vec<u8>>,
    /// The e-mail domains it admits, each as entered; empty admits any address.
    pub allowed_email_domains: Vec<String>,
}

/// Changes to a tenant's name, colour or logo; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantChanges {
    pub name: Option<String>,
    pub accent_colour: Option<String>,
    /// A new logo's bytes, recognised by their content.
    pub logo: Option<Vec<u8>>,
    /// Turns the invite reminders on or off.
    pub invite_reminders: Option<bool>,
    /// A new list of allowed e-mail domains, each as entered; an empty one admits anyone.
    pub allowed_email_domains: Option<Vec<String>>,
}

impl Tether {
    /// Creates a client tenant (MSP admins only), with its logo if given, in one transaction.
    pub async fn create_tenant(&self, actor: &Actor, input: NewTenant) -> Result<Tenant> {
        self.scope_or_refuse(actor, Action::ManageTenants).await?;
        let mut errors = FieldErrors::default();
        let name = errors.check(Name::parse("name", &input.name));
        let slug = errors.check(Slug::parse(&input.slug));
        let accent_colour = match &input.accent_colour {
            Some(colour) => errors.check(AccentColour::parse(colour)),
            None => Some(AccentColour::default_colour()),
        };
        let allowed_email_domains = errors.check(AllowedDomains::parse(
            input.allowed_email_domains.iter().map(String::as_str),
        ));
        errors.into_result()?;
        let (Some(name), Some(slug), Some(accent_colour), Some(allowed_email_domains)) =
            (name, slug, accent_colour, allowed_email_domains)
        else {
            return Err(Error::Internal("checked fields went missing".into()));
        };
        let logo = input
            .logo
            .map(Logo::sniff)
            .transpose()
            .map_err(Error::Logo)?;

        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id = store::tenants::insert(
            &mut tx,
            TenantKind::Client,
            &name,
            Some(&slug),
            &accent_colour,
            &allowed_email_domains,
            now,
        )
        .await?;
        if let Some(logo) = &logo {
            store::tenants::set_logo(&mut tx, id, logo, now).await?;
        }
        let event = NewAuditEvent::by(actor, now, AuditAction::TenantCreated, Some(id))
            .target(Target::Tenant(id))
            .detail(json!({
                "name": name.as_str(),
                "slug": slug.as_str(),
                "accent_colour": accent_colour.as_str(),
                "allowed_email_domains": allowed_email_domains.entries(),
            }));
        store::audit::insert(&mut tx, &event).await?;
        self.emit(&mut tx, EventType::TenantCreated, Subject::Tenant(id), now)
            .await?;
        let tenant = store::tenants::by_id(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("tenant"))?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// Changes a tenant's name, colour and logo (MSP admins only), all or nothing: every
    /// field, the logo included, is checked before anything is written, in one transaction.
    pub async fn update_tenant(
        &self,
        actor: &Actor,
        id: TenantId,
        changes: TenantChanges,
    ) -> Result<Tenant> {
        let tenant = self.visible_tenant(actor, id).await?;
        self.require_manage_tenants(actor, id).await?;
        self.apply_tenant_changes(actor, tenant, changes).await
    }

    /// One client the actor may see; the MSP tenant is no client, and is "not found" here
    /// (the console's client pages, product.md §4).
    pub async fn client(&self, actor: &Actor, id: TenantId) -> Result<Tenant> {
        let tenant = self.visible_tenant(actor, id).await?;
        if tenant.kind != TenantKind::Client {
            return Err(Error::NotFound("client"));
        }
        Ok(tenant)
    }

    /// As `update_tenant`, for a client only: the MSP tenant is "not found".
    pub async fn update_client(
        &self,
        actor: &Actor,
        id: TenantId,
        changes: TenantChanges,
    ) -> Result<Tenant> {
        let tenant = self.client(actor, id).await?;
        self.require_manage_tenants(actor, id).await?;
        self.apply_tenant_changes(actor, tenant, changes).await
    }

    async fn apply_tenant_changes(
        &self,
        actor: &Actor,
        tenant: Tenant,
        changes: TenantChanges,
    ) -> Result<Tenant> {
        let id = tenant.id;
        let logo = changes
            .logo
            .map(Logo::sniff)
            .transpose()
            .map_err(Error::Logo)?;
        let mut errors = FieldErrors::default();
        let name = match &changes.name {
            Some(name) => errors.check(Name::parse("name", name)),
            None => Some(tenant.name.clone()),
        };
        let accent_colour = match &changes.accent_colour {
            Some(colour) => errors.check(AccentColour::parse(colour)),
            None => Some(tenant.accent_colour.clone()),
        };
        let allowed_email_domains = match &changes.allowed_email_domains {
            Some(entries) => {
                errors.check(AllowedDomains::parse(entries.iter().map(String::as_str)))
            }
            None => Some(tenant.allowed_email_domains.clone()),
        };
        errors.into_result()?;
        let (Some(name), Some(accent_colour), Some(allowed_email_domains)) =
            (name, accent_colour, allowed_email_domains)
        else {
            return Err(Error::Internal("checked fields went missing".into()));
        };
        let invite_reminders = changes.invite_reminders.unwrap_or(tenant.invite_reminders);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if changes.name.is_some()
            || changes.accent_colour.is_some()
            || changes.invite_reminders.is_some()
            || changes.allowed_email_domains.is_some()
        {
            store::tenants::update(
                &mut tx,
                id,
                &name,
                &accent_colour,
                invite_reminders,
                &allowed_email_domains,
            )
            .await?;
            let event = NewAuditEvent::by(actor, now, AuditAction::TenantChanged, Some(id))
                .target(Target::Tenant(id))
                .detail(json!({
                    "name": name.as_str(),
                    "accent_colour": accent_colour.as_str(),
                    "invite_reminders": invite_reminders,
                    "allowed_email_domains": allowed_email_domains.entries(),
                }));
            store::audit::insert(&mut tx, &event).await?;
        }
        if let Some(logo) = &logo {
            store::tenants::set_logo(&mut tx, id, logo, now).await?;
            store::audit::insert(&mut tx, &logo_changed(actor, now, id, logo)).await?;
        }
        self.emit(&mut tx, EventType::TenantUpdated, Subject::Tenant(id), now)
            .await?;
        let tenant = store::tenants::by_id(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("tenant"))?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// How many of a tenant's pending invites its allowed e-mail domains leave outside: they
    /// can no longer be accepted (delivery.md §13).
    pub async fn pending_invites_outside(&self, actor: &Actor, id: TenantId) -> Result<usize> {
        let tenant = self.visible_tenant(actor, id).await?;
        if tenant.allowed_email_domains.is_empty() {
            return Ok(0);
        }
        let mut conn = self.db.read().await?;
        let pending = store::invites::pending_emails(&mut conn, id, self.now()).await?;
        Ok(pending
            .iter()
            .filter(|email| !tenant.allowed_email_domains.admits(email))
            .count())
    }

    /// Replaces a tenant's logo with an image recognised by its bytes (MSP admins only).
    pub async fn set_logo(&self, actor: &Actor, id: TenantId, bytes: Vec<u8>) -> Result<Tenant> {
        self.visible_tenant(actor, id).await?;
        self.require_manage_tenants(actor, id).await?;
        let logo = Logo::sniff(bytes).map_err(Error::Logo)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        store::tenants::set_logo(&mut tx, id, &logo, now).await?;
        store::audit::insert(&mut tx, &logo_changed(actor, now, id, &logo)).await?;
        self.emit(&mut tx, EventType::TenantUpdated, Subject::Tenant(id), now)
            .await?;
        let tenant = store::tenants::by_id(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("tenant"))?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// Removes a tenant's logo (MSP admins only); removing none is not an error.
    pub async fn remove_logo(&self, actor: &Actor, id: TenantId) -> Result<()> {
        self.visible_tenant(actor, id).await?;
        self.require_manage_tenants(actor, id).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if store::tenants::remove_logo(&mut tx, id).await? {
            let event = NewAuditEvent::by(actor, now, AuditAction::TenantBrandingChanged, Some(id))
                .target(Target::Tenant(id))
                .detail(json!({ "logo": null }));
            store::audit::insert(&mut tx, &event).await?;
            self.emit(&mut tx, EventType::TenantUpdated, Subject::Tenant(id), now)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A tenant's logo, public: it is shown on the invite and sign-in pages.
    pub async fn logo(&self, id: TenantId) -> Result<Option<LogoFile>> {
        let mut conn = self.db.read().await?;
        Ok(store::tenants::logo(&mut conn, id).await?)
    }

    /// One tenant the actor may see; another tenant is "not found" to a client user.
    pub async fn tenant(&self, actor: &Actor, id: TenantId) -> Result<Tenant> {
        self.visible_tenant(actor, id).await
    }

    /// The tenants the actor may see, with their user and pending-invite counts.
    pub async fn list_tenants(&self, actor: &Actor) -> Result<Vec<TenantSummary>> {
        let scope = self.scope_or_refuse(actor, Action::SeeTenants).await?;
        let mut conn = self.db.read().await?;
        Ok(store::tenants::list(&mut conn, scope, self.now()).await?)
    }

    /// The id of the tenant served at a host: a client at its `slug`'s subdomain, the MSP at
    /// the base host (`slug` is `None`). Public: hosts are public.
    ///
    /// Slugs never change and tenants are never deleted, so a host once found is remembered
    /// for the life of the process and every later request on it is spared a query. A host
    /// not found is asked again each time: another process may create its tenant.
    pub async fn site_tenant_id(&self, slug: Option<&str>) -> Result<Option<TenantId>> {
        let key = slug.unwrap_or_default();
        if let Some(id) = self.sites.get(key) {
            return Ok(Some(id));
        }
        let mut conn = self.db.read().await?;
        let tenant = match slug {
            Some(slug) => store::tenants::by_slug(&mut conn, slug).await?,
            None => store::tenants::msp(&mut conn).await?,
        };
        let id = tenant.map(|tenant| tenant.id);
        if let Some(id) = id {
            self.sites.remember(key, id);
        }
        Ok(id)
    }

    /// The client tenant served at `slug`'s subdomain, if any. Public: hosts are public.
    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>> {
        let mut conn = self.db.read().await?;
        Ok(store::tenants::by_slug(&mut conn, slug).await?)
    }

    /// A tenant as its own site shows it (name, colour, logo). Public: hosts are public.
    pub async fn site_tenant(&self, id: TenantId) -> Result<Tenant> {
        let mut conn = self.db.read().await?;
        store::tenants::by_id(&mut conn, id)
            .await?
            .ok_or(Error::NotFound("tenant"))
    }

    /// The MSP tenant, which exists once the database has been set up.
    pub async fn msp_tenant(&self) -> Result<Tenant> {
        let mut conn = self.db.read().await?;
        store::tenants::msp(&mut conn)
            .await?
            .ok_or_else(|| Error::Internal("the MSP tenant has not been created yet".into()))
    }

    /// The origin at which a tenant is served.
    pub fn tenant_origin(&self, tenant: &Tenant) -> String {
        self.base_url.tenant_origin(tenant.slug.as_ref())
    }

    async fn visible_tenant(&self, actor: &Actor, id: TenantId) -> Result<Tenant> {
        let scope = self.scope_or_refuse(actor, Action::SeeTenants).await?;
        if !scope.includes(id) {
            self.record_refusal(actor, Action::SeeTenants, Target::Tenant(id))
                .await;
            return Err(Error::NotFound("tenant"));
        }
        let mut conn = self.db.read().await?;
        store::tenants::by_id(&mut conn, id)
            .await?
            .ok_or(Error::NotFound("tenant"))
    }

    async fn require_manage_tenants(&self, actor: &Actor, id: TenantId) -> Result<()> {
        if actor.scope(Action::ManageTenants).is_err() {
            self.record_refusal(actor, Action::ManageTenants, Target::Tenant(id))
                .await;
            return Err(Error::Forbidden);
        }
        Ok(())
    }
}

fn logo_changed(actor: &Actor, now: Timestamp, id: TenantId, logo: &Logo) -> NewAuditEvent {
    NewAuditEvent::by(actor, now, AuditAction::TenantBrandingChanged, Some(id))
        .target(Target::Tenant(id))
        .detail(json!({ "logo": logo.kind.content_type(), "bytes": logo.bytes.len() }))
}
