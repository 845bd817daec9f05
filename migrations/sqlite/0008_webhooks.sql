-- Webhook endpoints (delivery.md §14). The signing secret must be read to sign, so it is kept
-- sealed like a token in transit, never in the clear; after a rotation the previous secret
-- stays (sealed) until `previous_secret_until`. `event_types` is '*' or the types separated
-- by spaces; `tenant_ids` is NULL for every tenant or the ids separated by spaces.
-- `failing_since` is when the run of failed deliveries began (NULL after a success).
CREATE TABLE webhooks (
    id                     INTEGER PRIMARY KEY,
    url                    TEXT    NOT NULL,
    description            TEXT    NOT NULL DEFAULT '',
    event_types            TEXT    NOT NULL,
    tenant_ids             TEXT,
    enabled                INTEGER NOT NULL DEFAULT 1,
    disabled_reason        TEXT,
    secret_sealed          BLOB    NOT NULL,
    previous_secret_sealed BLOB,
    previous_secret_until  INTEGER,
    failing_since          INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

-- A webhook message names its endpoint; an attempt keeps the receiver's status code.
ALTER TABLE outbox ADD COLUMN webhook_id INTEGER REFERENCES webhooks (id);
ALTER TABLE outbox_attempts ADD COLUMN status_code INTEGER;
CREATE INDEX outbox_by_webhook ON outbox (webhook_id, id) WHERE webhook_id IS NOT NULL;
