"""The calendar feed on a real PostgreSQL, as the booking role: the token is stored only as its hash,
the same token until rotated, a rotation stops the old token at once (a retried rotation does not rotate
again), and a token opens only its own tenant's CONFIRMED bookings."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest

from mais_runtime.errors import NotFound
from services.booking import feeds
from services.booking.use_cases import Bookings
from tests.integration.test_booking_store import booking_db, confirm, hold, store

__all__ = ["booking_db", "store"]


async def test_a_feed_token_is_made_once_stored_hashed_and_rotated(
    store: Bookings, admin: asyncpg.Connection
) -> None:
    tenant = str(uuid.uuid4())
    token = await store.calendar_feed_token(tenant)
    assert feeds.well_formed(token)
    assert await store.calendar_feed_token(tenant) == token
    stored = await admin.fetchval(
        "SELECT token_hash FROM booking.calendar_feeds WHERE tenant_id = $1", uuid.UUID(tenant)
    )
    assert bytes(stored) == feeds.token_hash(token) and token.encode() not in bytes(stored)

    rotated = await store.rotate_calendar_feed(tenant, "r1")
    assert rotated != token
    assert await store.rotate_calendar_feed(tenant, "r1") == rotated
    assert await store.calendar_feed_token(tenant) == rotated
    with pytest.raises(NotFound):
        await store.calendar_feed(token)
    assert (await store.calendar_feed(rotated))[0] == tenant
    again = await store.rotate_calendar_feed(tenant, "")
    assert again not in (token, rotated)


async def test_a_token_opens_only_its_tenants_confirmed_bookings(store: Bookings) -> None:
    ours, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    kept = await hold(store, ours, date(2032, 3, 1), n=1)
    await confirm(store, ours, kept.id, f"cs_{uuid.uuid4().hex}")
    await hold(store, ours, date(2032, 3, 2), n=2)
    other = await hold(store, theirs, date(2032, 3, 1), n=3)
    await confirm(store, theirs, other.id, f"cs_{uuid.uuid4().hex}")

    tenant, events = await store.calendar_feed(await store.calendar_feed_token(ours))
    assert tenant == ours
    assert [(e.booking_id, e.event_date, e.couple_name, e.starts_at) for e in events] == [
        (kept.id, date(2032, 3, 1), "Couple 1", None)
    ]
    for bad in ("", "x" * 43, "A" * 43 + "=", "../" * 15):
        with pytest.raises(NotFound):
            await store.calendar_feed(bad)
