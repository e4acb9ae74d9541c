-- Tenants get their settings; keys, secrets, admin users, sign-in failures, password resets and an
-- outbox arrive. Every table is under row-level security.
--
-- Platform rows: platform admins (and their resets and mail) belong to no tenant, so their tenant_id
-- is NULL. mais_tenant_visible(NULL) is true only inside a platform transaction (NULL never equals
-- the session's tenant), so such rows are invisible to every tenant-scoped transaction and visible
-- to the explicit cross-tenant opt-in (sign-in, token checks, bootstrap) only.

ALTER TABLE tenants
    ADD CONSTRAINT tenants_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$'),
    ADD CONSTRAINT tenants_currency_format CHECK (currency ~ '^[a-z]{3}$'),
    ADD COLUMN stripe_account_id text UNIQUE,
    ADD COLUMN connect_state text NOT NULL DEFAULT 'not_started'
        CHECK (connect_state IN ('not_started', 'pending', 'onboarded')),
    ADD COLUMN primary_color text NOT NULL DEFAULT '#1f2937',
    ADD COLUMN secondary_color text NOT NULL DEFAULT '#f9fafb',
    ADD COLUMN logo_url text NOT NULL DEFAULT '',
    ADD COLUMN font text NOT NULL DEFAULT 'system-ui',
    ADD COLUMN allowed_origins text[] NOT NULL DEFAULT '{}',
    ADD COLUMN min_notice_days integer NOT NULL DEFAULT 1 CHECK (min_notice_days BETWEEN 0 AND 365),
    ADD COLUMN max_advance_days integer NOT NULL DEFAULT 730 CHECK (max_advance_days BETWEEN 1 AND 1095),
    ADD COLUMN hold_minutes integer NOT NULL DEFAULT 30 CHECK (hold_minutes BETWEEN 30 AND 1440),
    ADD COLUMN reminder_days integer NOT NULL DEFAULT 7 CHECK (reminder_days BETWEEN 0 AND 60),
    ADD COLUMN couple_cancel_days integer NOT NULL DEFAULT 14 CHECK (couple_cancel_days BETWEEN 0 AND 365),
    ADD COLUMN deactivated_at timestamptz;

-- Key pairs. The live pair has expires_at NULL; a rotated-out pair keeps its public key working
-- until expires_at. Only the secret key's SHA-256 is kept (it is 128 random bits, so a fast hash is
-- enough; nothing can be guessed from it).
CREATE TABLE api_keys (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    public_key text NOT NULL UNIQUE,
    secret_key_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);
CREATE UNIQUE INDEX api_keys_one_live_pair ON api_keys (tenant_id) WHERE expires_at IS NULL;
SELECT mais_isolate_by_tenant('api_keys');

-- Sealed secrets (AES-256-GCM); key_id names the ring key that sealed the value.
CREATE TABLE tenant_secrets (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL,
    key_id text NOT NULL,
    nonce bytea NOT NULL,
    ciphertext bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);
SELECT mais_isolate_by_tenant('tenant_secrets');

-- Admin users: tenant admins carry their tenant, platform admins a NULL tenant (see the top).
-- Addresses are stored normalised and are unique across the platform: sign-in names no tenant.
-- token_version is bumped when the password changes or the user is removed, which ends their tokens.
CREATE TABLE admin_users (
    id uuid PRIMARY KEY,
    tenant_id uuid REFERENCES tenants (id),
    email text NOT NULL UNIQUE CHECK (email = lower(btrim(email))),
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('tenant_admin', 'platform_admin')),
    token_version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at timestamptz,
    CHECK ((role = 'platform_admin') = (tenant_id IS NULL))
);
CREATE INDEX admin_users_tenant ON admin_users (tenant_id);
SELECT mais_isolate_by_tenant('admin_users');

-- Failed sign-ins, counted per address and per client IP over a sliding window. The address is kept
-- as its SHA-256 (no plain addresses of strangers in a log table). Platform-only: no tenant reads it.
CREATE TABLE signin_failures (
    id bigserial PRIMARY KEY,
    email_hash text NOT NULL,
    client_ip text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signin_failures_by_email ON signin_failures (email_hash, failed_at);
CREATE INDEX signin_failures_by_ip ON signin_failures (client_ip, failed_at);
SELECT mais_isolate_for_platform('signin_failures');

-- Password reset tokens: only the SHA-256 is stored; used_at makes each single-use.
CREATE TABLE password_resets (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES admin_users (id),
    tenant_id uuid REFERENCES tenants (id),
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id, created_at);
SELECT mais_isolate_by_tenant('password_resets');

-- The mail outbox (see mais_runtime/outbox.py); tenant_id is NULL for a platform admin's mail.
SELECT mais_create_outbox();
