-- The catalog: segments (business lines), packages and add-ons, and which add-ons go with which
-- packages. Every table is tenant-owned and under row-level security. References between tables
-- carry the tenant id (composite foreign keys), so a row can never point at another tenant's row
-- even if a query forgot its filter.

CREATE TABLE segments (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    slug text NOT NULL,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    sort_order integer NOT NULL DEFAULT 0,
    active boolean NOT NULL DEFAULT true,
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT segments_slug_unique UNIQUE (tenant_id, slug),
    CONSTRAINT segments_tenant_key UNIQUE (tenant_id, id),
    CONSTRAINT segments_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$'),
    CONSTRAINT segments_version_positive CHECK (version > 0)
);
CREATE INDEX segments_in_order ON segments (tenant_id, sort_order, slug);

CREATE TABLE packages (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    slug text NOT NULL,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    price_cents bigint NOT NULL,
    currency text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    sort_order integer NOT NULL DEFAULT 0,
    photos jsonb NOT NULL DEFAULT '[]',
    segment_id uuid,
    max_guests integer NOT NULL DEFAULT 0,
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT packages_slug_unique UNIQUE (tenant_id, slug),
    CONSTRAINT packages_tenant_key UNIQUE (tenant_id, id),
    CONSTRAINT packages_segment_fk FOREIGN KEY (tenant_id, segment_id)
        REFERENCES segments (tenant_id, id) ON DELETE RESTRICT,
    CONSTRAINT packages_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$'),
    CONSTRAINT packages_price_bounds CHECK (price_cents BETWEEN 0 AND 99999999),
    CONSTRAINT packages_currency_format CHECK (currency ~ '^[a-z]{3}$'),
    CONSTRAINT packages_photos_list CHECK (jsonb_typeof(photos) = 'array'),
    CONSTRAINT packages_max_guests_bounds CHECK (max_guests >= 0),
    CONSTRAINT packages_version_positive CHECK (version > 0)
);
CREATE INDEX packages_in_order ON packages (tenant_id, sort_order, slug);
CREATE INDEX packages_by_segment ON packages (tenant_id, segment_id) WHERE segment_id IS NOT NULL;

CREATE TABLE add_ons (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    slug text NOT NULL,
    title text NOT NULL,
    price_cents bigint NOT NULL,
    currency text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT add_ons_slug_unique UNIQUE (tenant_id, slug),
    CONSTRAINT add_ons_tenant_key UNIQUE (tenant_id, id),
    CONSTRAINT add_ons_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$'),
    CONSTRAINT add_ons_price_bounds CHECK (price_cents BETWEEN 0 AND 99999999),
    CONSTRAINT add_ons_currency_format CHECK (currency ~ '^[a-z]{3}$'),
    CONSTRAINT add_ons_version_positive CHECK (version > 0)
);

-- Which packages an add-on is offered with. Deleting either side removes the offer.
CREATE TABLE add_on_packages (
    tenant_id uuid NOT NULL,
    add_on_id uuid NOT NULL,
    package_id uuid NOT NULL,
    PRIMARY KEY (add_on_id, package_id),
    CONSTRAINT add_on_packages_add_on_fk FOREIGN KEY (tenant_id, add_on_id)
        REFERENCES add_ons (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT add_on_packages_package_fk FOREIGN KEY (tenant_id, package_id)
        REFERENCES packages (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX add_on_packages_by_package ON add_on_packages (package_id, add_on_id);

-- Row-level security on every table (docs/adr/0002).
SELECT mais_isolate_by_tenant('segments');
SELECT mais_isolate_by_tenant('packages');
SELECT mais_isolate_by_tenant('add_ons');
SELECT mais_isolate_by_tenant('add_on_packages');
