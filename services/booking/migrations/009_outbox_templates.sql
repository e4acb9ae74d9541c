-- The email built off the hot path: a use case records what to send (a template's name and its
-- arguments as JSON, services/booking/emails.py) and the outbox dispatcher renders it when it sends.
-- A row with a template leaves the rendered columns empty; a row without one is sent as it is stored
-- (every row written before this migration, and mail enqueued rendered). A template row has no
-- address until rendered (NULL), so a dispatcher of the previous release still running during a rolling
-- update fails on it before sending anything (never a blank message) and leaves it to this release's.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS template text;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS template_args jsonb;
ALTER TABLE outbox ADD CONSTRAINT outbox_template_has_args
  CHECK (template IS NULL OR jsonb_typeof(template_args) = 'object');
ALTER TABLE outbox ALTER COLUMN to_address DROP NOT NULL;
ALTER TABLE outbox ADD CONSTRAINT outbox_addressed_or_template CHECK (to_address IS NOT NULL OR template IS NOT NULL);
