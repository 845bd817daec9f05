//! The domain's one error type: its variants are the outcomes the spec names, and each
//! edge (API, web, CLI) maps it once.

use std::fmt;

use super::clock::Timestamp;
use super::tenant::LogoRefusal;
use crate::store::{self, Constraint};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", describe_fields(.0))]
    Validation(Vec<FieldError>),
    #[error("you need to sign in first")]
    Unauthenticated,
    #[error("the email or password is not correct")]
    InvalidCredentials,
    #[error("your role does not allow this")]
    Forbidden,
    #[error("{0} was not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(Conflict),
    #[error("{0}")]
    Gone(Gone),
    #[error("{0}")]
    ResetGone(ResetGone),
    #[error("{0}")]
    Logo(LogoRefusal),
    #[error("a list can have at most {limit} rows, and this one has {rows}")]
    TooManyRows { rows: usize, limit: usize },
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error("database error")]
    Database(store::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The one place a store error becomes a domain outcome: a unique constraint the domain's
/// own check could not see (a race) is the conflict that check would have reported.
impl From<store::Error> for Error {
    fn from(error: store::Error) -> Self {
        match error {
            store::Error::Unique(Constraint::UserEmail) => Self::Conflict(Conflict::UserExists),
            store::Error::Unique(Constraint::TenantSlug) => Self::Conflict(Conflict::SlugTaken),
            other => Self::Database(other),
        }
    }
}

/// `text` as a sentence for a person: capitalised, with its full stop. The errors' own
/// texts are written to follow "because" or a colon; every edge shows them this way.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// One invalid input field: which, a stable code, and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }
}

fn describe_fields(errors: &[FieldError]) -> String {
    match errors {
        [one] => one.message.clone(),
        many => format!("{} fields are invalid", many.len()),
    }
}

/// Collects every failing field of an input, so that a person sees all of them at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Keeps the value if it parsed, records the error if not.
    pub fn check<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The recipient of a dead invite link already asked for a fresh one, at this time.
    RenewalAlreadyRequested {
        at: Timestamp,
    },
    /// The invite link still works; there is nothing to renew.
    InviteStillValid,
    UserExists,
    InvitePending,
    InviteNotRevocable,
    SlugTaken,
    LastAdmin,
    /// An outbox message that is being sent or was sent cannot be retried.
    MessageNotRetryable,
    /// A deactivated user gets no password reset link.
    UserInactive,
}

impl Conflict {
    pub fn code(self) -> &'static str {
        match self {
            Self::UserExists => "user_exists",
            Self::InvitePending => "invite_pending",
            Self::InviteNotRevocable => "invite_not_revocable",
            Self::SlugTaken => "slug_taken",
            Self::LastAdmin => "last_admin",
            Self::MessageNotRetryable => "message_not_retryable",
            Self::UserInactive => "user_inactive",
            Self::RenewalAlreadyRequested { .. } => "renewal_already_requested",
            Self::InviteStillValid => "invite_still_valid",
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Self::RenewalAlreadyRequested { at } = self {
            return write!(
                f,
                "a new link was already asked for on {}; the people who can send one have been told",
                at.to_date_time()
            );
        }
        f.write_str(match self {
            Self::RenewalAlreadyRequested { .. } => "a new link was already asked for",
            Self::InviteStillValid => "this invite link still works; use it to set up your account",
            Self::UserExists => "an account with this email already exists",
            Self::InvitePending => {
                "a pending invite for this email was sent by someone else; ask them to revoke it first"
            }
            Self::InviteNotRevocable => "this invite is no longer open: it has been accepted or revoked, so it cannot be changed",
            Self::SlugTaken => "another client already uses this address",
            Self::LastAdmin => "this would leave no active MSP admin",
            Self::MessageNotRetryable => {
                "this message is being sent or was already sent, so there is nothing to retry"
            }
            Self::UserInactive => "this user is deactivated; reactivate them first",
        })
    }
}

/// Why an invite link can no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    Expired,
    Used,
    Revoked,
    /// Replaced by a newer invite for the same email, sent at this time.
    Superseded {
        at: Timestamp,
    },
    /// The tenant's allowed e-mail domains no longer admit the invite's address
    /// (delivery.md §13).
    DomainNotAllowed,
}

impl Gone {
    pub fn code(self) -> &'static str {
        match self {
            Self::Expired => "invite_expired",
            Self::Used => "invite_used",
            Self::Revoked | Self::Superseded { .. } => "invite_revoked",
            Self::DomainNotAllowed => "invite_domain_not_allowed",
        }
    }

    /// The reason as recorded in an `invite.accept_refused` audit event.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Used => "used",
            Self::Revoked => "revoked",
            Self::Superseded { .. } => "superseded",
            Self::DomainNotAllowed => "domain_not_allowed",
        }
    }
}

impl fmt::Display for Gone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expired => f.write_str("this invite link has expired"),
            Self::Used => f.write_str("this invite link has already been used"),
            Self::Revoked => f.write_str("this invite link was revoked"),
            Self::Superseded { at } => write!(
                f,
                "a newer invite was sent to this address on {}; use the link in that one",
                at.to_date()
            ),
            Self::DomainNotAllowed => f.write_str(
                "this address is no longer allowed in this organisation; ask your administrator for help",
            ),
        }
    }
}

/// Why a password reset link can no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetGone {
    Expired,
    Used,
    /// A newer link was made for the account, or another link of it was used.
    Superseded,
}

impl ResetGone {
    pub fn code(self) -> &'static str {
        match self {
            Self::Expired => "reset_link_expired",
            Self::Used => "reset_link_used",
            Self::Superseded => "reset_link_superseded",
        }
    }
}

impl fmt::Display for ResetGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Expired => "this password reset link has expired",
            Self::Used => "this password reset link has already been used",
            Self::Superseded => {
                "a newer password reset link was made for this account, or another one was used; only the newest works"
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_invite_is_described_as_accepted_or_revoked() {
        let sentence = Conflict::InviteNotRevocable.to_string();
        assert!(sentence.contains("accepted") && sentence.contains("revoked"));
        assert!(!sentence.contains("already been used"));
    }
}
