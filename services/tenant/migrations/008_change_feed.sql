-- Tenant's change feed (mais_runtime/change_feed.py): every committed change to a tenant's row (its
-- settings, status, allowed origins, payment policy) or to its API keys (issued, rotated, revoked)
-- notifies `mais_tenant_changes` with the tenant id, at commit only and once per tenant per
-- transaction. The gateways drop the tenant's cached public answers and its cached keys on it.
CREATE FUNCTION tenant_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_tenant uuid;
BEGIN
    IF TG_TABLE_NAME = 'tenants' THEN
        row_tenant := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    ELSE
        row_tenant := CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
    END IF;
    PERFORM pg_notify('mais_tenant_changes', row_tenant::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER tenants_notify_change AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenant_notify_change();
CREATE TRIGGER api_keys_notify_change AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION tenant_notify_change();
