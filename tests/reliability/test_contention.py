"""No date is sold twice, however many couples want it at the same moment: real concurrent checkouts
through Envoy, two gateway replicas and the real database, each couple from its own address."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from tests.e2e.conftest import MakeTenant
from tests.reliability.conftest import Size
from tests.reliability.figures import Figures
from tests.reliability.shop import (
    Sandbox,
    Shop,
    a_free_day,
    checkout_burst,
    database_log,
    envelope_problem,
    live_bookings,
    open_shop,
    wait_for,
)
from tools.stack.launcher import Stack

CATEGORY = "contention"


def _tally(figures: Figures, answers: list[httpx.Response]) -> Counter[tuple[int, str]]:
    """(status, error code) counts; every answer is counted in the figures."""
    seen: Counter[tuple[int, str]] = Counter()
    for answer in answers:
        problem = envelope_problem(answer)
        expected = answer.status_code == 201 or (answer.status_code == 409 and problem is None)
        figures.request(CATEGORY, answer.status_code, ok=expected)
        code = answer.json().get("error", "") if answer.status_code >= 400 and problem is None else ""
        seen[(answer.status_code, code)] += 1
    return seen


def _check_one_live_booking(http: httpx.Client, figures: Figures, shop: Shop, day: str) -> None:
    live = live_bookings(http, shop, day)
    if len(live) > 1:
        figures.double_bookings += len(live) - 1
    assert len(live) == 1, f"{day} is occupied by {len(live)} bookings: {[b['id'] for b in live]}"


@pytest.fixture(scope="module")
def log_start(stack: Stack) -> int:
    """Where the database log stood before this module's bursts."""
    return len(database_log(stack))


def test_a_hundred_couples_at_once_for_one_date_get_one_hold_and_ninety_nine_date_unavailable(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, figures: Figures, log_start: int
) -> None:
    shop = open_shop(api, make_tenant, "crowd")
    day = a_free_day()
    answers = asyncio.run(checkout_burst(stack, [(shop, shop.checkout_body(day)) for _ in range(100)]))
    tally = _tally(figures, answers)
    assert tally == Counter({(201, ""): 1, (409, "DATE_UNAVAILABLE"): 99}), tally
    _check_one_live_booking(api, figures, shop, day)
    # Once the winner has paid, a second wave finds the date booked.
    winner = next(a.json() for a in answers if a.status_code == 201)
    sandbox = Sandbox(stack)
    try:
        assert sandbox.pay(winner["checkoutUrl"]).status_code == 200
    finally:
        sandbox.close()
    wait_for(lambda: live_bookings(api, shop, day)[0]["status"] == "CONFIRMED", "the winner's confirmation")
    again = asyncio.run(checkout_burst(stack, [(shop, shop.checkout_body(day)) for _ in range(20)]))
    assert _tally(figures, again) == Counter({(409, "DATE_UNAVAILABLE"): 20})
    _check_one_live_booking(api, figures, shop, day)


def test_ten_dates_sold_at_once_each_go_to_exactly_one_couple(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, figures: Figures, size: Size
) -> None:
    shop = open_shop(api, make_tenant, "ten")
    days = [a_free_day() for _ in range(10)]
    requests = [(shop, shop.checkout_body(day)) for day in days for _ in range(size.buyers_per_date)]
    answers = asyncio.run(checkout_burst(stack, requests))
    _tally(figures, answers)
    won: Counter[str] = Counter()
    for (_, body), answer in zip(requests, answers, strict=True):
        assert answer.status_code in (201, 409), answer.text
        if answer.status_code == 201:
            won[body["eventDate"]] += 1
        else:
            assert answer.json()["error"] == "DATE_UNAVAILABLE"
    assert won == Counter({day: 1 for day in days}), won
    for day in days:
        _check_one_live_booking(api, figures, shop, day)


def test_two_tenants_selling_the_same_date_at_once_both_sell_it(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, figures: Figures
) -> None:
    first, second = open_shop(api, make_tenant, "same-a"), open_shop(api, make_tenant, "same-b")
    day = a_free_day()
    requests = [(shop, shop.checkout_body(day)) for _ in range(10) for shop in (first, second)]
    answers = asyncio.run(checkout_burst(stack, requests))
    _tally(figures, answers)
    won = Counter(
        shop.tenant.id for (shop, _), a in zip(requests, answers, strict=True) if a.status_code == 201
    )
    assert won == Counter({first.tenant.id: 1, second.tenant.id: 1}), won
    for shop in (first, second):
        _check_one_live_booking(api, figures, shop, day)


def test_the_bursts_left_no_deadlock_in_the_database_log(stack: Stack, log_start: int) -> None:
    if stack.postgres is None:
        pytest.skip("the database log is not ours to read (DATABASE_URL)")
    since = database_log(stack)[log_start:]
    assert "deadlock detected" not in since
    for service in ("booking", "payments"):
        assert "deadlock detected" not in (stack.data_dir / "logs" / f"{service}.log").read_text()
