//! E-mail (delivery.md §9): the transport, through lettre (SMTP with STARTTLS or TLS, or a
//! folder of `.eml` files for development), and the messages Tether writes, each an askama
//! template pair (plain text and HTML) in the recipient tenant's branding.

use std::path::PathBuf;
use std::time::Duration;

use askama::Template;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::clock::Timestamp;
use super::tenant::{LogoFile, Tenant, TenantKind};

/// How long one SMTP conversation may take before the attempt counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The e-mail settings as given on the command line or in the environment.
#[derive(Debug, Clone, Default)]
pub struct MailSettings {
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub mail_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("the SMTP URL {0} is not valid: {1}")]
    BadUrl(String, String),
    #[error("the SMTP URL {0} asks for no TLS, which is only allowed for a server on this machine (localhost, 127.0.0.1 or ::1)")]
    PlaintextRemote(String),
    #[error("the sending address {0:?} is not a valid e-mail address")]
    BadFrom(String),
    #[error("cannot create the mail folder {0}: {1}")]
    MailDir(String, String),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Dir(PathBuf),
}

/// Where Tether's e-mail goes, and from which address.
pub struct Mailer {
    transport: Transport,
    from: Address,
    /// What the settings say, for people: the SMTP URL without its password.
    shown: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Why one message was not accepted.
#[derive(Debug, Clone)]
pub struct SendFailure {
    /// The server refused it for good (an SMTP 5xx reply): retrying cannot help.
    pub permanent: bool,
    /// For people, a sentence: "The mail server refused the address (550)."
    pub sentence: String,
}

impl Mailer {
    /// The mailer the settings describe, or `None` when e-mail is not set up. An SMTP URL
    /// wins over a mail folder. `default_from` is used when no sending address is given.
    pub fn from_settings(
        settings: &MailSettings,
        default_from: &str,
    ) -> Result<Option<Self>, MailConfigError> {
        let from_text = settings.mail_from.as_deref().unwrap_or(default_from);
        let from: Address = from_text
            .parse()
            .map_err(|_| MailConfigError::BadFrom(from_text.to_owned()))?;
        if let Some(url) = &settings.smtp_url {
            let (transport, shown) = smtp_transport(url)?;
            return Ok(Some(Self {
                transport: Transport::Smtp(transport),
                from,
                shown,
            }));
        }
        if let Some(dir) = &settings.mail_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| MailConfigError::MailDir(dir.display().to_string(), e.to_string()))?;
            return Ok(Some(Self {
                transport: Transport::Dir(dir.clone()),
                from,
                shown: format!("the folder {}", dir.display()),
            }));
        }
        Ok(None)
    }

    /// Where mail goes, for people (never with a password).
    pub fn describe(&self) -> &str {
        &self.shown
    }

    pub fn from_address(&self) -> &Address {
        &self.from
    }

    /// Hands one message to the transport; `Ok` once the server accepted it (or the file is
    /// written).
    pub async fn send(&self, message: lettre::Message, file_stem: &str) -> Result<(), SendFailure> {
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|e| {
                let failure = describe_smtp_error(&e);
                tracing::debug!(error = %e, permanent = failure.permanent, "the mail server did not accept a message");
                failure
            }),
            // lettre's file transport names files by a random UUID; ours are named by the
            // outbox message, so a repeated delivery overwrites its file instead of adding one.
            Transport::Dir(dir) => {
                let path = dir.join(format!("{file_stem}.eml"));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| SendFailure {
                        permanent: false,
                        sentence: format!("The mail file could not be written: {e}."),
                    })
            }
        }
    }
}

