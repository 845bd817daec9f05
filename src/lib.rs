//! Tether: the identity core an MSP runs for itself and its client companies — tenants with
//! their own branding, users with roles, and single-use, expiring invite links.
//!
//! Data flows one way, edge → domain → store. `config` and `cli` are the command line's
//! edge and `http` the server's; `domain` holds every rule (permissions, the invite
//! lifecycle, passwords, sessions, audit) and `store` the SQL for SQLite and PostgreSQL.

pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod store;
pub mod telemetry;
