-- Booking's change feed (mais_runtime/change_feed.py): every committed change to what the public
-- reads show (holds, bookings, cancellations, reschedules: rows of bookings; blackouts; opening hours
-- and their exceptions; resources; occupancy) notifies `mais_booking_changes` with the tenant id.
-- PostgreSQL delivers a notification at commit only (nothing for a rolled-back transaction) and
-- sends one per distinct payload per transaction, so a many-row change costs one message per tenant.
CREATE FUNCTION booking_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('mais_booking_changes', OLD.tenant_id::text);
    ELSE
        PERFORM pg_notify('mais_booking_changes', NEW.tenant_id::text);
        IF TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
            PERFORM pg_notify('mais_booking_changes', OLD.tenant_id::text);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER bookings_notify_change AFTER INSERT OR UPDATE OR DELETE ON bookings
    FOR EACH ROW EXECUTE FUNCTION booking_notify_change();
CREATE TRIGGER blackouts_notify_change AFTER INSERT OR UPDATE OR DELETE ON blackouts
    FOR EACH ROW EXECUTE FUNCTION booking_notify_change();
CREATE TRIGGER resources_notify_change AFTER INSERT OR UPDATE OR DELETE ON resources
    FOR EACH ROW EXECUTE FUNCTION booking_notify_change();
CREATE TRIGGER opening_hours_notify_change AFTER INSERT OR UPDATE OR DELETE ON opening_hours
    FOR EACH ROW EXECUTE FUNCTION booking_notify_change();
CREATE TRIGGER hours_exceptions_notify_change AFTER INSERT OR UPDATE OR DELETE ON hours_exceptions
    FOR EACH ROW EXECUTE FUNCTION booking_notify_change();
CREATE TRIGGER occupancy_notify_change AFTER INSERT OR UPDATE OR DELETE ON occupancy
    FOR EACH ROW EXECUTE FUNCTION booking_notify_change();
