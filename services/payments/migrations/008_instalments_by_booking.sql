-- A booking's instalments are read and changed by booking id alone (`PaymentsTx.instalments`, the
-- updates of one instalment, the deletion of an unpaid schedule), in tenant and platform transactions
-- alike; the primary key leads with tenant_id, which those statements do not name (row-level security
-- is no index condition), so each one scanned the table (pg_stat_statements: 157-242 sequential scans
-- per 200 bookings, reading every row). Booking ids are unique across tenants.
CREATE INDEX instalments_by_booking ON instalments (booking_id, seq);
