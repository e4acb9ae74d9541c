-- Mail speaks for a business: its name as the From display name and its address as Reply-To.
ALTER TABLE outbox ADD COLUMN from_name text NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN reply_to text NOT NULL DEFAULT '';
