-- A tenant may turn off the reminder that re-issues an e-mailed invite a day before it expires
-- (delivery.md §11); on unless turned off. 1 or 0, as both engines read it the same way.
ALTER TABLE tenants ADD COLUMN invite_reminders INTEGER NOT NULL DEFAULT 1;
