-- Time slots (issue 16): a package is a whole day (every existing one) or a time-slot service with
-- its slot terms, stored as the REST spelling of mais_runtime.slot_terms (checked by the catalog
-- before every write). A SLOT package has terms, a DAY package none.
ALTER TABLE packages
    ADD COLUMN kind text NOT NULL DEFAULT 'DAY' CHECK (kind IN ('DAY', 'SLOT')),
    ADD COLUMN slot jsonb CHECK (slot IS NULL OR jsonb_typeof(slot) = 'object'),
    ADD CONSTRAINT packages_slot_terms_of_kind CHECK ((kind = 'SLOT') = (slot IS NOT NULL));
