use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = tether::config::Cli::parse();
    // The server tells of its life in logs; a command's output is its own lines.
    let level = match cli.command {
        tether::config::Command::Serve(_) => "info",
        _ => "warn",
    };
    tether::telemetry::init(level);
    match tether::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
