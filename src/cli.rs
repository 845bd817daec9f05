//! The command line: each subcommand parses its input, calls one domain operation as the
//! operator (who holds an MSP admin's rights), and prints one line or a table. Errors are
//! one sentence on stderr and a non-zero exit.

use std::io::{BufRead, Write};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::net::TcpListener;

use crate::config::{
    AdminCommand, Cli, Command, Format, ImportArgs, InviteCommand, MailCommand, OutboxCommand,
    ServeArgs, TenantCommand, UserCommand, WebhookCommand,
};
use crate::domain::actor::Actor;
use crate::domain::batch::{InviteBatch, RowOutcome};
use crate::domain::batch_file::read_batch_file;
use crate::domain::clock::SystemClock;
use crate::domain::destination::DestinationPolicy;
use crate::domain::error::{sentence, Error};
use crate::domain::invite::{Expiry, InviteId, InviteQuery, NewInvite, StatusFilter};
use crate::domain::links::BaseUrl;
use crate::domain::mail::{MailSettings, Mailer};
use crate::domain::outbox::{Kind, MessageId, MessageQuery, State as MessageState};
use crate::domain::page::{PageRequest, MAX_LIMIT};
use crate::domain::password::PasswordHasher;
use crate::domain::role::Role;
use crate::domain::tenant::{NewTenant, Tenant, TenantChanges, TenantId};
use crate::domain::user::{UserChanges, UserQuery};
use crate::domain::webhook::{NewWebhook, WebhookId};
use crate::domain::Tether;
// `--format json` prints the API's own objects, so that scripts read one shape everywhere.
use crate::http::api::body::{InviteBody, OutboxMessageBody, TenantBody, UserBody, WebhookBody};
use crate::http::limits::{LimitSettings, RateLimits};
use crate::http::{self, AppState};
use crate::store::{self, Db};

