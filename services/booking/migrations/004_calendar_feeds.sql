-- Each tenant's private calendar feed (an iCalendar URL its admins subscribe to). The URL's token is
-- derived from the service's link key, the tenant and the feed's generation (feeds.py), so it can be
-- shown again; only its SHA-256 is stored, which is what the public feed looks it up by (a platform
-- transaction: the token is the only credential). Rotating bumps the generation: the old token's hash
-- is gone at once. The last rotation's request id makes a retried rotation answer the same token.
CREATE TABLE calendar_feeds (
    tenant_id uuid PRIMARY KEY,
    generation integer NOT NULL DEFAULT 1 CHECK (generation >= 1),
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    rotation_request_id text CHECK (length(rotation_request_id) <= 255),
    created_at timestamptz NOT NULL DEFAULT now(),
    rotated_at timestamptz
);
SELECT mais_isolate_by_tenant('calendar_feeds');
