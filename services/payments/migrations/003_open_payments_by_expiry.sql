-- The expiry sweep (expiry.py) looks for OPEN payments whose session has closed, oldest first, on
-- every replica every few seconds: a partial index keeps that a short range scan however many
-- payments there are.
CREATE INDEX payments_open_by_expiry ON payments (expires_at) WHERE status = 'OPEN';

-- A resumed hold may get a new Checkout Session (checkout.py): the session it replaces stays as a row,
-- REPLACED, so that a payment that still reached it (paid before it was expired) is found, recorded
-- and refunded. One live payment per booking, as before; replaced ones beside it.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('OPEN', 'PAID', 'EXPIRED', 'HOLD_LOST', 'REPLACED'));
DROP INDEX payments_booking;
CREATE UNIQUE INDEX payments_booking ON payments (tenant_id, booking_id) WHERE status <> 'REPLACED';
