"""Resources, opening hours and ListSlots through booking's servicer over the real store and PostgreSQL:
a Berlin and a New York business list exactly the right starts on both of their clock-change days;
claims, buffers, whole-day bookings, blackouts and the notice window close what they should; the
default resource is made once (also under concurrency) and takes the days whole-day bookings hold;
bad input names its field and writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from mais.booking.v1 import booking_service_pb2 as pb
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb

from mais_runtime.db import Database
from mais_runtime.errors import Conflict, DomainError, NotFound, PreconditionFailed, ValidationError
from services.booking.api import BookingServicer
from services.booking.domain import AdminContact, Policy, TenantCalendar
from services.booking.hours import Hours
from services.booking.store import BookingStore
from services.booking.use_cases import Bookings
from tests.integration.conftest import Cluster, service_database
from tests.integration.test_booking_store import QUOTE, couple

# The tests' clock: well before every date they book.
NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
HOURLY = catalog_pb.SlotTerms(duration_minutes=60, interval_minutes=60)
NIGHT = [pb.TimeRange(opens="00:00", closes="06:00")]


class ZonedTenants:
    """Every tenant has one zone and policy (as the tenant service would answer)."""

    def __init__(self, zone: str, policy: Policy | None = None) -> None:
        self.zone = zone
        self.policy = policy or Policy(reminder_days=0)

    async def calendar(self, tenant_id: str) -> TenantCalendar:
        return TenantCalendar(tenant_id, "Studio", self.zone, self.policy, contact_email="o@studio.test")

    async def admins(self, tenant_id: str) -> tuple[AdminContact, ...]:
        return ()


@pytest.fixture(scope="module")
async def booking_db(cluster: Cluster) -> AsyncIterator[Database]:
    db = await service_database(cluster, "booking")
    yield db
    await db.close()


Servicer = Callable[..., BookingServicer]


@pytest.fixture
def servicer(booking_db: Database) -> Servicer:
    def make(zone: str = "UTC", policy: Policy | None = None, now: datetime = NOW) -> BookingServicer:
        tenants = ZonedTenants(zone, policy)
        store = BookingStore(booking_db)
        bookings = Bookings(
            store, tenants, link_key=b"slot-test-key", public_url="http://x.test", clock=lambda: now
        )
        return BookingServicer(bookings, Hours(store, tenants, clock=lambda: now))

    return make


async def call(method, request):  # type: ignore[no-untyped-def]
    return await method(request, None)


async def default_resource(service: BookingServicer, tenant: str) -> str:
    listed = await call(service.ListResources, pb.ListResourcesRequest(tenant_id=tenant))
    [default] = [r for r in listed.resources if r.is_default]
    return str(default.id)


async def open_sundays(service: BookingServicer, tenant: str, resource_id: str) -> None:
    await call(
        service.SetOpeningHours,
        pb.SetOpeningHoursRequest(
            tenant_id=tenant, resource_id=resource_id, weekly=[pb.WeeklyHours(weekday=7, ranges=NIGHT)]
        ),
    )


async def slots(
    service: BookingServicer, tenant: str, first: str, last: str = "", terms: catalog_pb.SlotTerms = HOURLY
) -> list[pb.Slot]:
    answer = await call(
        service.ListSlots,
        pb.ListSlotsRequest(tenant_id=tenant, slot=terms, from_date=first, to_date=last or first),
    )
    return list(answer.slots)


def local(found: list[pb.Slot]) -> list[str]:
    return [f"{s.local_date}T{s.local_time}{s.utc_offset}" for s in found]


def instants(found: list[pb.Slot]) -> list[str]:
    return [s.starts_at.ToDatetime(tzinfo=UTC).strftime("%m-%dT%H:%MZ") for s in found]


def field_of(error: DomainError) -> str:
    [violation] = error.fields
    return violation.field


# --- DST ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "expected", "utc_starts"),
    [
        # Berlin springs forward at 02:00 to 03:00: no 02:00 start.
        (
            "Europe/Berlin",
            "2027-03-28",
            ["00:00+01:00", "01:00+01:00", "03:00+02:00", "04:00+02:00", "05:00+02:00"],
            ["03-27T23:00Z", "03-28T00:00Z", "03-28T01:00Z", "03-28T02:00Z", "03-28T03:00Z"],
        ),
        # Berlin falls back at 03:00 to 02:00: 02:00 once, at its first instant (00:00 UTC).
        (
            "Europe/Berlin",
            "2027-10-31",
            ["00:00+02:00", "01:00+02:00", "02:00+02:00", "03:00+01:00", "04:00+01:00", "05:00+01:00"],
            ["10-30T22:00Z", "10-30T23:00Z", "10-31T00:00Z", "10-31T02:00Z", "10-31T03:00Z", "10-31T04:00Z"],
        ),
        # New York springs forward at 02:00 to 03:00.
        (
            "America/New_York",
            "2027-03-14",
            ["00:00-05:00", "01:00-05:00", "03:00-04:00", "04:00-04:00", "05:00-04:00"],
            ["03-14T05:00Z", "03-14T06:00Z", "03-14T07:00Z", "03-14T08:00Z", "03-14T09:00Z"],
        ),
        # New York falls back at 02:00 to 01:00: 01:00 once, at 05:00 UTC.
        (
            "America/New_York",
            "2027-11-07",
            ["00:00-04:00", "01:00-04:00", "02:00-05:00", "03:00-05:00", "04:00-05:00", "05:00-05:00"],
            ["11-07T04:00Z", "11-07T05:00Z", "11-07T07:00Z", "11-07T08:00Z", "11-07T09:00Z", "11-07T10:00Z"],
        ),
    ],
)
async def test_a_business_lists_exactly_the_starts_its_clock_change_day_has(
    servicer: Servicer,
    new_tenant_id: str,
    zone: str,
    day: str,
    expected: list[str],
    utc_starts: list[str],
) -> None:
    service = servicer(zone)
    await open_sundays(service, new_tenant_id, await default_resource(service, new_tenant_id))
    # The Saturday before and the Monday after are closed; the Sunday has exactly these starts.
    sunday = date.fromisoformat(day)
    found = await slots(
        service,
        new_tenant_id,
        (sunday - timedelta(days=1)).isoformat(),
        (sunday + timedelta(days=1)).isoformat(),
    )
    assert local(found) == [f"{day}T{start}" for start in expected]
    assert instants(found) == utc_starts
    assert all(s.ends_at.ToDatetime() - s.starts_at.ToDatetime() == timedelta(hours=1) for s in found)


# --- what closes a slot -------------------------------------------------------------------------


async def claim(
    admin: asyncpg.Connection,
    bookings: Bookings,
    tenant: str,
    resource: str,
    start: datetime,
    end: datetime,
    n: int,
) -> str:
    """A slot booking's row and its claim, written as a slot hold writes them."""
    held = await bookings.hold(tenant, day=start.date(), couple=couple(n), quote=QUOTE, request_id="")
    booking_id = held.booking.id
    await admin.execute(
        "UPDATE booking.bookings SET kind = 'SLOT', resource_id = $2, starts_at = $3, ends_at = $4"
        " WHERE id = $1",
        booking_id,
        resource,
        start,
        end,
    )
    # Held as a whole day, it claimed the day on every resource: it becomes a slot's one claim.
    await admin.execute("DELETE FROM booking.occupancy WHERE booking_id = $1", booking_id)
    await admin.execute(
        "INSERT INTO booking.occupancy (tenant_id, resource_id, booking_id, during)"
        " VALUES ($1, $2, $3, tstzrange($4, $5, '[)'))",
        uuid.UUID(tenant),
        resource,
        booking_id,
        start,
        end,
    )
    return booking_id


