-- A recipient whose invite link died may ask for a fresh one (delivery.md §11): once per invite.
ALTER TABLE invites ADD COLUMN renewal_requested_at BIGINT;