/// `smtp://user:pass@host:587` (STARTTLS required), `smtps://host:465` (TLS from the
/// start), `smtp://host:25?tls=none` (no TLS, a server on this machine only).
fn smtp_transport(
    url: &str,
) -> Result<(AsyncSmtpTransport<Tokio1Executor>, String), MailConfigError> {
    let parsed =
        url::Url::parse(url).map_err(|e| MailConfigError::BadUrl(redact(url), e.to_string()))?;
    let shown = redact(url);
    let bad = |why: &str| MailConfigError::BadUrl(shown.clone(), why.to_owned());
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("it names no host"))?
        .trim_matches(['[', ']'])
        .to_owned();
    let no_tls = parsed
        .query_pairs()
        .any(|(key, value)| key == "tls" && value == "none");
    let tls_parameters =
        || TlsParameters::new(host.clone()).map_err(|e| bad(&format!("TLS cannot be set up: {e}")));
    let mut builder = match (parsed.scheme(), no_tls) {
        ("smtp", true) => {
            if !is_this_machine(&host) {
                return Err(MailConfigError::PlaintextRemote(shown));
            }
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
                .port(parsed.port().unwrap_or(25))
        }
        ("smtp", false) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(parsed.port().unwrap_or(587))
            .tls(Tls::Required(tls_parameters()?)),
        ("smtps", _) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(parsed.port().unwrap_or(465))
            .tls(Tls::Wrapper(tls_parameters()?)),
        _ => return Err(bad("use smtp:// or smtps://")),
    };
    if !parsed.username().is_empty() {
        let decode = |text: &str| {
            percent_decode(text).ok_or_else(|| bad("its user name or password is not valid UTF-8"))
        };
        builder = builder.credentials(Credentials::new(
            decode(parsed.username())?,
            decode(parsed.password().unwrap_or_default())?,
        ));
    }
    Ok((builder.timeout(Some(SMTP_TIMEOUT)).build(), shown))
}

fn is_this_machine(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `%XX` escapes in a URL's user name or password, decoded.
fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// The URL with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => String::from("(an SMTP URL that does not parse)"),
    }
}

fn describe_smtp_error(error: &lettre::transport::smtp::Error) -> SendFailure {
    let code = error.status().map(|code| code.to_string());
    let with_code = |text: &str| match &code {
        Some(code) => format!("{text} ({code})."),
        None => format!("{text}."),
    };
    if error.is_permanent() {
        let text = match code.as_deref() {
            Some("550" | "551" | "553") => "The mail server refused the address",
            Some("552") => "The mail server refused the message as too large",
            Some("530" | "534" | "535") => "The mail server refused Tether's sign-in",
            _ => "The mail server refused the message",
        };
        return SendFailure {
            permanent: true,
            sentence: with_code(text),
        };
    }
    let sentence = if error.is_transient() {
        with_code("The mail server asked to try again later")
    } else if error.is_timeout() {
        String::from("The mail server did not answer in time.")
    } else if error.is_tls() {
        String::from("A secure connection to the mail server could not be made.")
    } else {
        String::from("The mail server could not be reached.")
    };
    SendFailure {
        permanent: false,
        sentence,
    }
}

/// Text that goes into a header, made safe: control characters (CR and LF above all,
/// which would start a header of their own) become spaces. Names are already free of them
/// (`Name` refuses control characters); this holds whatever the database says.
fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A message's stable `Message-ID`: the same on every attempt, so a repeat can be told.
pub fn message_id(outbox_id: i64, created_at: Timestamp, from: &Address) -> String {
    format!(
        "<outbox.{outbox_id}.{}@{}>",
        created_at.millis(),
        from.domain()
    )
}

/// The branding a message carries: the tenant's name, colours and logo.
pub struct Branding<'a> {
    pub tenant: &'a Tenant,
    pub logo: Option<&'a LogoFile>,
}

const LOGO_CID: &str = "logo";

/// What every message has: who it is to and from, its subject, its stable id.
pub struct Envelope<'a> {
    pub to: &'a str,
    pub reply_to: Option<&'a str>,
    pub subject: &'a str,
    pub message_id: String,
}

