//! Logging: human-readable by default, JSON with `TETHER_LOG_FORMAT=json`; the level comes
//! from `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json =
        std::env::var("TETHER_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    // A second initialisation (in tests) is harmless: the first subscriber stays.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
