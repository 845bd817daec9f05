//! The invite form and the page that shows a new link once, shared by the console's
//! Clients and Users pages and a client admin's Team.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::member::Member;
use super::{invite_page_headers, Frame};
use crate::domain::invite::{Expiry, IssuedInvite, NewInvite};
use crate::domain::role::Role;
use crate::domain::Tether;

#[derive(Template)]
#[template(path = "invite_form.html")]
pub struct InviteFormPage {
    pub frame: Frame,
    pub heading: String,
    pub action: String,
    pub email: String,
    pub name: String,
    /// `Some` on the Users page's form, which chooses between MSP staff and a client.
    pub clients: Option<Vec<(i64, String, bool)>>,
    pub msp_staff: bool,
    pub tenant_id: i64,
    pub roles: Vec<(i64, &'static str, bool)>,
    pub expiries: Vec<(u32, &'static str, bool)>,
    pub errors: Vec<String>,
    pub mail_enabled: bool,
    pub send_email: bool,
}

/// The role and expiry choices, with the one chosen marked.
pub fn role_choices(roles: &[Role], chosen: Option<i64>) -> Vec<(i64, &'static str, bool)> {
    let chosen = chosen.unwrap_or_else(|| roles.last().map_or(0, |r| r.id()));
    roles
        .iter()
        .map(|r| (r.id(), r.label(), r.id() == chosen))
        .collect()
}

pub fn expiry_choices(chosen: Option<u32>) -> Vec<(u32, &'static str, bool)> {
    let chosen = chosen.unwrap_or(Expiry::DEFAULT.hours());
    Expiry::CHOICES
        .iter()
        .map(|e| (e.hours(), e.label(), e.hours() == chosen))
        .collect()
}

/// The invite form as posted (field names are the API's).
#[derive(Debug, Default, Deserialize)]
pub struct InviteFields {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub expires_hours: String,
    #[serde(default)]
    pub msp_staff: Option<String>,
    /// The "Send the link by e-mail" checkbox: present when checked.
    #[serde(default)]
    pub send_email: Option<String>,
}

impl InviteFields {
    /// An empty form: "Send the link by e-mail" is checked when e-mail is set up.
    pub fn fresh(tether: &Tether) -> Self {
        Self {
            send_email: tether.mail_enabled().then(|| String::from("1")),
            ..Self::default()
        }
    }

    pub fn to_new_invite(&self, tenant_id: i64) -> NewInvite {
        NewInvite {
            email: self.email.clone(),
            name: Some(self.name.clone()),
            // A value that is not a number names no role or expiry: the domain says so.
            role_id: self.role_id.trim().parse().unwrap_or(0),
            tenant_id,
            expires_hours: Some(self.expires_hours.trim().parse().unwrap_or(0)),
            send_email: self.send_email.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "invite_link.html")]
struct InviteLinkPage {
    frame: Frame,
    email: String,
    role_label: &'static str,
    tenant_name: String,
    link: String,
    expires: String,
    back_href: String,
    back_label: &'static str,
    /// The link is also on its way by e-mail.
    emailed: bool,
}

/// The page that shows a new link once, never cached.
pub fn link_page(
    member: &Member,
    current: &str,
    issued: &IssuedInvite,
    tenant_name: String,
    back: (&str, &'static str),
) -> Response {
    let template = InviteLinkPage {
        frame: member.frame(current),
        email: issued
            .invite
            .email
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
        role_label: issued.invite.role.label(),
        tenant_name,
        link: issued.link.clone(),
        expires: issued
            .invite
            .expires_at
            .to_date_time_from(issued.invite.created_at),
        back_href: back.0.to_owned(),
        back_label: back.1,
        emailed: issued.invite.delivery.is_some(),
    };
    (
        invite_page_headers(),
        member.page(StatusCode::CREATED, &template),
    )
        .into_response()
}
