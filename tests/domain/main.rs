//! The storage-and-rules suite: every test runs on SQLite and, when
//! `TETHER_TEST_DATABASE_URL` is set, on PostgreSQL.

mod common;

mod invites;
mod permissions;
mod reliability;
mod security;
mod users;
