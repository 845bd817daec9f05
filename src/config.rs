//! The command line and its environment variables → one `Cli` value (clap's `env`).

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

use crate::http::request::TrustedProxies;

#[derive(Debug, Parser)]
#[command(
    name = "tether",
    version,
    about = "Tenants, roles and single-use invite links for an MSP and its clients"
)]
pub struct Cli {
    /// The database: a file path or sqlite:// URL (SQLite), or postgres://…
    #[arg(
        long,
        env = "TETHER_DATABASE_URL",
        default_value = "tether.db",
        global = true
    )]
    pub database_url: String,

    /// The MSP's address; clients live at subdomains of its host.
    #[arg(
        long,
        env = "TETHER_BASE_URL",
        default_value = "http://localhost:8080",
        global = true
    )]
    pub base_url: String,

    /// Send e-mail through this SMTP server: smtp://user:pass@host:587 (STARTTLS
    /// required), smtps://host:465 (TLS), or smtp://127.0.0.1:25?tls=none (this machine only).
    #[arg(long, env = "TETHER_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The address e-mail is sent from, e.g. noreply@atechsolutions.org; noreply@ the base
    /// URL's host if not given.
    #[arg(long, env = "TETHER_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,

    /// Write each e-mail as an .eml file into this folder instead of sending it (for
    /// development and demos; --smtp-url wins when both are given).
    #[arg(long, env = "TETHER_MAIL_DIR", global = true)]
    pub mail_dir: Option<std::path::PathBuf>,

    /// Allow webhook URLs that start with http:// (without it, only https://).
    #[arg(long, env = "TETHER_WEBHOOK_ALLOW_HTTP", global = true)]
    pub webhook_allow_http: bool,

    /// Allow webhooks to loopback, private, link-local and other special addresses (a
    /// receiver on this machine or inside the network).
    #[arg(long, env = "TETHER_WEBHOOK_ALLOW_PRIVATE", global = true)]
    pub webhook_allow_private: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations first).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage MSP admins.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage client tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Create, list, revoke and re-issue invite links.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Check the e-mail settings.
    #[command(subcommand)]
    Mail(MailCommand),
    /// See and retry what Tether sends.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Help users back into their accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Tell the MSP's other tools what happens: webhook endpoints.
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add an endpoint and print its signing secret (shown this once).
    Add {
        /// Where events are posted: https://… (http:// only with --webhook-allow-http).
        url: String,
        /// What the endpoint is for, for people.
        #[arg(long, default_value = "")]
        description: String,
        /// The event types it wants, separated by commas (invite.created,invite.accepted…),
        /// or * for all.
        #[arg(long, default_value = "*")]
        events: String,
        /// Only these clients' events (slugs separated by commas, or msp); all if not given.
        #[arg(long)]
        tenants: Option<String>,
        /// Add it turned off.
        #[arg(long)]
        disabled: bool,
    },
    /// List the endpoints.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Remove an endpoint and its delivery log.
    Remove { id: i64 },
    /// Send a webhook.test event to an endpoint through the outbox (a running `tether
    /// serve` delivers it).
    Test { id: i64 },
}

