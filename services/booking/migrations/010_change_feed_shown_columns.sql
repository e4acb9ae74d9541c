-- Booking's change feed (008) notified on every UPDATE of a booking, also one that changes nothing the
-- public reads show: linking the checkout session, the amounts paid and refunded, the reminder's time
-- and claim, the couple's details. Each notification is fanned out to every gateway's WatchChanges
-- stream and drops the tenant's cached calendar and slots there. An UPDATE now notifies only when
-- a column the public reads depend on changes: which booking occupies which date or time (status,
-- event date, hold expiry, kind, resource, start, end, buffers). Inserts and deletes notify as before;
-- blackouts, resources, hours and occupancy keep their triggers of 008.
DROP TRIGGER bookings_notify_change ON bookings;
CREATE TRIGGER bookings_notify_change AFTER INSERT OR DELETE ON bookings
    FOR EACH ROW EXECUTE FUNCTION booking_notify_change();
CREATE TRIGGER bookings_notify_shown_change AFTER UPDATE ON bookings
    FOR EACH ROW WHEN (
        OLD.status IS DISTINCT FROM NEW.status
        OR OLD.event_date IS DISTINCT FROM NEW.event_date
        OR OLD.hold_expires_at IS DISTINCT FROM NEW.hold_expires_at
        OR OLD.kind IS DISTINCT FROM NEW.kind
        OR OLD.resource_id IS DISTINCT FROM NEW.resource_id
        OR OLD.starts_at IS DISTINCT FROM NEW.starts_at
        OR OLD.ends_at IS DISTINCT FROM NEW.ends_at
        OR OLD.buffer_before_minutes IS DISTINCT FROM NEW.buffer_before_minutes
        OR OLD.buffer_after_minutes IS DISTINCT FROM NEW.buffer_after_minutes
        OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id
    )
    EXECUTE FUNCTION booking_notify_change();
