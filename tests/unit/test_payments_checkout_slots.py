"""A time-slot checkout's input: the start is what the couple chose; the event date, when left out,
is the start's date in the business's calendar (a late-evening start in New York is the next day in
UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from mais_runtime.errors import ValidationError
from services.payments.domain.checkout import CheckoutInput


def checkout(**extra: object) -> CheckoutInput:
    fields: dict[str, object] = {
        "package_id": "pkg_shoot",
        "add_on_ids": [],
        "event_date": "",
        "couple_name": "Ana & Bo",
        "email": "Ana@Example.com",
        "phone": "",
        "notes": "",
        **extra,
    }
    return CheckoutInput.checked(**fields)  # type: ignore[arg-type]


def test_a_slot_checkout_without_a_date_is_dated_by_its_start_in_the_tenants_zone() -> None:
    start = datetime(2027, 6, 13, 1, 30, tzinfo=UTC)  # 21:30 on 12 June in New York
    dated = checkout(starts_at=start).on_local_date(ZoneInfo("America/New_York"))
    assert (dated.event_date, dated.starts_at) == (date(2027, 6, 12), start)


def test_a_given_date_is_kept_for_booking_to_check_against_the_start() -> None:
    start = datetime(2027, 6, 13, 1, 30, tzinfo=UTC)
    dated = checkout(starts_at=start, event_date="2027-06-13").on_local_date(ZoneInfo("America/New_York"))
    assert dated.event_date == date(2027, 6, 13)


def test_a_whole_day_checkout_still_needs_its_date_and_the_start_changes_the_fingerprint() -> None:
    with pytest.raises(ValidationError) as caught:
        checkout()
    assert [v.field for v in caught.value.fields] == ["eventDate"]
    start = datetime(2027, 6, 13, 1, 30, tzinfo=UTC)
    later = datetime(2027, 6, 13, 2, 0, tzinfo=UTC)
    assert checkout(starts_at=start).fingerprint() != checkout(starts_at=later).fingerprint()
