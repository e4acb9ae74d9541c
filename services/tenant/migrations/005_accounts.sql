-- Groundwork for accounts as people expect them (issue 12): a contact address and hold limits per
-- tenant, holds of at least 31 minutes, invited admins, revoked tokens, the addresses an account
-- signed in from, and one live admin per address (a removed admin's address can be invited again).
-- Data is rewritten below, so this transaction may see every tenant's rows.
SELECT set_config('mais.scope', 'platform', true);

ALTER TABLE tenants
    ADD COLUMN contact_email text NOT NULL DEFAULT '',
    ADD COLUMN max_live_holds_per_email integer NOT NULL DEFAULT 0
        CHECK (max_live_holds_per_email BETWEEN 0 AND 10),
    ADD COLUMN max_live_holds_per_address integer NOT NULL DEFAULT 0
        CHECK (max_live_holds_per_address BETWEEN 0 AND 100);
UPDATE tenants t SET contact_email = coalesce(
    (SELECT a.email FROM admin_users a WHERE a.tenant_id = t.id ORDER BY a.created_at, a.id LIMIT 1), '');

-- A hold lasts max(hold_minutes, 31) minutes already; the stored value now says what applies.
ALTER TABLE tenants DROP CONSTRAINT tenants_hold_minutes_check;
UPDATE tenants SET hold_minutes = 31 WHERE hold_minutes < 31;
ALTER TABLE tenants
    ALTER COLUMN hold_minutes SET DEFAULT 31,
    ADD CONSTRAINT tenants_hold_minutes_check CHECK (hold_minutes BETWEEN 31 AND 1440);

-- An invited admin has no password and is inactive until they set one with the mailed link.
ALTER TABLE admin_users
    ALTER COLUMN password_hash DROP NOT NULL,
    ADD COLUMN active boolean NOT NULL DEFAULT true,
    ADD COLUMN invite_request_id text,
    ADD CONSTRAINT admin_users_active_has_password CHECK (NOT active OR password_hash IS NOT NULL),
    DROP CONSTRAINT admin_users_email_key;
CREATE UNIQUE INDEX admin_users_email_live ON admin_users (email) WHERE removed_at IS NULL;
CREATE UNIQUE INDEX admin_users_invite_request ON admin_users (tenant_id, invite_request_id)
    WHERE invite_request_id IS NOT NULL;

ALTER TABLE password_resets
    ADD COLUMN kind text NOT NULL DEFAULT 'reset' CHECK (kind IN ('reset', 'invite'));

-- Signed-out tokens (by SHA-256 of the token) until they would have expired anyway.
CREATE TABLE revoked_tokens (
    token_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES admin_users (id),
    tenant_id uuid REFERENCES tenants (id),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE revoked_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE revoked_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON revoked_tokens
    USING (mais_tenant_visible(tenant_id)) WITH CHECK (mais_tenant_visible(tenant_id));

-- Where an account signed in successfully (its known addresses, ADR 0014). Like signin_failures,
-- keyed by the address's hash and platform-only.
CREATE TABLE signin_known_addresses (
    email_hash text NOT NULL,
    client_ip text NOT NULL,
    last_success_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (email_hash, client_ip)
);
ALTER TABLE signin_known_addresses ENABLE ROW LEVEL SECURITY;
ALTER TABLE signin_known_addresses FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON signin_known_addresses
    USING (current_setting('mais.scope', true) = 'platform')
    WITH CHECK (current_setting('mais.scope', true) = 'platform');
CREATE INDEX signin_failures_by_pair ON signin_failures (email_hash, client_ip, failed_at);
