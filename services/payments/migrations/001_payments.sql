-- The payments schema: checkout requests (Idempotency-Key answers), one payment per checkout session,
-- the Stripe event inbox, the ledger and cancellation refund requests. Every table is tenant-owned
-- and under row-level security with the standard policy.

-- What a checkout answered for an Idempotency-Key, per tenant: the same key with the same body gets
-- the same answer; with another body, 409 IDEMPOTENCY_KEY_REUSED. A row exists only once its answer
-- does (it is written in the same transaction that holds the key's lock, see store.py).
CREATE TABLE checkout_requests (
    tenant_id uuid NOT NULL,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash text NOT NULL,
    booking_id text NOT NULL,
    response jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE INDEX checkout_requests_created ON checkout_requests (created_at);
SELECT mais_isolate_by_tenant('checkout_requests');

-- One Stripe Checkout Session per hold, and what became of its money.
CREATE TABLE payments (
    session_id text PRIMARY KEY,
    tenant_id uuid NOT NULL,
    booking_id text NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    currency text NOT NULL,
    commission_bps integer NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    -- The application fee asked for (0 on a platform charge, i.e. a tenant not yet onboarded).
    fee_cents bigint NOT NULL DEFAULT 0 CHECK (fee_cents >= 0 AND fee_cents <= amount_cents),
    destination_account text,
    status text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'PAID', 'EXPIRED', 'HOLD_LOST')),
    checkout_url text NOT NULL,
    expires_at timestamptz NOT NULL,
    payment_intent_id text,
    charge_id text,
    application_fee_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX payments_booking ON payments (tenant_id, booking_id);
CREATE INDEX payments_intent ON payments (payment_intent_id) WHERE payment_intent_id IS NOT NULL;
SELECT mais_isolate_by_tenant('payments');

-- The Stripe event inbox: every verified event once (unique Stripe id), with its processing state.
--
-- Row-level security and the unknown tenant: an event is stored the moment its signature checks out,
-- before payments knows whose it is (a connected account's event is resolved through the tenant
-- service afterwards). So tenant_id is nullable: the intake writes in a platform transaction (the
-- explicit cross-tenant opt-in), with the tenant from the object's metadata when it carries one, and
-- sets it once resolved. The policy is the standard one, and a NULL tenant_id makes
-- mais_tenant_visible() false for every tenant scope: a row whose tenant is not known is visible (and
-- writable) only to platform transactions, i.e. the intake, the processor and the platform admin's
-- dead-letter view; it never shows up in any tenant's list. Once tenant_id is set, the tenant's own
-- transactions see it and nobody else's do.
--
-- last_error holds an error class and a short code only, never a message: messages can quote
-- customer data. payload is the verified event as Stripe sent it, kept for replay.
CREATE TABLE stripe_events (
    id uuid PRIMARY KEY,
    stripe_event_id text NOT NULL UNIQUE,
    type text NOT NULL,
    tenant_id uuid,
    booking_id text,
    status text NOT NULL DEFAULT 'RECEIVED'
        CHECK (status IN ('RECEIVED', 'PROCESSED', 'FAILED', 'IGNORED')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error text CHECK (length(last_error) <= 120),
    payload jsonb NOT NULL,
    stripe_created_at timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_tenant_list ON stripe_events (tenant_id, received_at DESC, id DESC);
CREATE INDEX stripe_events_tenant_status ON stripe_events (tenant_id, status, received_at DESC, id DESC);
CREATE INDEX stripe_events_status ON stripe_events (status, received_at DESC, id DESC);
CREATE INDEX stripe_events_list ON stripe_events (received_at DESC, id DESC);
SELECT mais_isolate_by_tenant('stripe_events');

-- The ledger: one row per Stripe money object, so recording the same object twice (a webhook and the
-- API call that caused it, a redelivery, a replay) is a no-op.
CREATE TABLE ledger_entries (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    booking_id text NOT NULL,
    session_id text NOT NULL REFERENCES payments (session_id),
    kind text NOT NULL CHECK (kind IN ('charge', 'application_fee', 'refund', 'application_fee_refund')),
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    currency text NOT NULL,
    stripe_object_id text NOT NULL,
    -- The cancellation request that asked for this refund (from the Stripe object's metadata).
    refund_request_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, stripe_object_id)
);
CREATE INDEX ledger_entries_booking ON ledger_entries (tenant_id, booking_id, created_at, id);
CREATE INDEX ledger_entries_session ON ledger_entries (session_id);
SELECT mais_isolate_by_tenant('ledger_entries');

-- A tenant admin's cancellation refund, reserved before Stripe is called: concurrent requests see each
-- other's reservations (so together they never refund more than was paid), and a retry with the same
-- request id resumes it instead of refunding twice.
CREATE TABLE refund_requests (
    tenant_id uuid NOT NULL,
    request_id text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 255),
    booking_id text NOT NULL,
    session_id text NOT NULL REFERENCES payments (session_id),
    choice text NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    fee_refund_cents bigint NOT NULL CHECK (fee_refund_cents >= 0),
    status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED')),
    stripe_refund_id text,
    stripe_fee_refund_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, request_id)
);
CREATE INDEX refund_requests_session ON refund_requests (session_id, status);
SELECT mais_isolate_by_tenant('refund_requests');
