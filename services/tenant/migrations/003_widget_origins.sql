-- CORS preflights ask whether any active tenant lists an origin; they come before every widget call
-- from a browser, so the answer is an index lookup, not a scan of every tenant.
CREATE INDEX IF NOT EXISTS tenants_allowed_origins ON tenants USING gin (allowed_origins);