/// How a list command prints: a table for people, or the API's objects as JSON for scripts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List users, newest first.
    List {
        /// A client's slug, or `msp`.
        #[arg(long)]
        tenant: Option<String>,
        /// msp_admin, msp_technician, client_admin or client_user.
        #[arg(long)]
        role: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Deactivate a user: they can no longer sign in, and their sessions and tokens end.
    Deactivate { email: String },
    /// Reactivate a deactivated user.
    Activate { email: String },
    /// Give a user another role of their tenant's kind.
    SetRole {
        email: String,
        /// msp_admin, msp_technician, client_admin or client_user.
        role: String,
    },
    /// Make a password reset link for a user (valid 24 hours) and print it.
    ResetLink {
        email: String,
        /// Also e-mail the link to the user (a running `tether serve` delivers it).
        #[arg(long)]
        send: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send one test message through the configured transport and say whether the server
    /// accepted it.
    Test {
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List messages, newest first.
    List {
        /// queued, sending, sent or failed; all if not given.
        #[arg(long)]
        state: Option<String>,
        /// email or webhook; both if not given.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Retry a message now, with a fresh schedule.
    Retry { id: i64 },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "TETHER_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Also create two branded sample clients, each with a pending invite; e-mail goes to
    /// ./mail unless --smtp-url or --mail-dir says otherwise.
    #[arg(long)]
    pub demo: bool,

    /// Honour X-Forwarded-For/Host from a reverse proxy in front of Tether.
    #[arg(long, env = "TETHER_TRUST_PROXY")]
    pub trust_proxy: bool,

    /// With --trust-proxy: the proxies whose forwarded headers are believed, as a
    /// comma-separated list of addresses or networks. The client is the right-most
    /// X-Forwarded-For entry that is not one of them.
    #[arg(long, env = "TETHER_TRUSTED_PROXIES", default_value = "127.0.0.0/8,::1",
          value_parser = TrustedProxies::parse)]
    pub trusted_proxies: TrustedProxies,

    /// Serve /metrics on this address only (say 127.0.0.1:9090) instead of on --bind.
    #[arg(long, env = "TETHER_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Sign-in attempts allowed per client IP per minute.
    #[arg(long, env = "TETHER_SIGN_IN_LIMIT", default_value_t = 20)]
    pub sign_in_limit: u32,

    /// Sign-in attempts allowed per email address per minute.
    #[arg(long, env = "TETHER_SIGN_IN_EMAIL_LIMIT", default_value_t = 5)]
    pub sign_in_email_limit: u32,

    /// Requests to the public invite-link endpoints allowed per client IP per minute.
    #[arg(long, env = "TETHER_INVITE_LINK_LIMIT", default_value_t = 60)]
    pub invite_link_limit: u32,

    /// Connections to the database this process keeps open at most.
    #[arg(long, env = "TETHER_DATABASE_CONNECTIONS", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub database_connections: u32,

    /// The MSP's display name, used when the database is first created.
    #[arg(long, env = "TETHER_MSP_NAME", default_value = "Tether")]
    pub msp_name: String,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an MSP admin without the web flow, reading the password from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from standard input (its first line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a client tenant.
    Create {
        #[arg(long)]
        name: String,
        /// The client's subdomain label, e.g. acme for acme.example.com.
        #[arg(long)]
        slug: String,
        /// The brand colour, #RRGGBB.
        #[arg(long)]
        accent: Option<String>,
        /// A PNG, JPEG, WebP or GIF logo of at most 512 KiB.
        #[arg(long)]
        logo: Option<std::path::PathBuf>,
        /// Admit only addresses at these e-mail domains, separated by commas
        /// (acme.com,*.acme.co.uk); any address if not given.
        #[arg(long)]
        allowed_domains: Option<String>,
    },
    /// List tenants with their users and pending invites.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Change a tenant: its name, colour, logo or invite reminders.
    Update {
        /// A client's slug, or `msp`.
        slug: String,
        #[arg(long)]
        name: Option<String>,
        /// The brand colour, #RRGGBB.
        #[arg(long)]
        accent: Option<String>,
        /// A new PNG, JPEG, WebP or GIF logo of at most 512 KiB.
        #[arg(long, conflicts_with = "no_logo")]
        logo: Option<std::path::PathBuf>,
        /// Remove the logo.
        #[arg(long)]
        no_logo: bool,
        /// on or off: re-issue and e-mail an e-mailed 3- or 7-day invite a day before it
        /// expires unused.
        #[arg(long, value_parser = parse_on_off)]
        invite_reminders: Option<bool>,
        /// Admit only addresses at these e-mail domains, separated by commas
        /// (acme.com,*.acme.co.uk); "" admits any address again.
        #[arg(long)]
        allowed_domains: Option<String>,
    },
}

fn parse_on_off(value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(String::from("use on or off")),
    }
}

#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Create an invite and print its link.
    Create {
        #[arg(long)]
        email: String,
        /// A client's slug, or `msp` for MSP staff.
        #[arg(long)]
        tenant: String,
        /// msp_admin, msp_technician, client_admin or client_user.
        #[arg(long)]
        role: String,
        /// 24h, 3d or 7d; 3d if not given.
        #[arg(long)]
        expires: Option<String>,
        /// A name to pre-fill on the setup page.
        #[arg(long)]
        name: Option<String>,
        /// Also e-mail the link to EMAIL (a running `tether serve` delivers it).
        #[arg(long)]
        send: bool,
    },
    /// Invite everyone in a CSV file (columns email, and optionally name and role): prints
    /// `email,link` for each invite created, and each refused row on standard error.
    Import(ImportArgs),
    /// List invites, newest first.
    List {
        /// pending, accepted, revoked, expired or all; pending if not given.
        #[arg(long)]
        status: Option<String>,
        /// A client's slug, or `msp`.
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Revoke an invite so its link stops working.
    Revoke { id: i64 },
    /// Issue a fresh link for a pending or expired invite, replacing the old one.
    Reissue {
        id: i64,
        /// 24h, 3d or 7d; the original period if not given.
        #[arg(long)]
        expires: Option<String>,
        /// Also e-mail the new link (a running `tether serve` delivers it).
        #[arg(long)]
        send: bool,
    },
}

/// `tether invite import`'s arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file, or - for standard input.
    pub file: std::path::PathBuf,
    /// A client's slug, or `msp` for MSP staff.
    #[arg(long)]
    pub tenant: String,
    /// The role of rows that name none: msp_admin, msp_technician, client_admin or
    /// client_user.
    #[arg(long)]
    pub role: Option<String>,
    /// 24h, 3d or 7d; 3d if not given.
    #[arg(long)]
    pub expires: Option<String>,
    /// Also e-mail each link (a running `tether serve` delivers them).
    #[arg(long)]
    pub send: bool,
    /// Only say what each row would do; create nothing.
    #[arg(long)]
    pub dry_run: bool,
}