def at(hour: int, minute: int = 0, day: date = date(2027, 6, 6)) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def test_a_claim_closes_every_start_whose_buffers_would_touch_it(
    servicer: Servicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    service = servicer()
    resource = await default_resource(service, new_tenant_id)
    await open_sundays(service, new_tenant_id, resource)
    # Someone holds 02:00-03:00 on Sunday 6 June 2027 (UTC business).
    await claim(admin, service._bookings, new_tenant_id, resource, at(2), at(3), 1)
    assert [s.local_time for s in await slots(service, new_tenant_id, "2027-06-06")] == [
        "00:00",
        "01:00",
        "03:00",
        "04:00",
        "05:00",
    ]
    # With 30 minutes kept free after, 01:00 would run into the claim; with 30 before, 03:00 would.
    buffered = catalog_pb.SlotTerms(
        duration_minutes=60, interval_minutes=60, buffer_before_minutes=30, buffer_after_minutes=30
    )
    found = await slots(service, new_tenant_id, "2027-06-06", terms=buffered)
    assert [s.local_time for s in found] == ["00:00", "04:00", "05:00"]


async def test_an_expired_holds_claim_frees_its_time(
    servicer: Servicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    service = servicer()
    resource = await default_resource(service, new_tenant_id)
    await open_sundays(service, new_tenant_id, resource)
    booking_id = await claim(admin, service._bookings, new_tenant_id, resource, at(0), at(6), 1)
    assert await slots(service, new_tenant_id, "2027-06-06") == []
    await admin.execute(
        "UPDATE booking.bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1", booking_id
    )
    assert len(await slots(service, new_tenant_id, "2027-06-06")) == 6


async def test_whole_day_bookings_and_blackouts_close_the_day_and_the_window_limits_the_range(
    servicer: Servicer, new_tenant_id: str
) -> None:
    service = servicer(policy=Policy(reminder_days=0, min_notice_days=7, max_advance_days=30))
    await open_sundays(service, new_tenant_id, await default_resource(service, new_tenant_id))
    # Sundays of January 2027 from NOW (Monday 4 January): the 10th is inside the notice window, the
    # 17th a whole-day booking, the 24th blacked out, the 31st open, 7 February beyond the window.
    await service._bookings.hold(
        new_tenant_id, day=date(2027, 1, 17), couple=couple(1), quote=QUOTE, request_id=""
    )
    await call(service.CreateBlackout, pb.CreateBlackoutRequest(tenant_id=new_tenant_id, date="2027-01-24"))
    found = await slots(service, new_tenant_id, "2027-01-10", "2027-02-07")
    assert {s.local_date for s in found} == {"2027-01-31"}


async def test_lead_time_hides_starts_too_soon(servicer: Servicer, new_tenant_id: str) -> None:
    # Sunday 6 June 2027, 02:30 UTC: with 60 minutes' lead the first start is 04:00.
    service = servicer(now=at(2, 30))
    await open_sundays(service, new_tenant_id, await default_resource(service, new_tenant_id))
    terms = catalog_pb.SlotTerms(duration_minutes=60, interval_minutes=60, lead_time_minutes=60)
    assert [s.local_time for s in await slots(service, new_tenant_id, "2027-06-06", terms=terms)] == [
        "04:00",
        "05:00",
    ]


async def test_an_exception_replaces_its_days_hours_and_an_inactive_resource_offers_nothing(
    servicer: Servicer, new_tenant_id: str
) -> None:
    service = servicer()
    created = await call(
        service.CreateResource, pb.CreateResourceRequest(tenant_id=new_tenant_id, name="Ana")
    )
    ana = created.resource.id
    await call(
        service.SetOpeningHours,
        pb.SetOpeningHoursRequest(
            tenant_id=new_tenant_id,
            resource_id=ana,
            weekly=[pb.WeeklyHours(weekday=7, ranges=NIGHT)],
            from_date="2027-06-01",
            to_date="2027-06-30",
            exceptions=[
                pb.HoursException(date="2027-06-06", reason="Wedding fair"),
                pb.HoursException(
                    date="2027-06-07", ranges=[pb.TimeRange(opens="22:00", closes="24:00")], reason="Late"
                ),
            ],
        ),
    )
    terms = catalog_pb.SlotTerms(duration_minutes=60, interval_minutes=60, resource_id=ana)
    found = await slots(service, new_tenant_id, "2027-06-06", "2027-06-13", terms=terms)
    assert local(found) == [
        "2027-06-07T22:00+00:00",
        "2027-06-07T23:00+00:00",
        *(f"2027-06-13T0{h}:00+00:00" for h in range(6)),
    ]
    hours = await call(
        service.GetOpeningHours,
        pb.GetOpeningHoursRequest(
            tenant_id=new_tenant_id, resource_id=ana, from_date="2027-06-01", to_date="2027-06-30"
        ),
    )
    assert [(e.date, [(r.opens, r.closes) for r in e.ranges], e.reason) for e in hours.exceptions] == [
        ("2027-06-06", [], "Wedding fair"),
        ("2027-06-07", [("22:00", "24:00")], "Late"),
    ]
    await call(
        service.UpdateResource,
        pb.UpdateResourceRequest(
            tenant_id=new_tenant_id, resource=pb.Resource(id=ana, active=False), update_mask=["active"]
        ),
    )
    assert await slots(service, new_tenant_id, "2027-06-06", "2027-06-13", terms=terms) == []


# --- resources ----------------------------------------------------------------------------------


async def test_the_default_resource_is_made_once_even_when_asked_for_at_once(
    servicer: Servicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    service = servicer()
    listed = await asyncio.gather(
        *(call(service.ListResources, pb.ListResourcesRequest(tenant_id=new_tenant_id)) for _ in range(10))
    )
    ids = {r.id for answer in listed for r in answer.resources}
    assert len(ids) == 1
    assert (
        await admin.fetchval(
            "SELECT count(*) FROM booking.resources WHERE tenant_id = $1", uuid.UUID(new_tenant_id)
        )
        == 1
    )


async def test_a_new_resource_is_taken_on_the_days_of_live_whole_day_bookings(
    servicer: Servicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    service = servicer("Europe/Berlin")
    held = await service._bookings.hold(
        new_tenant_id, day=date(2027, 3, 28), couple=couple(1), quote=QUOTE, request_id=""
    )
    default = await default_resource(service, new_tenant_id)
    room = (
        await call(service.CreateResource, pb.CreateResourceRequest(tenant_id=new_tenant_id, name="Room"))
    ).resource
    claims = await admin.fetch(
        "SELECT resource_id, lower(during) AS s, upper(during) AS e FROM booking.occupancy"
        " WHERE booking_id = $1 ORDER BY resource_id",
        held.booking.id,
    )
    # Berlin's spring-forward day has 23 hours: midnight +01:00 to midnight +02:00.
    assert {c["resource_id"] for c in claims} == {default, room.id}
    assert {(c["s"], c["e"]) for c in claims} == {
        (datetime(2027, 3, 27, 23, tzinfo=UTC), datetime(2027, 3, 28, 22, tzinfo=UTC))
    }


async def test_resources_are_renamed_with_their_version_and_names_stay_unique(
    servicer: Servicer, new_tenant_id: str
) -> None:
    service = servicer()
    made = (
        await call(service.CreateResource, pb.CreateResourceRequest(tenant_id=new_tenant_id, name="Ana"))
    ).resource
    with pytest.raises(Conflict) as taken:
        await call(service.CreateResource, pb.CreateResourceRequest(tenant_id=new_tenant_id, name=" ana "))
    assert taken.value.reason == "NAME_TAKEN"
    renamed = (
        await call(
            service.UpdateResource,
            pb.UpdateResourceRequest(
                tenant_id=new_tenant_id,
                resource=pb.Resource(id=made.id, name="Ana Lopez"),
                update_mask=["name"],
                expected_version=made.version,
            ),
        )
    ).resource
    assert (renamed.name, renamed.version) == ("Ana Lopez", made.version + 1)
    with pytest.raises(Conflict) as stale:
        await call(
            service.UpdateResource,
            pb.UpdateResourceRequest(
                tenant_id=new_tenant_id,
                resource=pb.Resource(id=made.id, name="Ana L."),
                update_mask=["name"],
                expected_version=made.version,
            ),
        )
    assert stale.value.reason == "VERSION_CONFLICT"
    listed = await call(service.ListResources, pb.ListResourcesRequest(tenant_id=new_tenant_id, page_size=1))
    assert listed.resources[0].is_default and listed.next_page_token
    rest = await call(
        service.ListResources,
        pb.ListResourcesRequest(tenant_id=new_tenant_id, page_size=1, page_token=listed.next_page_token),
    )
    assert [r.name for r in rest.resources] == ["Ana Lopez"] and not rest.next_page_token


async def test_a_resource_booked_on_cannot_be_deleted_and_the_default_never(
    servicer: Servicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    service = servicer()
    default = await default_resource(service, new_tenant_id)
    with pytest.raises(PreconditionFailed):
        await call(
            service.DeleteResource, pb.DeleteResourceRequest(tenant_id=new_tenant_id, resource_id=default)
        )
    with pytest.raises(ValidationError):
        await call(
            service.UpdateResource,
            pb.UpdateResourceRequest(
                tenant_id=new_tenant_id,
                resource=pb.Resource(id=default, active=False),
                update_mask=["active"],
            ),
        )
    used = (
        await call(service.CreateResource, pb.CreateResourceRequest(tenant_id=new_tenant_id, name="Used"))
    ).resource
    await claim(admin, service._bookings, new_tenant_id, used.id, at(2), at(3), 1)
    with pytest.raises(Conflict) as in_use:
        await call(
            service.DeleteResource, pb.DeleteResourceRequest(tenant_id=new_tenant_id, resource_id=used.id)
        )
    assert in_use.value.reason == "IN_USE"
    spare = (
        await call(service.CreateResource, pb.CreateResourceRequest(tenant_id=new_tenant_id, name="Spare"))
    ).resource
    await open_sundays(service, new_tenant_id, spare.id)
    await call(
        service.DeleteResource, pb.DeleteResourceRequest(tenant_id=new_tenant_id, resource_id=spare.id)
    )
    with pytest.raises(NotFound):
        await call(
            service.GetOpeningHours, pb.GetOpeningHoursRequest(tenant_id=new_tenant_id, resource_id=spare.id)
        )


async def test_another_tenants_resource_is_not_found(servicer: Servicer, new_tenant_id: str) -> None:
    service = servicer()
    theirs = str(uuid.uuid4())
    other = await default_resource(service, theirs)
    with pytest.raises(NotFound):
        await call(
            service.GetOpeningHours, pb.GetOpeningHoursRequest(tenant_id=new_tenant_id, resource_id=other)
        )
    with pytest.raises(NotFound):
        await slots(
            service,
            new_tenant_id,
            "2027-06-06",
            terms=catalog_pb.SlotTerms(duration_minutes=60, interval_minutes=60, resource_id=other),
        )
    with pytest.raises(NotFound):
        await open_sundays(service, new_tenant_id, other)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekly", "exceptions", "field"),
    [
        ([pb.WeeklyHours(weekday=8, ranges=NIGHT)], [], "weekly[0].weekday"),
        ([pb.WeeklyHours(weekday=1, ranges=NIGHT), pb.WeeklyHours(weekday=1)], [], "weekly[1].weekday"),
        (
            [pb.WeeklyHours(weekday=1, ranges=[pb.TimeRange(opens="9:00", closes="12:00")])],
            [],
            "weekly[0].ranges[0].opens",
        ),
        (
            [pb.WeeklyHours(weekday=1, ranges=[pb.TimeRange(opens="12:00", closes="09:00")])],
            [],
            "weekly[0].ranges[0].closes",
        ),
        (
            [
                pb.WeeklyHours(
                    weekday=1,
                    ranges=[
                        pb.TimeRange(opens="09:00", closes="12:00"),
                        pb.TimeRange(opens="11:00", closes="13:00"),
                    ],
                )
            ],
            [],
            "weekly[0].ranges[1]",
        ),
        ([], [pb.HoursException(date="2027-13-01")], "exceptions[0].date"),
        ([], [pb.HoursException(date="2030-01-01")], "exceptions[0].date"),
        (
            [],
            [pb.HoursException(date="2027-06-06"), pb.HoursException(date="2027-06-06")],
            "exceptions[1].date",
        ),
    ],
)
async def test_bad_hours_name_their_field_and_change_nothing(
    servicer: Servicer,
    new_tenant_id: str,
    weekly: list[pb.WeeklyHours],
    exceptions: list[pb.HoursException],
    field: str,
) -> None:
    service = servicer()
    resource = await default_resource(service, new_tenant_id)
    await open_sundays(service, new_tenant_id, resource)
    with pytest.raises(ValidationError) as error:
        await call(
            service.SetOpeningHours,
            pb.SetOpeningHoursRequest(
                tenant_id=new_tenant_id,
                resource_id=resource,
                weekly=weekly,
                from_date="2027-06-01",
                to_date="2027-06-30",
                exceptions=exceptions,
            ),
        )
    assert field_of(error.value) == field
    hours = await call(
        service.GetOpeningHours, pb.GetOpeningHoursRequest(tenant_id=new_tenant_id, resource_id=resource)
    )
    assert [(w.weekday, [(r.opens, r.closes) for r in w.ranges]) for w in hours.weekly] == [
        (7, [("00:00", "06:00")])
    ]


@pytest.mark.parametrize(
    ("first", "last", "terms", "field"),
    [
        ("2027-06-01", "2027-07-02", HOURLY, "to"),
        ("2027-06-02", "2027-06-01", HOURLY, "to"),
        ("2027-06-xx", "2027-06-01", HOURLY, "from"),
        (
            "2027-06-01",
            "2027-06-01",
            catalog_pb.SlotTerms(duration_minutes=5, interval_minutes=60),
            "slot.durationMinutes",
        ),
        (
            "2027-06-01",
            "2027-06-01",
            catalog_pb.SlotTerms(duration_minutes=60, interval_minutes=1),
            "slot.intervalMinutes",
        ),
    ],
)
async def test_a_bad_slot_query_names_its_field(
    servicer: Servicer, new_tenant_id: str, first: str, last: str, terms: catalog_pb.SlotTerms, field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        await slots(servicer(), new_tenant_id, first, last, terms=terms)
    assert field_of(error.value) == field