/// Builds a `multipart/alternative` message (text, then HTML with the logo inline).
fn build(
    mailer: &Mailer,
    branding: &Branding<'_>,
    envelope: &Envelope<'_>,
    text: String,
    html: String,
) -> Result<lettre::Message, String> {
    let sender = Mailbox::new(
        Some(header_text(branding.tenant.name.as_str())),
        mailer.from.clone(),
    );
    let to: Address = envelope.to.parse().map_err(|_| {
        format!(
            "{} is not an address the mail transport accepts",
            envelope.to
        )
    })?;
    let mut builder = lettre::Message::builder()
        .from(sender)
        .to(Mailbox::new(None, to))
        .subject(header_text(envelope.subject))
        .message_id(Some(envelope.message_id.clone()));
    if let Some(reply_to) = envelope.reply_to.and_then(|a| a.parse::<Address>().ok()) {
        builder = builder.reply_to(Mailbox::new(None, reply_to));
    }
    let html_part = match branding.logo {
        Some(logo) => {
            let content_type = ContentType::parse(&logo.content_type)
                .map_err(|_| String::from("the logo's content type is not valid"))?;
            MultiPart::related()
                .singlepart(SinglePart::html(html))
                .singlepart(
                    Attachment::new_inline(String::from(LOGO_CID))
                        .body(logo.bytes.clone(), content_type),
                )
        }
        None => MultiPart::related().singlepart(SinglePart::html(html)),
    };
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(text))
        .multipart(html_part);
    let mut message = builder
        .multipart(body)
        .map_err(|e| format!("the message could not be built: {e}"))?;
    message.headers_mut().insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        String::from("auto-generated"),
    ));
    Ok(message)
}

/// The colours and logo reference the HTML templates share.
struct Look {
    accent: String,
    button: String,
    button_text: &'static str,
    logo_src: Option<String>,
}

impl Look {
    fn of(branding: &Branding<'_>) -> Self {
        let (button, button_text) = branding.tenant.accent_colour.readable();
        Self {
            accent: branding.tenant.accent_colour.as_str().to_owned(),
            button,
            button_text,
            logo_src: branding.logo.map(|_| format!("cid:{LOGO_CID}")),
        }
    }
}

/// A template's text, or a sentence saying which message could not be written.
fn written(template: &impl Template, what: &str) -> Result<String, String> {
    template
        .render()
        .map_err(|e| format!("{what} could not be written: {e}"))
}

/// An invitation, as delivery.md §9 describes it.
pub struct InviteLetter<'a> {
    pub to: &'a str,
    pub name: Option<&'a str>,
    pub role_label: &'a str,
    pub inviter: Option<(&'a str, &'a str)>,
    pub link: &'a str,
    pub expires_at: Timestamp,
    /// A reminder's fresh link, a day before the invitation expires.
    pub reminder: bool,
}

#[derive(Template)]
#[template(path = "email/invite.txt")]
struct InviteText<'a> {
    letter: &'a InviteLetter<'a>,
    tenant_name: &'a str,
    expires: String,
    show_tether: bool,
}

#[derive(Template)]
#[template(path = "email/invite.html")]
struct InviteHtml<'a> {
    letter: &'a InviteLetter<'a>,
    tenant_name: &'a str,
    expires: String,
    look: Look,
    show_tether: bool,
}

pub fn invite_message(
    mailer: &Mailer,
    branding: &Branding<'_>,
    letter: &InviteLetter<'_>,
    message_id: String,
) -> Result<lettre::Message, String> {
    let tenant_name = branding.tenant.name.as_str();
    let expires = letter.expires_at.to_date_time();
    // MSP staff invites carry the MSP's own branding, which is Tether's only when the MSP
    // kept the default name; a client's message never mentions Tether.
    let show_tether = branding.tenant.kind == TenantKind::Msp;
    let text = written(
        &InviteText {
            letter,
            tenant_name,
            expires: expires.clone(),
            show_tether,
        },
        "the invite e-mail",
    )?;
    let html = written(
        &InviteHtml {
            letter,
            tenant_name,
            expires,
            look: Look::of(branding),
            show_tether,
        },
        "the invite e-mail",
    )?;
    let subject = if letter.reminder {
        format!("Reminder: your invitation to {tenant_name} expires soon")
    } else {
        format!("You are invited to {tenant_name}")
    };
    build(
        mailer,
        branding,
        &Envelope {
            to: letter.to,
            reply_to: letter.inviter.map(|(_, email)| email),
            subject: &subject,
            message_id,
        },
        text,
        html,
    )
}

