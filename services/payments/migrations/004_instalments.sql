-- Payment schedules (issue 15, services/payments/domain/schedule.py): a booking is paid in
-- instalments, a deposit at checkout and the balance before the event, or the whole at once. Each
-- instalment is a row; each Checkout Session (a payment) pays one instalment.

CREATE TABLE instalments (
    tenant_id uuid NOT NULL,
    booking_id text NOT NULL,
    seq smallint NOT NULL CHECK (seq BETWEEN 1 AND 12),
    kind text NOT NULL CHECK (kind IN ('FULL', 'DEPOSIT', 'BALANCE')),
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    currency text NOT NULL,
    -- In the tenant's calendar; `timezone` is the tenant's zone when the schedule was made, so the
    -- sweep can tell "today" for every tenant in one query.
    due_date date NOT NULL,
    timezone text NOT NULL,
    status text NOT NULL DEFAULT 'DUE'
        CHECK (status IN ('DUE', 'PAID', 'OVERDUE', 'WAIVED', 'REFUNDED', 'CANCELLED')),
    -- The session that paid it (or, while owed, its open one).
    session_id text,
    paid_cents bigint NOT NULL DEFAULT 0 CHECK (paid_cents >= 0),
    fee_cents bigint NOT NULL DEFAULT 0 CHECK (fee_cents >= 0),
    refunded_cents bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0 AND refunded_cents <= paid_cents),
    paid_at timestamptz,
    paid_offline boolean NOT NULL DEFAULT false,
    note text CHECK (length(note) <= 500),
    -- How far its notices have gone (schedule.NoticeStage: 0 none .. 4 overdue action taken).
    notice_stage smallint NOT NULL DEFAULT 0 CHECK (notice_stage BETWEEN 0 AND 4),
    -- The policy's overdue terms, fixed when the schedule was made.
    grace_days smallint NOT NULL DEFAULT 3,
    reminder_days smallint NOT NULL DEFAULT 7,
    overdue_action text NOT NULL DEFAULT 'remind'
        CHECK (overdue_action IN ('remind', 'cancel_keep_deposit', 'cancel_refund_deposit')),
    deposit_refundable boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, booking_id, seq),
    CHECK (status <> 'PAID' OR paid_cents = amount_cents)
);
-- The schedule sweep: owed instalments by due date, on every replica every few seconds.
CREATE INDEX instalments_owed ON instalments (due_date) WHERE status IN ('DUE', 'OVERDUE');
CREATE INDEX instalments_session ON instalments (session_id) WHERE session_id IS NOT NULL;
SELECT mais_isolate_by_tenant('instalments');

-- Which instalment a payment (a Checkout Session) pays. The checkout's session pays instalment 1, as
-- every payment did before schedules.
ALTER TABLE payments ADD COLUMN instalment_seq smallint NOT NULL DEFAULT 1 CHECK (instalment_seq BETWEEN 1 AND 12);
-- NOT_OWED: paid when nothing was owed any more (the instalment already paid by another session, or
-- the booking cancelled), and refunded in full.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('OPEN', 'PAID', 'EXPIRED', 'HOLD_LOST', 'REPLACED', 'NOT_OWED'));
-- One checkout payment per booking, as before (its replaced sessions beside it); later instalments
-- may be tried several times (an expired balance session, then a new one), one open at a time.
DROP INDEX payments_booking;
CREATE UNIQUE INDEX payments_booking ON payments (tenant_id, booking_id)
    WHERE status <> 'REPLACED' AND instalment_seq = 1;
CREATE UNIQUE INDEX payments_instalment_open ON payments (tenant_id, booking_id, instalment_seq)
    WHERE status = 'OPEN';

-- Every booking paid before schedules existed was paid in full by its one payment: it gets the
-- one-instalment schedule it had in effect (paid, or owed while its session is open). The copy runs
-- in the platform scope (row-level security is forced, even for the tables' owner); the migration's
-- own transaction ends the setting.
SELECT set_config('mais.scope', 'platform', true);
INSERT INTO instalments (
    tenant_id, booking_id, seq, kind, amount_cents, currency, due_date, timezone, status, session_id,
    paid_cents, fee_cents, paid_at, notice_stage
)
SELECT p.tenant_id, p.booking_id, 1, 'FULL', p.amount_cents, p.currency, p.created_at::date, 'UTC',
       CASE WHEN p.status = 'PAID' THEN 'PAID' ELSE 'DUE' END, p.session_id,
       CASE WHEN p.status = 'PAID' THEN p.amount_cents ELSE 0 END,
       CASE WHEN p.status = 'PAID' THEN p.fee_cents ELSE 0 END,
       CASE WHEN p.status = 'PAID' THEN p.updated_at END,
       4
FROM payments p
WHERE p.status IN ('OPEN', 'PAID');
