-- Refunds over several payments (refunds.py): one cancellation gives money back through each payment it
-- reaches (latest first), one refund request per payment, all under the cancellation's own request id.
-- Requests reserved before this migration were one per cancellation: each is its own cancellation.
ALTER TABLE refund_requests ADD COLUMN cancellation_id text CHECK (length(cancellation_id) BETWEEN 1 AND 255);
SELECT set_config('mais.scope', 'platform', true);
UPDATE refund_requests SET cancellation_id = request_id;
CREATE INDEX refund_requests_cancellation ON refund_requests (tenant_id, cancellation_id);

-- A tenant admin's changes to an instalment (instalments.py): waived, marked paid outside Stripe, due
-- date moved. One row per request id, so a retried change has one effect and a reused id with another
-- change is told.
CREATE TABLE instalment_changes (
    tenant_id uuid NOT NULL,
    request_id text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 255),
    booking_id text NOT NULL,
    seq smallint NOT NULL CHECK (seq BETWEEN 1 AND 12),
    action text NOT NULL CHECK (action IN ('WAIVE', 'MARK_PAID', 'SET_DUE_DATE')),
    note text CHECK (length(note) <= 500),
    due_date date,
    actor text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, request_id)
);
SELECT mais_isolate_by_tenant('instalment_changes');