/// The notice that an account's password was changed (delivery.md §9–10).
pub struct PasswordChangedLetter<'a> {
    pub to: &'a str,
    pub name: &'a str,
    pub changed_at: Timestamp,
    /// The tenant's sign-in page.
    pub sign_in: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_changed.txt")]
struct PasswordChangedText<'a> {
    letter: &'a PasswordChangedLetter<'a>,
    tenant_name: &'a str,
    changed: String,
}

#[derive(Template)]
#[template(path = "email/password_changed.html")]
struct PasswordChangedHtml<'a> {
    letter: &'a PasswordChangedLetter<'a>,
    tenant_name: &'a str,
    changed: String,
    look: Look,
}

pub fn password_changed_message(
    mailer: &Mailer,
    branding: &Branding<'_>,
    letter: &PasswordChangedLetter<'_>,
    message_id: String,
) -> Result<lettre::Message, String> {
    let tenant_name = branding.tenant.name.as_str();
    let changed = letter.changed_at.to_date_time();
    let text = written(
        &PasswordChangedText {
            letter,
            tenant_name,
            changed: changed.clone(),
        },
        "the notice",
    )?;
    let html = written(
        &PasswordChangedHtml {
            letter,
            tenant_name,
            changed,
            look: Look::of(branding),
        },
        "the notice",
    )?;
    let subject = format!("Your {tenant_name} password was changed");
    build(
        mailer,
        branding,
        &Envelope {
            to: letter.to,
            reply_to: None,
            subject: &subject,
            message_id,
        },
        text,
        html,
    )
}

/// A recipient's request for a fresh invite link (delivery.md §11), to someone who can send one.
pub struct RenewalLetter<'a> {
    pub to: &'a str,
    pub invitee: &'a str,
    pub role_label: &'a str,
    pub reason: &'a str,
    pub console: &'a str,
    pub requested_at: Timestamp,
}

#[derive(Template)]
#[template(path = "email/renewal_requested.txt")]
struct RenewalText<'a> {
    letter: &'a RenewalLetter<'a>,
    tenant_name: &'a str,
    requested: String,
}

#[derive(Template)]
#[template(path = "email/renewal_requested.html")]
struct RenewalHtml<'a> {
    letter: &'a RenewalLetter<'a>,
    tenant_name: &'a str,
    requested: String,
    look: Look,
}

pub fn renewal_requested_message(
    mailer: &Mailer,
    branding: &Branding<'_>,
    letter: &RenewalLetter<'_>,
    message_id: String,
) -> Result<lettre::Message, String> {
    let tenant_name = branding.tenant.name.as_str();
    let requested = letter.requested_at.to_date_time();
    let text = written(
        &RenewalText {
            letter,
            tenant_name,
            requested: requested.clone(),
        },
        "the request",
    )?;
    let html = written(
        &RenewalHtml {
            letter,
            tenant_name,
            requested,
            look: Look::of(branding),
        },
        "the request",
    )?;
    let subject = format!("{} asked for a new invite link", letter.invitee);
    build(
        mailer,
        branding,
        &Envelope {
            to: letter.to,
            reply_to: Some(letter.invitee),
            subject: &subject,
            message_id,
        },
        text,
        html,
    )
}

/// A password reset link (delivery.md §10): asked for by its owner, or issued by an admin.
pub struct PasswordResetLetter<'a> {
    pub to: &'a str,
    pub name: &'a str,
    /// The person asked for it (`/forgot-password`), rather than an admin making it.
    pub requested: bool,
    pub link: &'a str,
    pub expires_at: Timestamp,
}

