-- The outbox (delivery.md §8): everything Tether sends is first a row here, written in the
-- transaction of the change that causes it. `sealed` holds a token in transit, encrypted
-- (never the token itself), and is erased once it is no longer needed.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('email', 'webhook')),
    topic           TEXT    NOT NULL,
    tenant_id       INTEGER REFERENCES tenants (id),
    invite_id       INTEGER REFERENCES invites (id),
    subject         TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    sealed          BLOB,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    sent_at         INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state IN ('queued', 'sending');
CREATE INDEX outbox_by_invite ON outbox (invite_id) WHERE invite_id IS NOT NULL;

CREATE TABLE outbox_attempts (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES outbox (id),
    attempted_at INTEGER NOT NULL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed')),
    error        TEXT,
    duration_ms  INTEGER NOT NULL
);
CREATE INDEX outbox_attempts_by_message ON outbox_attempts (message_id, id);
