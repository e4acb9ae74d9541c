-- What a couple's own cancellation keeps back (a non-refundable deposit), recorded with each part of its
-- refund when the part is reserved: whoever tells booking of the refund first (the cancellation, or the
-- charge.refunded webhook that may record it before the cancellation commits) tells it the same amount.
ALTER TABLE refund_requests ADD COLUMN kept_cents bigint NOT NULL DEFAULT 0 CHECK (kept_cents >= 0);
