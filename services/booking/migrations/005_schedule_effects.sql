-- Payment schedules (issue 15): payments tells booking of each later payment (RecordInstalmentPayment)
-- and each schedule notice (NotifySchedule), and retries until it hears back. Each call has its effect
-- (a history line, an email, the paid amount) once: its key (the paying session, or the request id)
-- is recorded here in the same transaction as the effect. A notice without an email (a waived
-- instalment) has nothing in the outbox to be deduplicated by, hence this table and not the outbox.
CREATE TABLE schedule_effects (
    tenant_id uuid NOT NULL,
    effect_key text NOT NULL CHECK (length(effect_key) <= 300),
    booking_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, effect_key)
);
SELECT mais_isolate_by_tenant('schedule_effects');
