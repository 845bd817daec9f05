//! What happened, in sentences: the MSP's **Audit** page (filtered by what, tenant, who and
//! when, a page at a time, and the same list as a CSV download) and a client admin's
//! **Activity** on Team, their tenant's alone. The sentences come from `domain::activity`;
//! on the MSP's pages the people, clients and invitees they name link to their lists.

use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::console::{tenant_choices, wide, Staff};
use super::member::Member;
use super::{refusal, url_encoded, Frame, Query};
use crate::domain::activity::{Described, Part, Sentence};
use crate::domain::audit::{AuditAction, AuditQuery};
use crate::domain::clock::Timestamp;
use crate::domain::error::Error;
use crate::domain::page::{PageRequest, MAX_LIMIT};
use crate::domain::tenant::TenantId;
use crate::http::AppState;

/// The most events one CSV download holds.
const MAX_CSV_EVENTS: usize = 10_000;

/// Words of a sentence and, where the viewer may follow them, the page they open.
pub struct Phrase {
    pub text: String,
    pub href: Option<String>,
}

/// Whose pages a sentence's names link to.
#[derive(Debug, Clone, Copy)]
pub enum Links {
    /// The MSP's console: people to Users, invitees to Pending invites, clients to their
    /// settings (the MSP itself is not a client and has no such page).
    Console { msp: TenantId },
    /// None: a client admin's Activity reads as plain sentences.
    None,
}

/// The sentence as phrases, its names linked as `links` allows.
pub fn phrases(sentence: &Sentence, links: Links) -> Vec<Phrase> {
    sentence
        .parts()
        .iter()
        .map(|part| {
            let href = match (links, part) {
                (Links::None, _) | (_, Part::Words(_)) => None,
                (Links::Console { .. }, Part::Person { email, .. }) => {
                    Some(format!("/users?search={}", url_encoded(email)))
                }
                (Links::Console { .. }, Part::Invitee(email)) => {
                    Some(format!("/users/invites?email={}", url_encoded(email)))
                }
                (Links::Console { msp }, Part::Tenant { id, .. }) => {
                    (*id != msp.0).then(|| format!("/clients/{id}"))
                }
            };
            Phrase {
                text: part.text().to_owned(),
                href,
            }
        })
        .collect()
}

pub struct EventRow {
    pub at: String,
    pub sentence: Vec<Phrase>,
    pub tenant: String,
    pub ip: String,
}

pub fn row(described: Described, now: Timestamp, links: Links) -> EventRow {
    EventRow {
        at: described.event.at.to_date_time_from(now),
        sentence: phrases(&described.sentence, links),
        tenant: described.tenant.unwrap_or_default(),
        ip: described.event.ip.unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    frame: Frame,
    events: Vec<EventRow>,
    tenants: Vec<(i64, String, bool)>,
    /// The known actions for the filter: (name, label, chosen).
    actions: Vec<(&'static str, &'static str, bool)>,
    /// The typed filters, shown back in their fields.
    actor: String,
    from: String,
    to: String,
    /// What in the filters could not be used, as sentences.
    problems: Vec<String>,
    /// The filters as a query string (`&action=…&tenant=…`), for Older and the CSV.
    filters: String,
    /// The next page's cursor, when there is one.
    older: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    action: String,
    /// Part of the address of who did it.
    #[serde(default)]
    actor: String,
    /// The first and last day (UTC, `2026-11-23`), both included.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    cursor: Option<String>,
}

impl AuditFilter {
    fn tenant(&self) -> Option<i64> {
        self.tenant.parse().ok()
    }

    fn action(&self) -> Option<AuditAction> {
        AuditAction::named(self.action.trim())
    }

    fn actor(&self) -> Option<&str> {
        Some(self.actor.trim()).filter(|actor| !actor.is_empty())
    }

    /// A typed day, or `Err` with a sentence when there is text that is not one.
    fn day(text: &str, field: &str) -> Result<Option<Timestamp>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        Timestamp::from_date(text).map(Some).ok_or_else(|| {
            format!("The {field} date \"{text}\" is not a day like 2026-11-23, so it was left out.")
        })
    }

    /// The query the filters ask for, and what in them could not be used.
    fn query(&self, page: PageRequest) -> (AuditQuery, Vec<String>) {
        let mut problems = Vec::new();
        let mut day = |text: &str, field: &str| {
            Self::day(text, field).unwrap_or_else(|problem| {
                problems.push(problem);
                None
            })
        };
        let since = day(&self.from, "From");
        let until = day(&self.to, "To").map(|to| to.plus(Duration::from_secs(86_400)));
        let query = AuditQuery {
            tenant_id: self.tenant().map(TenantId),
            action: self.action().map(|a| a.name().to_owned()),
            actor_email: self.actor().map(str::to_owned),
            since,
            until,
            page,
            ..AuditQuery::default()
        };
        (query, problems)
    }

    /// The filters that `query` (from `self.query`) uses, as they follow `?cursor=…` or
    /// start a query: a date that was left out is not carried on.
    fn as_query(&self, query: &AuditQuery) -> String {
        let mut text = String::new();
        if let Some(action) = self.action() {
            text.push_str(&format!("&action={}", action.name()));
        }
        if let Some(tenant) = self.tenant() {
            text.push_str(&format!("&tenant={tenant}"));
        }
        if let Some(actor) = self.actor() {
            text.push_str(&format!("&actor={}", url_encoded(actor)));
        }
        for (name, value, used) in [
            ("from", &self.from, query.since.is_some()),
            ("to", &self.to, query.until.is_some()),
        ] {
            if used {
                text.push_str(&format!("&{name}={}", url_encoded(value.trim())));
            }
        }
        text
    }
}

