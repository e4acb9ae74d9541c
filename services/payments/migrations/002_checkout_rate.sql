-- The checkouts each client address started per tenant within the rate-limit window (a sliding log:
-- one row per accepted checkout, rows older than the window removed as the address comes back). Taking
-- a slot is serialised per (tenant, address) by an advisory lock, so concurrent requests on every
-- gateway replica count exactly (see store.py).
CREATE TABLE checkout_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL,
    client_ip text NOT NULL CHECK (length(client_ip) BETWEEN 1 AND 64),
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkout_attempts_address ON checkout_attempts (tenant_id, client_ip, attempted_at);
SELECT mais_isolate_by_tenant('checkout_attempts');
