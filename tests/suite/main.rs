//! The suite: the storage-and-rules tests of the domain and the API tests through the real
//! router. Every test runs on SQLite and, when `TETHER_TEST_DATABASE_URL` is set, on
//! PostgreSQL.

mod common;
#[path = "../support/mod.rs"]
mod support;

mod allowed_domains;
mod batch;
mod invites;
mod outbox;
mod permissions;
mod recovery;
mod reliability;
mod reminders;
mod renewal;
mod security;
mod users;
mod webhooks;

mod account;
mod api;
mod api_isolation;
mod api_limits;

mod web;
mod web_console;
mod web_invite_many;
mod web_webhooks;
