-- A package and the add-ons offered with it share one currency (ADR 0021), and the database says
-- so: every offer carries the currency, and its two foreign keys name the package and the add-on
-- *in that currency*. Neither side's currency can then change while the offer exists, and no offer
-- can join two currencies, whatever a use case forgets or races.
--
-- Every package and add-on has stored its own currency since 001 (packages.currency and
-- add_ons.currency are NOT NULL), so there is no price to backfill: what changes is that updates
-- no longer overwrite it with the tenant's current currency (that was the defect; the catalog
-- cannot read the tenant's schema, and a price's currency is the one it was written in, not the
-- tenant's today). What this migration backfills is the currency of each existing offer.

-- The migration runs under row-level security like everything else; it works on every tenant.
SELECT set_config('mais.scope', 'platform', true);

ALTER TABLE packages ADD CONSTRAINT packages_priced_key UNIQUE (tenant_id, id, currency);
ALTER TABLE add_ons ADD CONSTRAINT add_ons_priced_key UNIQUE (tenant_id, id, currency);

ALTER TABLE add_on_packages ADD COLUMN currency text;
UPDATE add_on_packages ap SET currency = a.currency
    FROM add_ons a WHERE a.tenant_id = ap.tenant_id AND a.id = ap.add_on_id;

-- An offer joining two currencies (an item re-priced by the old overwrite after its tenant changed
-- currency) could never be bought: public reads hid it and quotes refused it. It goes.
DO $$
DECLARE
    mixed bigint;
BEGIN
    DELETE FROM add_on_packages ap USING packages p
        WHERE p.tenant_id = ap.tenant_id AND p.id = ap.package_id AND p.currency <> ap.currency;
    GET DIAGNOSTICS mixed = ROW_COUNT;
    IF mixed > 0 THEN
        RAISE NOTICE 'removed % add-on offer(s) that joined two currencies', mixed;
    END IF;
END
$$;

ALTER TABLE add_on_packages ALTER COLUMN currency SET NOT NULL;
ALTER TABLE add_on_packages ADD CONSTRAINT add_on_packages_add_on_currency_fk
    FOREIGN KEY (tenant_id, add_on_id, currency) REFERENCES add_ons (tenant_id, id, currency) ON DELETE CASCADE;
ALTER TABLE add_on_packages ADD CONSTRAINT add_on_packages_package_currency_fk
    FOREIGN KEY (tenant_id, package_id, currency) REFERENCES packages (tenant_id, id, currency) ON DELETE CASCADE;
-- The package side's lookups (a currency change checks its offers) use this index.
CREATE INDEX add_on_packages_by_package_currency ON add_on_packages (tenant_id, package_id, currency);
