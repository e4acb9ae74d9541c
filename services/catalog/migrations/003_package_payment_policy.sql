-- Payment terms (issue 15): a package's own deposit and balance terms, as the REST spelling of
-- mais_runtime.payment_policy (checked by the catalog before every write). NULL: the package has
-- none of its own and the tenant's terms apply.
ALTER TABLE packages
    ADD COLUMN payment_policy jsonb
        CHECK (payment_policy IS NULL OR jsonb_typeof(payment_policy) = 'object');
