-- Payment terms (issue 15): a tenant's deposit and balance terms, as the REST spelling of
-- mais_runtime.payment_policy (checked by the tenant service before every write). NULL on a tenant
-- that never set any: pay in full at checkout, as before schedules.
ALTER TABLE tenants
    ADD COLUMN payment_policy jsonb
        CHECK (payment_policy IS NULL OR jsonb_typeof(payment_policy) = 'object');
