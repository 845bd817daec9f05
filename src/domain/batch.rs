//! Bulk invites (delivery.md §12): many rows, each checked by the single invite's own rules
//! (`checked_draft`, `displaced`, `issue_new`) plus duplicates within the batch, and each
//! answered on its own: a refused row creates nothing and stops nothing else.

use std::collections::HashSet;

use super::actor::{Action, Actor};
use super::audit::Target;
use super::error::{Error, FieldError, Result};
use super::invite::{
    beyond_ceiling, checked_draft, displaced, is_second_open_invite, Draft, InviteId, IssuedInvite,
    NewInvite, Written,
};
use super::outbox::email_not_configured;
use super::role::Role;
use super::tenant::TenantId;
use super::Tether;
use crate::store;

/// The most rows one batch may have.
pub const MAX_ROWS: usize = 1_000;

/// The role a row asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRole {
    /// By id, as the API sends it.
    Id(i64),
    /// By name (`client_user`) or label (`Client user`), as a file names it.
    Name(String),
    /// None: the batch's default role applies.
    Unset,
}

/// One person to invite.
#[derive(Debug, Clone)]
pub struct BatchRow {
    pub email: String,
    pub name: Option<String>,
    pub role: RowRole,
}

/// Many invites into one tenant, with the options they share.
#[derive(Debug, Clone)]
pub struct InviteBatch {
    pub tenant_id: i64,
    pub rows: Vec<BatchRow>,
    /// The role of a row that names none.
    pub default_role_id: Option<i64>,
    pub expires_hours: Option<i64>,
    pub send_email: bool,
    /// Only say what each row would do; change nothing.
    pub dry_run: bool,
}

/// What became of one row.
#[derive(Debug)]
pub enum RowOutcome {
    /// A dry run's answer: the row is valid and would create an invite, superseding this one.
    WouldCreate {
        supersedes: Option<InviteId>,
    },
    Created(Box<IssuedInvite>),
    /// Refused with what the single create would have answered, or as a duplicate.
    Refused(Error),
}

impl RowOutcome {
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused(_))
    }
}

/// Every row's outcome, in the rows' order.
#[derive(Debug)]
pub struct BatchResult {
    pub outcomes: Vec<RowOutcome>,
}

impl BatchResult {
    pub fn created(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|outcome| matches!(outcome, RowOutcome::Created(_)))
            .count()
    }

    pub fn refused(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_refused()).count()
    }
}

impl Tether {
    /// Invites every row of `batch` into its tenant, or with `dry_run` says what each row
    /// would do. The batch as a whole is refused only when the actor may not invite into the
    /// tenant at all, when e-mail is asked for but not set up, or when it has no rows or more
    /// than `MAX_ROWS`; everything else is decided per row.
    pub async fn invite_many(&self, actor: &Actor, batch: InviteBatch) -> Result<BatchResult> {
        self.invite_many_with_progress(actor, batch, |_| {}).await
    }

    /// As `invite_many`, calling `progress` with the number of rows done after each row.
    pub async fn invite_many_with_progress(
        &self,
        actor: &Actor,
        batch: InviteBatch,
        mut progress: impl FnMut(usize),
    ) -> Result<BatchResult> {
        let scope = self.scope_or_refuse(actor, Action::Invite).await?;
        let tenant_id = TenantId(batch.tenant_id);
        if !scope.includes(tenant_id) {
            self.record_refusal(actor, Action::Invite, Target::Tenant(tenant_id))
                .await;
            return Err(Error::Forbidden);
        }
        if batch.rows.is_empty() {
            return Err(Error::Validation(vec![FieldError::new(
                "rows",
                "required",
                "The list has no one to invite.",
            )]));
        }
        if batch.rows.len() > MAX_ROWS {
            return Err(Error::TooManyRows {
                rows: batch.rows.len(),
                limit: MAX_ROWS,
            });
        }
        if batch.send_email && !self.mail_enabled() {
            return Err(email_not_configured());
        }
        let tenant = {
            let mut conn = self.db.read().await?;
            store::tenants::by_id(&mut conn, tenant_id).await?
        };
        let Some(tenant) = tenant else {
            return Err(Error::Validation(vec![FieldError::new(
                "tenant_id",
                "unknown_tenant",
                "There is no tenant with this id.",
            )]));
        };

        // First every row is checked, as the single create checks it; then the valid rows
        // are previewed, or written WRITE_CHUNK to a transaction, each in a savepoint of its
        // own, so that a row refused inside the transaction undoes only its own writes.
        let mut seen = HashSet::new();
        let mut steps = Vec::with_capacity(batch.rows.len());
        for row in batch.rows {
            let role_id = match resolve_role(&row.role, batch.default_role_id) {
                Ok(id) => id,
                Err(error) => {
                    steps.push(Step::Done(RowOutcome::Refused(Error::Validation(vec![
                        error,
                    ]))));
                    continue;
                }
            };
            if beyond_ceiling(actor, role_id) {
                if !batch.dry_run {
                    self.record_refusal(actor, Action::Invite, Target::Tenant(tenant_id))
                        .await;
                }
                steps.push(Step::Done(RowOutcome::Refused(Error::Forbidden)));
                continue;
            }
            let input = NewInvite {
                email: row.email,
                name: row.name,
                role_id,
                tenant_id: batch.tenant_id,
                expires_hours: batch.expires_hours,
                send_email: batch.send_email,
            };
            steps.push(match checked_draft(&input, Some(tenant.clone())) {
                Err(error) => Step::Done(RowOutcome::Refused(error)),
                Ok(draft)
                    if draft
                        .email()
                        .is_some_and(|email| !seen.insert(email.clone())) =>
                {
                    Step::Done(RowOutcome::Refused(duplicate()))
                }
                Ok(draft) => Step::Write(Box::new(draft)),
            });
        }

        let mut outcomes = Vec::with_capacity(steps.len());
        if batch.dry_run {
            for (done, step) in steps.into_iter().enumerate() {
                outcomes.push(match step {
                    Step::Done(outcome) => outcome,
                    Step::Write(draft) => self.preview(actor, draft.email()).await,
                });
                progress(done + 1);
            }
            return Ok(BatchResult { outcomes });
        }
        let mut steps = steps.into_iter().peekable();
        while steps.peek().is_some() {
            let chunk: Vec<Step> = steps.by_ref().take(WRITE_CHUNK).collect();
            outcomes.extend(self.write_chunk(actor, chunk).await?);
            progress(outcomes.len());
        }
        Ok(BatchResult { outcomes })
    }

