-- Password reset links (delivery.md §10): invite-grade tokens, stored as their SHA-256 digest.
-- A link is open while it is neither used nor superseded and has not expired; a newer link
-- for the user supersedes the open ones in the same transaction.
CREATE TABLE password_resets (
    id            INTEGER PRIMARY KEY,
    token_digest  BLOB    NOT NULL UNIQUE,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    -- The admin who issued it; NULL when the person asked for it, or the command line did.
    created_by    INTEGER REFERENCES users (id),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    superseded_at INTEGER,
    CHECK (used_at IS NULL OR superseded_at IS NULL)
);
CREATE INDEX password_resets_open_by_user ON password_resets (user_id)
    WHERE used_at IS NULL AND superseded_at IS NULL;

-- A reset link's e-mail carries its token sealed, erased as an invite's is.
ALTER TABLE outbox ADD COLUMN password_reset_id INTEGER REFERENCES password_resets (id);
CREATE INDEX outbox_by_password_reset ON outbox (password_reset_id)
    WHERE password_reset_id IS NOT NULL;
