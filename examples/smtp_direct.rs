//! The bench's e-mail reference: `smtp_direct PORT FOLDER IN_FLIGHT` sends every `.eml` in
//! FOLDER, byte for byte, straight through lettre's pooled async SMTP transport to
//! 127.0.0.1:PORT with IN_FLIGHT sends at once, and prints how many seconds it took. The
//! outbox's throughput is quoted as a ratio to it.

use std::sync::Arc;
use std::time::Instant;

use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Semaphore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: smtp_direct PORT FOLDER IN_FLIGHT";
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let folder = args.next().ok_or(usage)?;
    let in_flight: usize = args.next().ok_or(usage)?.parse()?;
    let mut messages = Vec::new();
    for entry in std::fs::read_dir(&folder)? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "eml") {
            messages.push(std::fs::read(path)?);
        }
    }
    let transport = Arc::new(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build(),
    );
    let envelope = Envelope::new(
        Some("noreply@bench.example.com".parse()?),
        vec!["someone@bench.example.com".parse()?],
    )?;
    let gate = Arc::new(Semaphore::new(in_flight));
    let started = Instant::now();
    let mut sends = tokio::task::JoinSet::new();
    for message in messages {
        let permit = gate.clone().acquire_owned().await?;
        let (transport, envelope) = (transport.clone(), envelope.clone());
        sends.spawn(async move {
            let sent = transport.send_raw(&envelope, &message).await;
            drop(permit);
            sent
        });
    }
    while let Some(sent) = sends.join_next().await {
        sent??;
    }
    println!("{:.6}", started.elapsed().as_secs_f64());
    Ok(())
}