    /// Writes the valid rows of `chunk` in one transaction, each in its own savepoint, and
    /// answers every row of it in order.
    async fn write_chunk(&self, actor: &Actor, chunk: Vec<Step>) -> Result<Vec<RowOutcome>> {
        let mut prepared = None;
        for step in &chunk {
            if let Step::Write(draft) = step {
                prepared = Some(self.prepare_issue(actor, draft).await?);
                break;
            }
        }
        let Some(prepared) = prepared else {
            return Ok(chunk.into_iter().filter_map(Step::done).collect());
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut answers = Vec::with_capacity(chunk.len());
        for step in chunk {
            let draft = match step {
                Step::Done(outcome) => {
                    answers.push(Answer::Done(outcome));
                    continue;
                }
                Step::Write(draft) => draft,
            };
            let mut savepoint = store::savepoint(&mut tx).await?;
            match self
                .write_invite(&mut savepoint, actor, &draft, None, &prepared, now)
                .await
            {
                Ok(written) => {
                    savepoint.commit().await?;
                    answers.push(Answer::Written(Box::new(written)));
                }
                // Another request created an invite for the address since the check.
                Err(Error::Database(e)) if is_second_open_invite(&e) => {
                    drop(savepoint);
                    let conflict = Error::Conflict(super::error::Conflict::InvitePending);
                    answers.push(Answer::Done(RowOutcome::Refused(conflict)));
                }
                Err(error @ Error::Database(_)) => return Err(error),
                Err(error) => {
                    drop(savepoint);
                    answers.push(Answer::Done(RowOutcome::Refused(error)));
                }
            }
        }
        tx.commit().await?;
        Ok(answers
            .into_iter()
            .map(|answer| match answer {
                Answer::Done(outcome) => outcome,
                Answer::Written(written) => RowOutcome::Created(Box::new(self.issued(*written))),
            })
            .collect())
    }

    /// What creating a checked invite for `email` would do now, reading only.
    async fn preview(&self, actor: &Actor, email: Option<&super::email::Email>) -> RowOutcome {
        let Some(email) = email else {
            return RowOutcome::WouldCreate { supersedes: None };
        };
        let read = async {
            let mut conn = self.db.read().await?;
            displaced(&mut conn, actor, email, self.now()).await
        };
        match read.await {
            Ok(open) => RowOutcome::WouldCreate {
                supersedes: open.map(|open| open.id),
            },
            Err(error) => RowOutcome::Refused(error),
        }
    }
}

/// How many rows share a write transaction: enough that commits stop dominating, few
/// enough that SQLite's one write lock is never held for long.
const WRITE_CHUNK: usize = 50;

/// A row after its checks: answered already, or to be written.
enum Step {
    Done(RowOutcome),
    Write(Box<Draft>),
}

impl Step {
    fn done(self) -> Option<RowOutcome> {
        match self {
            Self::Done(outcome) => Some(outcome),
            Self::Write(_) => None,
        }
    }
}

/// A row of a chunk after its transaction's writes, before the commit.
enum Answer {
    Done(RowOutcome),
    Written(Box<Written>),
}

fn resolve_role(role: &RowRole, default_role_id: Option<i64>) -> Result<i64, FieldError> {
    match role {
        RowRole::Id(id) => Ok(*id),
        RowRole::Unset => default_role_id
            .ok_or_else(|| FieldError::new("role_id", "required", "Choose a role for this row.")),
        RowRole::Name(name) => {
            let wanted = name.trim();
            Role::named(wanted).map(Role::id).ok_or_else(|| {
                    FieldError::new(
                        "role",
                        "unknown_role",
                        format!(
                            "There is no role named \"{wanted}\"; use client_admin, client_user, msp_admin or msp_technician."
                        ),
                    )
                })
        }
    }
}

fn duplicate() -> Error {
    Error::Validation(vec![FieldError::new(
        "email",
        "duplicate_in_batch",
        "This address is already on an earlier row.",
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_names_its_role_by_id_name_or_label_or_takes_the_default() {
        assert_eq!(resolve_role(&RowRole::Id(4), None), Ok(4));
        assert_eq!(
            resolve_role(&RowRole::Name("client_admin".into()), None),
            Ok(3)
        );
        assert_eq!(
            resolve_role(&RowRole::Name(" Client User ".into()), None),
            Ok(4)
        );
        assert_eq!(resolve_role(&RowRole::Unset, Some(3)), Ok(3));
        assert_eq!(
            resolve_role(&RowRole::Unset, None).unwrap_err().code,
            "required"
        );
        let unknown = resolve_role(&RowRole::Name("boss".into()), Some(4)).unwrap_err();
        assert_eq!((unknown.field, unknown.code), ("role", "unknown_role"));
    }
}
