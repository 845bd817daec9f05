//! The `data` of webhook events (delivery.md §14): the API's own objects, so that a receiver
//! reads the same `Invite`, `User` and `Tenant` as a client of the API.

use std::sync::Arc;

use serde_json::Value;

use super::body::{InviteBody, TenantBody, UserBody};
use crate::domain::webhook::{EventBodies, EventData};
use crate::domain::Tether;

struct ApiObjects;

impl EventBodies for ApiObjects {
    fn data(&self, tether: &Tether, data: EventData<'_>) -> Value {
        let value = match data {
            EventData::Invite(invite) => serde_json::to_value(InviteBody::from(invite.clone())),
            EventData::User(user) => serde_json::to_value(UserBody::from(user.clone())),
            EventData::Tenant(tenant) => serde_json::to_value(TenantBody::new(tether, tenant)),
        };
        // These types are plain structs of strings, numbers and lists: serialising them
        // cannot fail, but an event says so rather than panic if it ever did.
        value.unwrap_or_else(|error| serde_json::json!({ "error": error.to_string() }))
    }
}

/// What `Tether::new` takes to write events' data.
pub fn event_bodies() -> Arc<dyn EventBodies> {
    Arc::new(ApiObjects)
}
