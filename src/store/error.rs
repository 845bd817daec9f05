//! The store's one error type: what the domain needs to know of a failed query, decided here
//! once, so that no layer above reads a driver's error or a constraint's name.

use std::fmt;

/// A unique constraint the rules give a meaning to: the schema's half of a rule whose
/// other half (the clear message) is the domain's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// `invites_one_open_per_email`: at most one open invite per email.
    OpenInviteEmail,
    /// `users.email`: one user per email, across the platform.
    UserEmail,
    /// `tenants.slug`: one client per subdomain.
    TenantSlug,
}

impl Constraint {
    /// The table and column each engine names in its report of a violation.
    const ALL: [(Self, &'static str, &'static str); 3] = [
        (Self::OpenInviteEmail, "invites", "email"),
        (Self::UserEmail, "users", "email"),
        (Self::TenantSlug, "tenants", "slug"),
    ];
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the unique constraint {0:?} refused the write")]
    Unique(Constraint),
    /// The database could not be reached or answered too late; worth trying again.
    #[error("the database is unavailable: {0}")]
    Unavailable(Unavailable),
    #[error("a database query failed: {0}")]
    Other(#[source] sqlx::Error),
    /// A direct read of the SQLite file (`direct.rs`) failed.
    #[error("a direct SQLite read failed: {0}")]
    Direct(#[from] rusqlite::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the database is unavailable, in words safe to show an operator.
#[derive(Debug)]
pub struct Unavailable(String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        if let Some(constraint) = violated(&error) {
            return Self::Unique(constraint);
        }
        match error {
            sqlx::Error::Io(io) => Self::Unavailable(Unavailable(io.to_string())),
            sqlx::Error::PoolTimedOut => Self::Unavailable(Unavailable(String::from(
                "timed out waiting for a connection",
            ))),
            sqlx::Error::PoolClosed => {
                Self::Unavailable(Unavailable(String::from("the connection pool is closed")))
            }
            other => Self::Other(other),
        }
    }
}

/// The meaningful unique constraint `error` violated, if any. PostgreSQL names the violated
/// constraint (`users_email_key`, `invites_one_open_per_email`); SQLite names the column in
/// its message (`UNIQUE constraint failed: users.email`).
fn violated(error: &sqlx::Error) -> Option<Constraint> {
    let db = error.as_database_error()?;
    if !db.is_unique_violation() {
        return None;
    }
    Constraint::ALL
        .into_iter()
        .find(|(_, table, column)| match db.constraint() {
            Some(name) => name.starts_with(table) && name.contains(column),
            None => db.message().contains(&format!("{table}.{column}")),
        })
        .map(|(constraint, _, _)| constraint)
}
