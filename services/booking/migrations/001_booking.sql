-- Customers, bookings and their history, blackout dates, and the email outbox.
-- Every table is tenant-owned and isolated by row-level security.

CREATE TABLE customers (
    id text PRIMARY KEY,
    tenant_id uuid NOT NULL,
    -- Normalised: trimmed and lower-cased.
    email text NOT NULL CHECK (email = lower(btrim(email)) AND email <> ''),
    name text NOT NULL,
    phone text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_one_per_email UNIQUE (tenant_id, email)
);

CREATE TABLE bookings (
    id text PRIMARY KEY,
    tenant_id uuid NOT NULL,
    customer_id text NOT NULL REFERENCES customers (id),
    event_date date NOT NULL,
    status text NOT NULL CHECK (status IN ('HELD', 'CONFIRMED', 'RELEASED', 'CANCELLED')),
    -- The couple's details as they typed them for this booking (the customer row keeps the latest).
    couple_name text NOT NULL,
    email text NOT NULL,
    phone text NOT NULL DEFAULT '',
    notes text NOT NULL DEFAULT '',
    -- The catalog's priced snapshot (QuoteSnapshot as JSON), kept as it was at purchase.
    package_id text NOT NULL,
    quote jsonb NOT NULL,
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    currency text NOT NULL,
    request_id text,
    payment_session_id text,
    hold_expires_at timestamptz,
    amount_paid_cents bigint NOT NULL DEFAULT 0 CHECK (amount_paid_cents >= 0),
    amount_refunded_cents bigint NOT NULL DEFAULT 0 CHECK (amount_refunded_cents >= 0),
    cancel_reason text NOT NULL DEFAULT '',
    remind_at timestamptz,
    reminder_enqueued_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The last line of defence: one live booking per tenant and date. "Live" cannot mention now() (an index
-- predicate must be immutable), so an expired hold stays in the index until the locked hold transaction
-- moves it to RELEASED before inserting the new hold. Cancelled and released rows never block a date.
CREATE UNIQUE INDEX bookings_one_live_per_date ON bookings (tenant_id, event_date)
    WHERE status IN ('HELD', 'CONFIRMED');
CREATE UNIQUE INDEX bookings_by_request ON bookings (tenant_id, request_id) WHERE request_id IS NOT NULL;
CREATE UNIQUE INDEX bookings_by_payment_session ON bookings (tenant_id, payment_session_id)
    WHERE payment_session_id IS NOT NULL;
CREATE INDEX bookings_by_date ON bookings (tenant_id, event_date, id);
CREATE INDEX bookings_by_customer ON bookings (tenant_id, customer_id);
CREATE INDEX bookings_by_package ON bookings (tenant_id, package_id) WHERE status IN ('HELD', 'CONFIRMED');
CREATE INDEX bookings_due_reminders ON bookings (remind_at)
    WHERE status = 'CONFIRMED' AND reminder_enqueued_at IS NULL AND remind_at IS NOT NULL;

CREATE TABLE booking_history (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    booking_id text NOT NULL REFERENCES bookings (id),
    from_status text NOT NULL,
    to_status text NOT NULL,
    actor text NOT NULL,
    reason text NOT NULL DEFAULT '',
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX booking_history_by_booking ON booking_history (booking_id, id);

CREATE TABLE blackouts (
    id text PRIMARY KEY,
    tenant_id uuid NOT NULL,
    date date NOT NULL,
    reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT blackouts_one_per_date UNIQUE (tenant_id, date)
);

-- The shared mail outbox (mais_runtime/outbox.py), isolated like the rest.
SELECT mais_create_outbox();

-- Row-level security on every table (docs/adr/0002).
SELECT mais_isolate_by_tenant('customers');
SELECT mais_isolate_by_tenant('bookings');
SELECT mais_isolate_by_tenant('booking_history');
SELECT mais_isolate_by_tenant('blackouts');
