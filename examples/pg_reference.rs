//! The bench's PostgreSQL reference (quality.md: "the invite page and invite creation on
//! PostgreSQL ≥ 60% of a minimal handler doing the same single query through sqlx's
//! `PgPool`"): `pg_reference DATABASE_URL BIND CONNECTIONS`.
//!
//! - `GET /invite/{token}` runs the invite page's own query (`store::invites::SELECT_LINK`,
//!   the invite joined with its tenant, creator and logo) for the token's digest and answers
//!   the tenant's name, or 404.
//! - `POST /api/invites` inserts one row holding the posted body's `email` into a table of
//!   its own (`reference_invites`, made here) in its own transaction, and answers 201.
//!
//! Both run on a `PgPool` of CONNECTIONS connections (Tether's default, 16), on the same
//! axum and tokio as `tether serve`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use tether::domain::token::Token;
use tether::store::invites::SELECT_LINK;

async fn page(State(pool): State<PgPool>, Path(token): Path<String>) -> (StatusCode, String) {
    let digest = Token::presented(&token).digest().to_vec();
    match sqlx::query(SELECT_LINK)
        .bind(digest)
        .fetch_optional(&pool)
        .await
    {
        Ok(Some(row)) => (
            StatusCode::OK,
            row.try_get("tenant_name").unwrap_or_default(),
        ),
        Ok(None) => (StatusCode::NOT_FOUND, String::new()),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

async fn create(State(pool): State<PgPool>, body: Bytes) -> StatusCode {
    let email = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|body| body.get("email")?.as_str().map(str::to_owned));
    let Some(email) = email else {
        return StatusCode::UNPROCESSABLE_ENTITY;
    };
    let inserted = sqlx::query("INSERT INTO reference_invites (email) VALUES ($1)")
        .bind(email)
        .execute(&pool)
        .await;
    match inserted {
        Ok(_) => StatusCode::CREATED,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: pg_reference DATABASE_URL BIND CONNECTIONS";
    let url = args.next().ok_or(usage)?;
    let bind = args.next().ok_or(usage)?;
    let connections: u32 = args.next().ok_or(usage)?.parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect(&url)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS reference_invites \
         (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE)",
    )
    .execute(&pool)
    .await?;
    let app = Router::new()
        .route("/invite/{token}", get(page))
        .route("/api/invites", post(create))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