/// `GET /audit`: what happened, in sentences, filterable by action, tenant, who and when,
/// newest first, a page at a time.
pub async fn audit(
    State(app): State<AppState>,
    Staff(member): Staff,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let actor = &member.signed_in.actor;
    let tenants = match app.tether.list_tenants(actor).await {
        Ok(tenants) => tenants,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let page = PageRequest::parse(filter.cursor.as_deref(), None).unwrap_or_default();
    let (query, problems) = filter.query(page);
    let filters = filter.as_query(&query);
    let listed = match app.tether.activity(actor, query).await {
        Ok(listed) => listed,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let now = app.tether.now();
    let chosen = filter.action();
    let links = Links::Console {
        msp: member.tenant.id,
    };
    let template = AuditPage {
        frame: wide(member.frame("/audit")),
        events: listed
            .items
            .into_iter()
            .map(|e| row(e, now, links))
            .collect(),
        tenants: tenant_choices(&tenants, filter.tenant()),
        actions: AuditAction::ALL
            .iter()
            .map(|a| (a.name(), a.label(), Some(*a) == chosen))
            .collect(),
        actor: filter.actor.clone(),
        from: filter.from.clone(),
        to: filter.to.clone(),
        problems,
        filters,
        older: listed.next_cursor,
    };
    member.page(StatusCode::OK, &template)
}

/// `GET /audit.csv`: the filtered events as a spreadsheet, newest first, up to 10,000.
pub async fn audit_csv(
    State(app): State<AppState>,
    Staff(member): Staff,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let actor = &member.signed_in.actor;
    let mut events = Vec::new();
    let mut page = PageRequest {
        before_id: None,
        limit: MAX_LIMIT,
    };
    loop {
        let listed = match app.tether.activity(actor, filter.query(page).0).await {
            Ok(listed) => listed,
            Err(error) => return refusal(&member.tenant, &error),
        };
        let last = listed.items.last().map(|e| e.event.id);
        events.extend(listed.items);
        match (last, listed.next_cursor) {
            (Some(last), Some(_)) if events.len() < MAX_CSV_EVENTS => page.before_id = Some(last),
            _ => break,
        }
    }
    match audit_csv_text(&events) {
        Ok(text) => (
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8"),
                (CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
                (CACHE_CONTROL, "no-store"),
            ],
            text,
        )
            .into_response(),
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `time,what happened,action,tenant,ip`, one line per event. A cell that a spreadsheet
/// would take for a formula (`=`, `+`, `-`, `@`) starts with `'`: names are typed by people.
fn audit_csv_text(events: &[Described]) -> Result<String, Error> {
    let failed = |e: csv::Error| Error::Internal(format!("the CSV could not be written: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(["time", "what happened", "action", "tenant", "ip"])
        .map_err(failed)?;
    for described in events {
        let cells = [
            described.event.at.to_rfc3339(),
            described.sentence.to_string(),
            described.event.action.clone(),
            described.tenant.clone().unwrap_or_default(),
            described.event.ip.clone().unwrap_or_default(),
        ];
        writer
            .write_record(cells.iter().map(|cell| inert(cell)))
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::Internal(format!("the CSV could not be written: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("the CSV is not text: {e}")))
}

fn inert(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[derive(Template)]
#[template(path = "team_activity.html")]
struct TeamActivityPage {
    frame: Frame,
    tenant_name: String,
    events: Vec<EventRow>,
    older: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ActivityPlace {
    cursor: Option<String>,
}

/// `GET /team/activity`: a client admin's tenant's events, in sentences.
pub async fn team_activity(
    State(app): State<AppState>,
    member: Member,
    Query(place): Query<ActivityPlace>,
) -> Response {
    // Who may read which tenant's events is the domain's rule (a client user is refused).
    let page = PageRequest::parse(place.cursor.as_deref(), None).unwrap_or_default();
    let query = AuditQuery {
        page,
        ..AuditQuery::default()
    };
    let listed = match app.tether.activity(&member.signed_in.actor, query).await {
        Ok(listed) => listed,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let now = app.tether.now();
    let template = TeamActivityPage {
        frame: wide(member.frame("/team/activity")),
        tenant_name: member.tenant.name.to_string(),
        events: listed
            .items
            .into_iter()
            .map(|e| row(e, now, Links::None))
            .collect(),
        older: listed.next_cursor,
    };
    member.page(StatusCode::OK, &template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_a_spreadsheet_would_run_is_made_inert() {
        assert_eq!(inert("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(inert("+1"), "'+1");
        assert_eq!(inert("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(inert("Dana invited x"), "Dana invited x");
    }
}