#[derive(Template)]
#[template(path = "email/password_reset.txt")]
struct PasswordResetText<'a> {
    letter: &'a PasswordResetLetter<'a>,
    tenant_name: &'a str,
    expires: String,
}

#[derive(Template)]
#[template(path = "email/password_reset.html")]
struct PasswordResetHtml<'a> {
    letter: &'a PasswordResetLetter<'a>,
    tenant_name: &'a str,
    expires: String,
    look: Look,
}

pub fn password_reset_message(
    mailer: &Mailer,
    branding: &Branding<'_>,
    letter: &PasswordResetLetter<'_>,
    message_id: String,
) -> Result<lettre::Message, String> {
    let tenant_name = branding.tenant.name.as_str();
    let expires = letter.expires_at.to_date_time();
    let text = written(
        &PasswordResetText {
            letter,
            tenant_name,
            expires: expires.clone(),
        },
        "the reset e-mail",
    )?;
    let html = written(
        &PasswordResetHtml {
            letter,
            tenant_name,
            expires,
            look: Look::of(branding),
        },
        "the reset e-mail",
    )?;
    let subject = format!("Reset your {tenant_name} password");
    build(
        mailer,
        branding,
        &Envelope {
            to: letter.to,
            reply_to: None,
            subject: &subject,
            message_id,
        },
        text,
        html,
    )
}

#[derive(Template)]
#[template(path = "email/test.txt")]
struct TestText<'a> {
    transport: &'a str,
}

#[derive(Template)]
#[template(path = "email/test.html")]
struct TestHtml<'a> {
    transport: &'a str,
    tenant_name: &'a str,
    look: Look,
}

/// `tether mail test`: a short message that proves the transport works.
pub fn test_message(
    mailer: &Mailer,
    branding: &Branding<'_>,
    to: &str,
    message_id: String,
) -> Result<lettre::Message, String> {
    let text = TestText {
        transport: mailer.describe(),
    }
    .render()
    .map_err(|e| e.to_string())?;
    let html = TestHtml {
        transport: mailer.describe(),
        tenant_name: branding.tenant.name.as_str(),
        look: Look::of(branding),
    }
    .render()
    .map_err(|e| e.to_string())?;
    build(
        mailer,
        branding,
        &Envelope {
            to,
            reply_to: None,
            subject: "Tether test message",
            message_id,
        },
        text,
        html,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // lettre's connection pool starts a task of its own: the transport needs a runtime.
    #[tokio::test]
    async fn smtp_urls_say_how_to_connect_and_hide_their_password() {
        let settings = |url: &str| MailSettings {
            smtp_url: Some(url.to_owned()),
            ..MailSettings::default()
        };
        let mailer = Mailer::from_settings(
            &settings("smtp://me:s3cret@mail.example.com:587"),
            "noreply@example.com",
        )
        .unwrap()
        .unwrap();
        assert!(!mailer.describe().contains("s3cret"));
        assert!(!format!("{mailer:?}").contains("s3cret"));
        assert!(
            Mailer::from_settings(&settings("smtp://127.0.0.1:2525?tls=none"), "a@b.co")
                .unwrap()
                .is_some()
        );
        let refused = Mailer::from_settings(
            &settings("smtp://me:s3cret@mail.example.com:25?tls=none"),
            "a@b.co",
        )
        .unwrap_err();
        assert!(matches!(refused, MailConfigError::PlaintextRemote(_)));
        assert!(!refused.to_string().contains("s3cret"));
        assert!(Mailer::from_settings(&settings("http://mail.example.com"), "a@b.co").is_err());
    }

    #[test]
    fn url_passwords_may_be_percent_encoded() {
        assert_eq!(
            percent_decode("p%40ss%3Aword").as_deref(),
            Some("p@ss:word")
        );
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn header_text_cannot_start_a_header() {
        assert_eq!(
            header_text("Acme\r\nBcc: x@evil.test"),
            "Acme  Bcc: x@evil.test"
        );
    }
}
