//! The bench's e-mail backlog: `outbox_backlog DATABASE_URL COUNT` creates COUNT invites
//! with `send_email` through Tether's own library, so that their e-mails wait in the outbox
//! for a `tether serve` to deliver (no server runs while they are enqueued).

use std::sync::Arc;

use tether::domain::actor::Actor;
use tether::domain::clock::SystemClock;
use tether::domain::invite::NewInvite;
use tether::domain::links::BaseUrl;
use tether::domain::mail::{MailSettings, Mailer};
use tether::domain::password::PasswordHasher;
use tether::domain::tenant::NewTenant;
use tether::domain::Tether;
use tether::store::Db;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let database = args
        .next()
        .ok_or("usage: outbox_backlog DATABASE_URL COUNT")?;
    let count: usize = args
        .next()
        .ok_or("usage: outbox_backlog DATABASE_URL COUNT")?
        .parse()?;
    let db = Db::connect(&database, 4).await?;
    db.migrate().await?;
    // A mail folder only turns e-mail on for enqueuing; nothing is delivered here.
    let folder = std::env::temp_dir().join("tether-outbox-backlog");
    let settings = MailSettings {
        mail_dir: Some(folder),
        ..MailSettings::default()
    };
    let tether = Tether::new(
        db,
        Arc::new(SystemClock),
        PasswordHasher::new(1)?,
        BaseUrl::parse("http://localhost:8080")?,
        tether::http::api::events::event_bodies(),
    )?
    .with_mailer(Mailer::from_settings(
        &settings,
        "noreply@bench.example.com",
    )?);
    let msp = tether.ensure_msp_tenant("Tether").await?;
    let operator = Actor::operator(msp.id);
    let tenant = match tether.tenant_by_slug("mailbench").await? {
        Some(tenant) => tenant,
        None => {
            tether
                .create_tenant(
                    &operator,
                    NewTenant {
                        name: String::from("Mail Bench Corp"),
                        slug: String::from("mailbench"),
                        ..NewTenant::default()
                    },
                )
                .await?
        }
    };
    let run = std::process::id();
    for n in 0..count {
        tether
            .create_invite(
                &operator,
                NewInvite {
                    email: format!("mail-{run}-{n}@bench.example.com"),
                    role_id: 4,
                    tenant_id: tenant.id.0,
                    send_email: true,
                    ..NewInvite::default()
                },
            )
            .await?;
    }
    tether.close().await;
    Ok(())
}
