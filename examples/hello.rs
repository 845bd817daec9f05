//! The bench's reference: a bare axum "hello" handler on the same axum, tokio and runtime
//! settings as `tether serve`, so that Tether's figures are quoted as ratios to it.

use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| String::from("127.0.0.1:18099"));
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    axum::serve(
        listener,
        Router::new().route("/", get(|| async { "hello" })),
    )
    .await
}
