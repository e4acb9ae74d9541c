-- Time-slot services (issue 16, ADR 0025): resources (a person, a room) with weekly opening hours and
-- date exceptions in the tenant's zone, bookings of a slot (a start and an end on one resource), and
-- `occupancy`: every live booking's claim on a resource's time, under an exclusion constraint, so two
-- live claims on one resource never overlap whatever the code above does.
--
-- btree_gist (for `=` on uuid/text inside a gist index) is created by the stack's provisioning, as the
-- administrator, in this schema (mais_runtime/provision.py): the service's role may not create it.

CREATE TABLE resources (
    id text PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- Every tenant has one default resource (created on first use); whole-day bookings occupy all.
    is_default boolean NOT NULL DEFAULT false,
    active boolean NOT NULL DEFAULT true,
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX resources_one_default ON resources (tenant_id) WHERE is_default;
CREATE UNIQUE INDEX resources_name ON resources (tenant_id, lower(name));
SELECT mais_isolate_by_tenant('resources');

-- Weekly hours: several ranges a day allowed (09:00-12:00, 14:00-18:00), wall-clock times of the
-- tenant's zone; closes = 24:00 is written 00:00 of the next day as '24:00'::time.
CREATE TABLE opening_hours (
    tenant_id uuid NOT NULL,
    resource_id text NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    -- ISO weekday: 1 Monday .. 7 Sunday.
    weekday smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    opens time NOT NULL,
    closes time NOT NULL,
    CHECK (opens < closes),
    PRIMARY KEY (resource_id, weekday, opens)
);
SELECT mais_isolate_by_tenant('opening_hours');

-- A date with other hours than its weekday's: closed (no ranges), or its own ranges.
CREATE TABLE hours_exceptions (
    tenant_id uuid NOT NULL,
    resource_id text NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    date date NOT NULL,
    -- Empty: closed all day.
    ranges jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(ranges) = 'array'),
    reason text NOT NULL DEFAULT '' CHECK (length(reason) <= 200),
    PRIMARY KEY (resource_id, date)
);
SELECT mais_isolate_by_tenant('hours_exceptions');

-- A booking is a whole day (as before) or a slot: its start and end (the service's duration), the
-- buffers around it, and the resource it takes.
ALTER TABLE bookings ADD COLUMN kind text NOT NULL DEFAULT 'DAY' CHECK (kind IN ('DAY', 'SLOT'));
ALTER TABLE bookings ADD COLUMN resource_id text REFERENCES resources (id);
ALTER TABLE bookings ADD COLUMN starts_at timestamptz;
ALTER TABLE bookings ADD COLUMN ends_at timestamptz;
ALTER TABLE bookings ADD COLUMN buffer_before_minutes smallint NOT NULL DEFAULT 0 CHECK (buffer_before_minutes >= 0);
ALTER TABLE bookings ADD COLUMN buffer_after_minutes smallint NOT NULL DEFAULT 0 CHECK (buffer_after_minutes >= 0);
ALTER TABLE bookings ADD CONSTRAINT bookings_slot_shape CHECK (
    (kind = 'DAY' AND starts_at IS NULL AND ends_at IS NULL)
    OR (kind = 'SLOT' AND resource_id IS NOT NULL AND starts_at < ends_at)
);
-- One live whole-day booking per date, as before; slot bookings share their date.
DROP INDEX bookings_one_live_per_date;
CREATE UNIQUE INDEX bookings_one_live_per_date ON bookings (tenant_id, event_date)
    WHERE status IN ('HELD', 'CONFIRMED') AND kind = 'DAY';
CREATE INDEX bookings_slots_by_resource ON bookings (tenant_id, resource_id, starts_at)
    WHERE kind = 'SLOT' AND status IN ('HELD', 'CONFIRMED');

-- Every live booking's claim on a resource: a slot claims [start - buffer before, end + buffer after)
-- on its resource; a whole day claims its day (midnight to midnight in the tenant's zone) on every
-- resource of the tenant. Rows are written with the booking in one transaction and deleted when it
-- stops being live (released, cancelled, rescheduled away). The exclusion constraint is the last line
-- of defence behind the advisory locks: no two claims on one resource overlap.
CREATE TABLE occupancy (
    tenant_id uuid NOT NULL,
    resource_id text NOT NULL REFERENCES resources (id),
    booking_id text NOT NULL REFERENCES bookings (id),
    during tstzrange NOT NULL CHECK (NOT isempty(during) AND lower_inc(during) AND NOT upper_inc(during)),
    PRIMARY KEY (booking_id, resource_id),
    CONSTRAINT occupancy_no_overlap EXCLUDE USING gist (tenant_id WITH =, resource_id WITH =, during WITH &&)
);
CREATE INDEX occupancy_by_booking ON occupancy (booking_id);
SELECT mais_isolate_by_tenant('occupancy');

-- A booking that stops being live (released, expired and swept, cancelled) gives up its claims in
-- the same statement, whichever path changed it: the sweep's one-statement release, a hold asked
-- for again, payments' release, a cancellation. Confirming keeps them.
CREATE FUNCTION booking_frees_its_claims() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM occupancy WHERE booking_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER bookings_free_claims AFTER UPDATE OF status ON bookings
    FOR EACH ROW WHEN (NEW.status IN ('RELEASED', 'CANCELLED') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION booking_frees_its_claims();
