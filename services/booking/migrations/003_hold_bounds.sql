-- Live holds are bounded per couple (email) and per client address in a tenant, and expired holds are
-- released by a sweep across tenants: the address a hold was asked from, and indexes for those three
-- questions (each reads HELD rows only).
ALTER TABLE bookings ADD COLUMN client_address text NOT NULL DEFAULT '';
CREATE INDEX bookings_holds_by_email ON bookings (tenant_id, email, hold_expires_at) WHERE status = 'HELD';
CREATE INDEX bookings_holds_by_address ON bookings (tenant_id, client_address, hold_expires_at)
    WHERE status = 'HELD' AND client_address <> '';
CREATE INDEX bookings_holds_by_expiry ON bookings (hold_expires_at) WHERE status = 'HELD';