/// A failure the command line reports as one sentence.
#[derive(Debug)]
pub struct CliError(String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Error> for CliError {
    fn from(error: Error) -> Self {
        Self::from(&error)
    }
}

impl From<&Error> for CliError {
    fn from(error: &Error) -> Self {
        match error {
            Error::Validation(fields) => Self(
                fields
                    .iter()
                    .map(|f| f.message.trim_end_matches('.').to_owned())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Error::Database(store::Error::Unavailable(why)) => {
                Self(format!("the database is unavailable: {why}"))
            }
            Error::Database(e) => {
                tracing::error!(error = %e, "database error");
                Self(String::from("the database failed: see the log for details"))
            }
            // Each outcome's own sentence; listed, not caught, so that a new outcome is
            // given its wording here too.
            error @ (Error::Unauthenticated
            | Error::InvalidCredentials
            | Error::Forbidden
            | Error::NotFound(_)
            | Error::Conflict(_)
            | Error::Gone(_)
            | Error::ResetGone(_)
            | Error::Logo(_)
            | Error::RateLimited { .. }
            | Error::TooManyRows { .. }
            | Error::Internal(_)) => Self(error.to_string()),
        }
    }
}

fn fail(message: impl Into<String>) -> CliError {
    CliError(message.into())
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let base_url = BaseUrl::parse(&cli.base_url).map_err(|e| fail(e.to_string()))?;
    let db = Db::connect(&cli.database_url, pool_size(&cli.command))
        .await
        .map_err(|e| fail(e.to_string()))?;
    db.migrate().await.map_err(|e| fail(e.to_string()))?;
    let mut mail = MailSettings {
        smtp_url: cli.smtp_url.clone(),
        mail_from: cli.mail_from.clone(),
        mail_dir: cli.mail_dir.clone(),
    };
    if matches!(&cli.command, Command::Serve(args) if args.demo) && mail.mail_dir.is_none() {
        mail.mail_dir = Some(std::path::PathBuf::from("mail"));
    }
    let default_from = format!("noreply@{}", base_url.host());
    let mailer = Mailer::from_settings(&mail, &default_from).map_err(|e| fail(e.to_string()))?;
    let tether = Tether::new(
        db,
        Arc::new(SystemClock),
        PasswordHasher::per_core()
            .map_err(|e| fail(format!("cannot start the password hashing threads: {e}")))?,
        base_url,
        crate::http::api::events::event_bodies(),
    )?
    .with_mailer(mailer)
    .with_webhook_policy(DestinationPolicy {
        allow_http: cli.webhook_allow_http,
        allow_private: cli.webhook_allow_private,
    })?;
    let msp_name = match &cli.command {
        Command::Serve(args) => args.msp_name.as_str(),
        _ => "Tether",
    };
    let msp = tether.ensure_msp_tenant(msp_name).await?;
    let operator = Actor::operator(msp.id);

    let result = match cli.command {
        Command::Serve(args) => serve(&tether, args).await,
        Command::Migrate => {
            println!("The database schema is up to date.");
            Ok(())
        }
        Command::Admin(AdminCommand::Create {
            email,
            password_stdin: _,
            name,
        }) => create_admin(&tether, &operator, &email, name.as_deref()).await,
        Command::Tenant(command) => tenant(&tether, &operator, command).await,
        Command::Invite(command) => invite(&tether, &operator, command).await,
        Command::Mail(MailCommand::Test { to }) => mail_test(&tether, &to).await,
        Command::Outbox(command) => outbox(&tether, &operator, command).await,
        Command::User(command) => user(&tether, &operator, command).await,
        Command::Webhook(command) => webhook(&tether, &operator, command).await,
    };
    tether.close().await;
    result
}

async fn user(tether: &Tether, operator: &Actor, command: UserCommand) -> Result<(), CliError> {
    let change = |email: String, changes: UserChanges| async move {
        let user = tether.user_by_email(operator, &email).await?;
        Ok::<_, CliError>(tether.update_user(operator, user.id, changes).await?)
    };
    match command {
        UserCommand::List {
            tenant,
            role,
            format,
        } => {
            let role = role.as_deref().map(parse_role).transpose()?;
            let tenant_id = match tenant {
                Some(name) => Some(resolve_tenant(tether, &name).await?.id),
                None => None,
            };
            let mut query = UserQuery {
                tenant_id,
                role,
                active: None,
                search: None,
                page: PageRequest {
                    before_id: None,
                    limit: MAX_LIMIT,
                },
            };
            let mut users = Vec::new();
            loop {
                let page = tether.list_users(operator, query.clone()).await?;
                let last = page.items.last().map(|u| u.id.0);
                users.extend(page.items);
                match (last, page.next_cursor) {
                    (Some(last), Some(_)) => query.page.before_id = Some(last),
                    _ => break,
                }
            }
            if format == Format::Json {
                return print_json(users.into_iter().map(UserBody::from));
            }
            let rows: Vec<Vec<String>> = users
                .iter()
                .map(|u| {
                    vec![
                        u.id.0.to_string(),
                        u.email.to_string(),
                        u.name.to_string(),
                        u.role.name().to_owned(),
                        u.tenant_id.0.to_string(),
                        String::from(if u.active { "active" } else { "deactivated" }),
                        u.created_at.to_date_time(),
                    ]
                })
                .collect();
            print_table(
                &["ID", "EMAIL", "NAME", "ROLE", "TENANT", "STATUS", "CREATED"],
                &rows,
            );
            Ok(())
        }
        UserCommand::Deactivate { email } => {
            let changes = UserChanges {
                active: Some(false),
                ..UserChanges::default()
            };
            let user = change(email, changes).await?;
            println!(
                "{} is deactivated; their sessions and API tokens have ended.",
                user.email
            );
            Ok(())
        }
        UserCommand::Activate { email } => {
            let changes = UserChanges {
                active: Some(true),
                ..UserChanges::default()
            };
            let user = change(email, changes).await?;
            println!("{} is active again and can sign in.", user.email);
            Ok(())
        }
        UserCommand::SetRole { email, role } => {
            let role = parse_role(&role)?;
            let changes = UserChanges {
                role_id: Some(role.id()),
                ..UserChanges::default()
            };
            let user = change(email, changes).await?;
            println!("{} is now {}.", user.email, user.role.name());
            Ok(())
        }
        UserCommand::ResetLink { email, send } => {
            let user = tether.user_by_email(operator, &email).await?;
            let issued = tether.issue_password_reset(operator, user.id, send).await?;
            eprintln!(
                "A password reset link for {}, valid until {}:",
                issued.user.email,
                issued.expires_at.to_date_time()
            );
            if send {
                eprintln!("The link is queued to be e-mailed; a running `tether serve` sends it.");
            }
            println!("{}", issued.link);
            Ok(())
        }
    }
}

fn parse_role(name: &str) -> Result<Role, CliError> {
    Role::from_name(name).ok_or_else(|| {
        fail(format!(
            "there is no role \"{name}\"; use msp_admin, msp_technician, client_admin or client_user"
        ))
    })
}

/// A list as a JSON array of the API's objects, for scripts.
fn print_json<T: serde::Serialize>(items: impl Iterator<Item = T>) -> Result<(), CliError> {
    let items: Vec<T> = items.collect();
    let text = serde_json::to_string_pretty(&items)
        .map_err(|e| fail(format!("the list could not be written as JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

fn pool_size(command: &Command) -> u32 {
    match command {
        Command::Serve(args) => args.database_connections,
        _ => 2,
    }
}

async fn serve(tether: &Tether, args: ServeArgs) -> Result<(), CliError> {
    let listener = TcpListener::bind(args.bind)
        .await
        .map_err(|e| fail(format!("cannot listen on {}: {e}", args.bind)))?;
    if let Some(issued) = tether.first_admin_link().await? {
        let expires = issued.invite.expires_at.to_date_time();
        eprintln!("\nNo MSP admin exists yet. Open this one-time link to create the first one");
        eprintln!("(valid until {expires}; treat it like a password):\n");
        println!("    {}\n", issued.link);
        let _ = std::io::stdout().flush();
    }
    if args.demo {
        for (tenant, issued) in tether.create_demo().await? {
            println!(
                "Demo client {} at {}: admin invite {}",
                tenant.name,
                tether.tenant_origin(&tenant),
                issued.link
            );
        }
    }
    match tether.mail_transport() {
        Some(transport) => eprintln!("E-mail goes to {transport}."),
        None => eprintln!(
            "E-mail is not set up (see --smtp-url): invite links are shown to copy, not sent."
        ),
    }
    let (stop_delivery, delivery_stopped) = tokio::sync::watch::channel(false);
    let delivery = {
        let tether = tether.clone();
        tokio::spawn(async move { tether.run_delivery(delivery_stopped).await })
    };
    tracing::info!(address = %args.bind, base_url = %tether.base_url(), "Tether is listening");
    eprintln!(
        "Tether is listening on http://{} (base URL {})",
        args.bind,
        tether.base_url()
    );
    let state = AppState::new(
        tether.clone(),
        RateLimits::new(LimitSettings {
            sign_in_per_ip: args.sign_in_limit,
            sign_in_per_email: args.sign_in_email_limit,
            invite_links_per_ip: args.invite_link_limit,
        }),
        args.trust_proxy.then_some(args.trusted_proxies),
    )
    .await?;
    let metrics_listener = match args.metrics_bind {
        Some(address) => Some(
            TcpListener::bind(address)
                .await
                .map_err(|e| fail(format!("cannot listen on {address} for metrics: {e}")))?,
        ),
        None => None,
    };
    let served = http::serve(listener, metrics_listener, state).await;
    // The server has stopped taking requests; the worker finishes or gives back its claims.
    let _ = stop_delivery.send(true);
    if let Err(error) = delivery.await {
        tracing::error!(%error, "the delivery worker panicked");
    }
    served.map_err(|e| fail(format!("the server stopped: {e}")))
}

async fn mail_test(tether: &Tether, to: &str) -> Result<(), CliError> {
    let Some(transport) = tether.mail_transport().map(str::to_owned) else {
        return Err(fail(
            "e-mail is not set up: give --smtp-url (or --mail-dir) and --mail-from",
        ));
    };
    match tether.send_test_mail(to).await {
        Ok(_) => {
            println!("The test message to {to} was accepted by {transport}.");
            Ok(())
        }
        Err(Error::Internal(why)) => Err(fail(format!(
            "the test message to {to} was not accepted by {transport}: {}",
            why.trim_end_matches('.')
        ))),
        Err(other) => Err(other.into()),
    }
}

async fn outbox(tether: &Tether, operator: &Actor, command: OutboxCommand) -> Result<(), CliError> {
    match command {
        OutboxCommand::List {
            state,
            kind,
            format,
        } => {
            let state = state
                .as_deref()
                .map(MessageState::parse)
                .transpose()
                .map_err(|_| fail("--state must be queued, sending, sent or failed"))?;
            let kind = kind
                .as_deref()
                .map(Kind::parse)
                .transpose()
                .map_err(|_| fail("--kind must be email or webhook"))?;
            let mut query = MessageQuery {
                state,
                kind,
                page: PageRequest {
                    before_id: None,
                    limit: MAX_LIMIT,
                },
            };
            let mut messages = Vec::new();
            loop {
                let page = tether.list_outbox(operator, query.clone()).await?;
                let last = page.items.last().map(|m| m.id.0);
                messages.extend(page.items);
                match (last, page.next_cursor) {
                    (Some(last), Some(_)) => query.page.before_id = Some(last),
                    _ => break,
                }
            }
            if format == Format::Json {
                return print_json(messages.into_iter().map(OutboxMessageBody::from));
            }
            let mut rows = Vec::new();
            {
                for message in &messages {
                    rows.push(vec![
                        message.id.0.to_string(),
                        message.kind.as_str().to_owned(),
                        message.state.as_str().to_owned(),
                        message.subject.clone(),
                        message.attempts.to_string(),
                        message.created_at.to_date_time(),
                        message
                            .next_attempt_at
                            .map_or_else(String::new, |at| at.to_date_time()),
                        message.last_error.clone().unwrap_or_default(),
                    ]);
                }
            }
            print_table(
                &[
                    "ID",
                    "KIND",
                    "STATE",
                    "SUBJECT",
                    "ATTEMPTS",
                    "CREATED",
                    "NEXT",
                    "LAST ERROR",
                ],
                &rows,
            );
            Ok(())
        }
        OutboxCommand::Retry { id } => {
            tether.retry_message(operator, MessageId(id)).await?;
            println!("Message {id} is queued again; a running `tether serve` delivers it.");
            Ok(())
        }
    }
}

async fn create_admin(
    tether: &Tether,
    operator: &Actor,
    email: &str,
    name: Option<&str>,
) -> Result<(), CliError> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| fail(format!("cannot read the password from standard input: {e}")))?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(fail("no password was given on standard input"));
    }
    let user = tether.create_admin(operator, email, password, name).await?;
    println!("Created MSP admin {} (user {}).", user.email, user.id.0);
    Ok(())
}

async fn tenant(tether: &Tether, operator: &Actor, command: TenantCommand) -> Result<(), CliError> {
    match command {
        TenantCommand::Update {
            slug,
            name,
            accent,
            logo,
            no_logo,
            invite_reminders,
            allowed_domains,
        } => {
            let tenant = resolve_tenant(tether, &slug).await?;
            let logo = match logo {
                Some(path) => Some(std::fs::read(&path).map_err(|e| {
                    fail(format!("cannot read the logo file {}: {e}", path.display()))
                })?),
                None => None,
            };
            let changes = TenantChanges {
                name,
                accent_colour: accent,
                logo,
                invite_reminders,
                allowed_email_domains: allowed_domains.as_deref().map(domain_list),
            };
            let mut tenant = tether.update_tenant(operator, tenant.id, changes).await?;
            if no_logo {
                tether.remove_logo(operator, tenant.id).await?;
                tenant.logo_etag = None;
            }
            println!(
                "{} (tenant {}): colour {}, {}, invite reminders {}.",
                tenant.name,
                tenant.id.0,
                tenant.accent_colour.as_str(),
                if tenant.logo_etag.is_some() {
                    "a logo"
                } else {
                    "no logo"
                },
                if tenant.invite_reminders { "on" } else { "off" }
            );
            if !tenant.allowed_email_domains.is_empty() {
                println!(
                    "Admits addresses at {}.",
                    tenant.allowed_email_domains.entries().join(", ")
                );
                let outside = tether.pending_invites_outside(operator, tenant.id).await?;
                if outside > 0 {
                    println!("{outside} pending invites are outside this list and can no longer be accepted.");
                }
            }
            Ok(())
        }
        TenantCommand::Create {
            name,
            slug,
            accent,
            logo,
            allowed_domains,
        } => {
            let logo = match logo {
                Some(path) => Some(std::fs::read(&path).map_err(|e| {
                    fail(format!("cannot read the logo file {}: {e}", path.display()))
                })?),
                None => None,
            };
            let input = NewTenant {
                name,
                slug: slug.clone(),
                accent_colour: accent,
                logo,
                allowed_email_domains: allowed_domains
                    .as_deref()
                    .map(domain_list)
                    .unwrap_or_default(),
            };
            let tenant = tether
                .create_tenant(operator, input)
                .await
                .map_err(|e| match e {
                    Error::Conflict(_) => fail(format!(
                        "the slug \"{slug}\" is already taken by another client"
                    )),
                    Error::Logo(refusal) => fail(format!("the logo was refused: {refusal}")),
                    other => other.into(),
                })?;
            println!(
                "Created client {} (tenant {}) at {}",
                tenant.name,
                tenant.id.0,
                tether.tenant_origin(&tenant)
            );
            Ok(())
        }
        TenantCommand::List { format } => {
            let tenants = tether.list_tenants(operator).await?;
            if format == Format::Json {
                return print_json(tenants.iter().map(|t| TenantBody::new(tether, &t.tenant)));
            }
            let rows: Vec<Vec<String>> = tenants
                .iter()
                .map(|t| {
                    vec![
                        t.tenant.id.0.to_string(),
                        t.tenant.kind.as_str().to_owned(),
                        t.tenant
                            .slug
                            .as_ref()
                            .map_or("-", |s| s.as_str())
                            .to_owned(),
                        t.tenant.name.to_string(),
                        t.active_users.to_string(),
                        t.pending_invites.to_string(),
                        tether.tenant_origin(&t.tenant),
                    ]
                })
                .collect();
            print_table(
                &["ID", "KIND", "SLUG", "NAME", "USERS", "PENDING", "ADDRESS"],
                &rows,
            );
            Ok(())
        }
    }
}

/// `--expires 24h|3d|7d` in hours; `None` when not given.
fn expires_hours(expires: Option<&str>) -> Result<Option<i64>, CliError> {
    expires
        .map(|expires| {
            Expiry::parse_short(expires)
                .map(|expiry| i64::from(expiry.hours()))
                .map_err(|_| fail("--expires must be 24h, 3d or 7d"))
        })
        .transpose()
}

/// The entries of `--allowed-domains a.com,b.com`.
fn domain_list(typed: &str) -> Vec<String> {
    typed
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn webhook(
    tether: &Tether,
    operator: &Actor,
    command: WebhookCommand,
) -> Result<(), CliError> {
    match command {
        WebhookCommand::Add {
            url,
            description,
            events,
            tenants,
            disabled,
        } => {
            let tenant_ids = match tenants {
                Some(list) => {
                    let mut ids = Vec::new();
                    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        ids.push(resolve_tenant(tether, name).await?.id.0);
                    }
                    Some(ids)
                }
                None => None,
            };
            let input = NewWebhook {
                url,
                description,
                event_types: events.split(',').map(|e| e.trim().to_owned()).collect(),
                tenant_ids,
                enabled: !disabled,
            };
            let created = tether.create_webhook(operator, input).await?;
            println!(
                "Webhook {} added for {}. Its signing secret, shown only now:",
                created.webhook.id.0, created.webhook.url
            );
            println!("{}", created.secret.expose());
            Ok(())
        }
        WebhookCommand::List { format } => {
            let hooks = tether.list_webhooks(operator).await?;
            if format == Format::Json {
                return print_json(hooks.into_iter().map(WebhookBody::from));
            }
            let rows: Vec<Vec<String>> = hooks
                .iter()
                .map(|hook| {
                    let state = match (&hook.enabled, &hook.disabled_reason) {
                        (true, _) => String::from("on"),
                        (false, Some(reason)) => format!("off: {reason}"),
                        (false, None) => String::from("off"),
                    };
                    vec![
                        hook.id.0.to_string(),
                        hook.url.clone(),
                        hook.event_types.names().join(","),
                        state,
                        hook.description.clone(),
                    ]
                })
                .collect();
            print_table(&["ID", "URL", "EVENTS", "STATE", "DESCRIPTION"], &rows);
            Ok(())
        }
        WebhookCommand::Remove { id } => {
            tether.delete_webhook(operator, WebhookId(id)).await?;
            println!("Webhook {id} removed.");
            Ok(())
        }
        WebhookCommand::Test { id } => {
            let message = tether.send_test_event(operator, WebhookId(id)).await?;
            println!(
                "A webhook.test event is queued as outbox message {}; a running `tether serve` delivers it.",
                message.0
            );
            Ok(())
        }
    }
}

async fn resolve_tenant(tether: &Tether, name: &str) -> Result<Tenant, CliError> {
    if name == "msp" {
        return Ok(tether.msp_tenant().await?);
    }
    tether.tenant_by_slug(name).await?.ok_or_else(|| {
        fail(format!(
            "no client has the slug \"{name}\"; see `tether tenant list`"
        ))
    })
}

async fn invite(tether: &Tether, operator: &Actor, command: InviteCommand) -> Result<(), CliError> {
    match command {
        InviteCommand::Create {
            email,
            tenant,
            role,
            expires,
            name,
            send,
        } => {
            let role = parse_role(&role)?;
            let expires_hours = expires_hours(expires.as_deref())?;
            let tenant = resolve_tenant(tether, &tenant).await?;
            let input = NewInvite {
                email,
                name,
                role_id: role.id(),
                tenant_id: tenant.id.0,
                expires_hours,
                send_email: send,
            };
            let issued = tether.create_invite(operator, input).await?;
            eprintln!(
                "Invite {} for {} as {} in {}, valid until {}:",
                issued.invite.id.0,
                issued.invite.email.as_ref().map_or("-", |e| e.as_str()),
                issued.invite.role.name(),
                tenant.name,
                issued.invite.expires_at.to_date_time()
            );
            if issued.invite.delivery.is_some() {
                eprintln!("The link is queued to be e-mailed; a running `tether serve` sends it.");
            }
            println!("{}", issued.link);
            Ok(())
        }
        InviteCommand::Import(import) => import_invites(tether, operator, import).await,
        InviteCommand::List {
            status,
            tenant,
            email,
            format,
        } => {
            let status = StatusFilter::parse_or_default(status.as_deref())
                .map_err(|_| fail("--status must be pending, accepted, revoked, expired or all"))?;
            let tenant_id: Option<TenantId> = match tenant {
                Some(name) => Some(resolve_tenant(tether, &name).await?.id),
                None => None,
            };
            let tenants = tether.list_tenants(operator).await?;
            let tenant_name = |id: TenantId| {
                tenants.iter().find(|t| t.tenant.id == id).map_or_else(
                    || id.0.to_string(),
                    |t| {
                        t.tenant
                            .slug
                            .as_ref()
                            .map_or("msp", |s| s.as_str())
                            .to_owned()
                    },
                )
            };
            let mut query = InviteQuery {
                status,
                tenant_id,
                email,
                renewal_requested: false,
                page: PageRequest {
                    before_id: None,
                    limit: MAX_LIMIT,
                },
            };
            let mut invites = Vec::new();
            loop {
                let page = tether.list_invites(operator, query.clone()).await?;
                let last = page.items.last().map(|i| i.id.0);
                invites.extend(page.items);
                match (last, page.next_cursor) {
                    (Some(last), Some(_)) => query.page.before_id = Some(last),
                    _ => break,
                }
            }
            if format == Format::Json {
                return print_json(invites.into_iter().map(InviteBody::from));
            }
            let mut rows = Vec::new();
            {
                for invite in &invites {
                    rows.push(vec![
                        invite.id.0.to_string(),
                        invite.status.as_str().to_owned(),
                        invite
                            .email
                            .as_ref()
                            .map_or("(first admin)", |e| e.as_str())
                            .to_owned(),
                        invite.role.name().to_owned(),
                        tenant_name(invite.tenant_id),
                        invite.created_at.to_date_time(),
                        invite.expires_at.to_date_time(),
                        invite.revoke_reason.map_or("", |r| r.as_str()).to_owned(),
                    ]);
                }
            }
            print_table(
                &[
                    "ID", "STATUS", "EMAIL", "ROLE", "TENANT", "CREATED", "EXPIRES", "REASON",
                ],
                &rows,
            );
            Ok(())
        }
        InviteCommand::Revoke { id } => {
            tether.revoke_invite(operator, InviteId(id)).await?;
            println!("Invite {id} is revoked; its link no longer works.");
            Ok(())
        }
        InviteCommand::Reissue { id, expires, send } => {
            let hours = expires_hours(expires.as_deref())?;
            let issued = tether
                .reissue_invite(operator, InviteId(id), hours, send)
                .await?;
            eprintln!(
                "Invite {} replaces invite {id}, valid until {}:",
                issued.invite.id.0,
                issued.invite.expires_at.to_date_time()
            );
            println!("{}", issued.link);
            Ok(())
        }
    }
}

fn print_table(header: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        println!("(none)");
        return;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Invites everyone in a CSV file: a progress bar and each refused row on standard error,
/// `email,link` (or, for a dry run, what each row would do) as CSV on standard output; fails
/// when any row was refused.
async fn import_invites(
    tether: &Tether,
    operator: &Actor,
    import: ImportArgs,
) -> Result<(), CliError> {
    let bytes = if import.file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
            .map_err(|e| fail(format!("cannot read the list from standard input: {e}")))?;
        bytes
    } else {
        std::fs::read(&import.file).map_err(|e| {
            fail(format!(
                "cannot read the file {}: {e}",
                import.file.display()
            ))
        })?
    };
    let rows = read_batch_file(&bytes)?;
    let default_role = import.role.as_deref().map(parse_role).transpose()?;
    let expires_hours = expires_hours(import.expires.as_deref())?;
    let tenant = resolve_tenant(tether, &import.tenant).await?;
    let lines: Vec<u64> = rows.iter().map(|row| row.line).collect();
    let emails: Vec<String> = rows.iter().map(|row| row.row.email.clone()).collect();
    let batch = InviteBatch {
        tenant_id: tenant.id.0,
        rows: rows.into_iter().map(|row| row.row).collect(),
        default_role_id: default_role.map(Role::id),
        expires_hours,
        send_email: import.send,
        dry_run: import.dry_run,
    };
    let bar = ProgressBar::new(lines.len() as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} rows {msg}") {
        bar.set_style(style);
    }
    let result = tether
        .invite_many_with_progress(operator, batch, |done| bar.set_position(done as u64))
        .await;
    bar.finish_and_clear();
    let result = result?;

    let mut out = csv::Writer::from_writer(std::io::stdout().lock());
    let header: &[&str] = if import.dry_run {
        &["line", "email", "outcome"]
    } else {
        &["email", "link"]
    };
    let write_failed = |e: csv::Error| fail(format!("cannot write to standard output: {e}"));
    out.write_record(header).map_err(write_failed)?;
    for ((outcome, line), email) in result.outcomes.iter().zip(&lines).zip(&emails) {
        match outcome {
            RowOutcome::Created(issued) => {
                let email = issued.invite.email.as_ref().map_or("", |e| e.as_str());
                out.write_record([email, issued.link.as_str()])
                    .map_err(write_failed)?;
            }
            RowOutcome::WouldCreate { supersedes } => {
                let what = match supersedes {
                    Some(id) => format!("new invite, replacing invite {}", id.0),
                    None => String::from("new invite"),
                };
                out.write_record([line.to_string().as_str(), email, what.as_str()])
                    .map_err(write_failed)?;
            }
            RowOutcome::Refused(error) => {
                let CliError(why) = CliError::from(error);
                eprintln!("line {line} ({email}): {}", sentence(&why));
            }
        }
    }
    out.flush()
        .map_err(|e| fail(format!("cannot write to standard output: {e}")))?;
    let refused = result.refused();
    let done = if import.dry_run {
        format!(
            "{} rows would create an invite",
            result.outcomes.len() - refused
        )
    } else {
        format!("created {} invites", result.created())
    };
    eprintln!(
        "{}; {refused} rows refused.",
        sentence(&done).trim_end_matches('.')
    );
    if refused > 0 {
        return Err(fail(format!(
            "{refused} of {} rows were refused; fix them and import those rows again",
            result.outcomes.len()
        )));
    }
    Ok(())
}
