-- Tether's initial schema (SQLite). Times are Unix milliseconds; ids are integers.
-- Invariants the engine can hold live here as well as in the domain: the domain's
-- checks give the clear message, these make a race harmless.

CREATE TABLE tenants (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('msp', 'client')),
    name          TEXT    NOT NULL,
    slug          TEXT    UNIQUE,
    accent_colour TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    CHECK ((kind = 'msp') = (slug IS NULL))
);
-- Exactly one MSP tenant.
CREATE UNIQUE INDEX tenants_single_msp ON tenants (kind) WHERE kind = 'msp';

CREATE TABLE tenant_logos (
    tenant_id    INTEGER PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    content_type TEXT    NOT NULL,
    bytes        BLOB    NOT NULL,
    etag         TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id),
    email          TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    role_id        INTEGER NOT NULL CHECK (role_id BETWEEN 1 AND 4),
    password_hash  TEXT    NOT NULL,
    deactivated_at INTEGER,
    created_at     INTEGER NOT NULL
);
CREATE INDEX users_by_tenant ON users (tenant_id, id);

CREATE TABLE invites (
    id               INTEGER PRIMARY KEY,
    token_digest     BLOB    NOT NULL UNIQUE,
    email            TEXT,
    name             TEXT,
    role_id          INTEGER NOT NULL CHECK (role_id BETWEEN 1 AND 4),
    tenant_id        INTEGER NOT NULL REFERENCES tenants (id),
    created_by       INTEGER REFERENCES users (id),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    accepted_at      INTEGER,
    accepted_user_id INTEGER REFERENCES users (id),
    revoked_at       INTEGER,
    revoked_by       INTEGER REFERENCES users (id),
    revoke_reason    TEXT CHECK (revoke_reason IN ('revoked', 'superseded')),
    CHECK (accepted_at IS NULL OR revoked_at IS NULL),
    -- Accepting claims the invite first and records the new user in the same transaction.
    CHECK (accepted_user_id IS NULL OR accepted_at IS NOT NULL),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
-- At most one open (neither accepted nor revoked) invite per email: a second one can
-- only be created by superseding the first in the same transaction.
CREATE UNIQUE INDEX invites_one_open_per_email ON invites (email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invites_by_tenant ON invites (tenant_id, id);
CREATE INDEX invites_open ON invites (id) WHERE accepted_at IS NULL AND revoked_at IS NULL;

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_digest BLOB    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('web', 'api')),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Audit events outlive what they describe, so they hold ids without foreign keys.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    actor_id    INTEGER,
    tenant_id   INTEGER,
    target_type TEXT,
    target_id   INTEGER,
    ip          TEXT,
    detail      TEXT    NOT NULL
);
CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, id);

-- Process-independent secrets (e.g. the CSRF signing key), created once at first start.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
