"""Hostile input chosen by hand, through Envoy: each kind is refused with the right status, a stable code
and the field it concerns, and changes nothing; or, where it is legitimate text, it is kept exactly and
stays harmless (in the database, in answers and in the emails it ends up in)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant
from tests.reliability.figures import Figures
from tests.reliability.shop import (
    Sandbox,
    Shop,
    a_free_day,
    assert_error,
    bookings_of,
    checkout,
    counting,
    envelope_problem,
    mail_to,
    open_shop,
    sign_webhook,
    wait_for,
)
from tools.stack.launcher import Stack

CATEGORY = "hostile input"


@pytest.fixture(scope="module")
def shop(api: httpx.Client, make_tenant: MakeTenant) -> Shop:
    return open_shop(api, make_tenant, "hand", add_ons=2)


@pytest.fixture
def sent(http: httpx.Client, figures: Figures) -> Iterator[httpx.Client]:
    """The public client, each answer counted in the figures (a 5xx or an error outside the envelope
    counts as a failure)."""
    with counting(http, figures, CATEGORY) as client:
        yield client


def _available(http: httpx.Client, shop: Shop, day: str) -> bool:
    answer = http.get("/v1/availability", params={"date": day}, headers=shop.tenant.public_headers())
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["available"])


# --- malformed bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"packageId": ', b"{'packageId': 'x'}", b"\xff\xfe\x00", b"[1, 2", b'{"a": 1}}', b"NaN"],
    ids=["truncated", "single-quotes", "not-utf8", "open-array", "trailing-brace", "bare-nan"],
)
def test_malformed_json_is_refused_as_a_validation_error_and_holds_nothing(
    sent: httpx.Client, shop: Shop, raw: bytes
) -> None:
    before = len(bookings_of(sent, shop))
    answer = sent.post(
        "/v1/bookings/checkout",
        content=raw,
        headers={**shop.tenant.public_headers(), "content-type": "application/json"},
    )
    assert_error(answer, 400, "VALIDATION_ERROR")
    assert len(bookings_of(sent, shop)) == before


def test_a_json_body_that_is_not_an_object_is_refused(sent: httpx.Client, shop: Shop) -> None:
    for body in ([shop.checkout_body(a_free_day())], "text", 42, None):
        answer = sent.post("/v1/bookings/checkout", json=body, headers=shop.tenant.public_headers())
        assert_error(answer, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"eventDate": 20270610}, "eventDate"),
        ({"eventDate": ["2027-06-10"]}, "eventDate"),
        ({"addOnIds": "one"}, "addOnIds"),
        ({"addOnIds": [1, 2]}, "addOnIds"),
        ({"coupleName": {"first": "Ana"}}, "coupleName"),
        ({"email": None}, "email"),
        ({"packageId": True}, "packageId"),
        ({"priceCents": 1}, "priceCents"),
    ],
    ids=[
        "date-number",
        "date-list",
        "add-ons-string",
        "add-ons-numbers",
        "name-object",
        "email-null",
        "package-bool",
        "client-price",
    ],
)
def test_wrong_types_and_unknown_fields_are_refused_naming_the_field(
    sent: httpx.Client, shop: Shop, change: dict[str, Any], field_name: str
) -> None:
    day = a_free_day()
    answer = sent.post(
        "/v1/bookings/checkout",
        json={**shop.checkout_body(day), **change},
        headers=shop.tenant.public_headers(),
    )
    assert_error(answer, 400, "VALIDATION_ERROR", field_name)
    assert _available(sent, shop, day)


@pytest.mark.parametrize(
    ("path", "body", "field_name"),
    [
        ("/v1/tenant-admin/packages", {"slug": "p-x", "title": "x", "priceCents": "100"}, "priceCents"),
        ("/v1/tenant-admin/packages", {"slug": "p-x", "title": "x", "priceCents": True}, "priceCents"),
        ("/v1/tenant-admin/packages", {"slug": "p-x", "title": "x", "priceCents": 1.5}, "priceCents"),
        (
            "/v1/tenant-admin/add-ons",
            {"slug": "a-x", "title": "x", "priceCents": 1, "packageIds": "x"},
            "packageIds",
        ),
        ("/v1/tenant-admin/blackouts", {"date": 20270101}, "date"),
    ],
)
def test_admin_bodies_of_the_wrong_type_are_refused_and_create_nothing(
    sent: httpx.Client, shop: Shop, path: str, body: dict[str, Any], field_name: str
) -> None:
    answer = sent.post(path, json=body, headers=shop.tenant.admin_headers())
    assert_error(answer, 400, "VALIDATION_ERROR", field_name)
    listed = sent.get(path, headers=shop.tenant.admin_headers())
    assert all(item.get("slug") not in ("p-x", "a-x") for item in listed.json()["items"])


@pytest.mark.parametrize("settings_change", [{"policy": {"minNoticeDays": True}}, {"name": 7}])
def test_settings_of_the_wrong_type_are_refused(sent: httpx.Client, shop: Shop, settings_change: Any) -> None:
    answer = sent.patch(
        "/v1/tenant-admin/settings", json=settings_change, headers=shop.tenant.admin_headers()
    )
    assert_error(answer, 400, "VALIDATION_ERROR")


# --- size limits ---------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_in_the_envelope_by_envoy_and_by_each_gateway(
    sent: httpx.Client, stack: Stack, shop: Shop
) -> None:
    big = b'{"coupleName": "' + b"x" * (1024 * 1024 + 100) + b'"}'
    headers = {**shop.tenant.public_headers(), "content-type": "application/json"}
    assert_error(sent.post("/v1/bookings/checkout", content=big, headers=headers), 413, "PAYLOAD_TOO_LARGE")
    # Behind Envoy each replica enforces the same limit itself (streamed, without Content-Length too).
    for port in (stack.ports.gateway, *stack.ports.extra_gateways):
        direct = httpx.post(f"http://127.0.0.1:{port}/v1/bookings/checkout", content=big, headers=headers)
        assert_error(direct, 413, "PAYLOAD_TOO_LARGE")
        chunked = httpx.post(
            f"http://127.0.0.1:{port}/v1/bookings/checkout",
            content=iter([big[:500_000], big[500_000:]]),
            headers=headers,
        )
        assert_error(chunked, 413, "PAYLOAD_TOO_LARGE")


def test_very_long_and_too_many_headers_are_refused_in_the_envelope(sent: httpx.Client, shop: Shop) -> None:
    assert_error(
        sent.get("/v1/tenant", headers={"X-Tenant-Key": "pk_live_" + "a" * 40_000}), 431, "HEADERS_TOO_LARGE"
    )
    many = {**shop.tenant.public_headers(), **{f"X-Filler-{n}": "v" for n in range(120)}}
    assert_error(sent.get("/v1/tenant", headers=many), 431, "HEADERS_TOO_LARGE")
    # Long, but under the proxy's limit: each check answers for itself.
    assert_error(
        sent.get("/v1/tenant", headers={"X-Tenant-Key": "pk_live_" + "a" * 8_000}), 401, "INVALID_TENANT_KEY"
    )
    assert_error(
        sent.get("/v1/auth/me", headers={"Authorization": "Bearer " + "a" * 8_000}), 401, "UNAUTHENTICATED"
    )
    day = a_free_day()
    long_key = {**shop.tenant.public_headers(), "Idempotency-Key": "k" * 300}
    answer = sent.post("/v1/bookings/checkout", json=shop.checkout_body(day), headers=long_key)
    assert_error(answer, 400, "VALIDATION_ERROR", "Idempotency-Key")
    assert _available(sent, shop, day)


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "2027-02-30",
        "2027-13-01",
        "2027-00-10",
        "2027-2-3",
        "tomorrow",
        "10000-01-01",
        "2027-06-10T00:00:00Z",
        "\uff12\uff10\uff12\uff17-\uff10\uff16-\uff11\uff10",
    ],
)
def test_impossible_and_malformed_dates_are_refused_naming_the_field_everywhere(
    sent: httpx.Client, shop: Shop, bad: str
) -> None:
    public, admin = shop.tenant.public_headers(), shop.tenant.admin_headers()
    assert_error(
        sent.post("/v1/bookings/checkout", json=shop.checkout_body(bad), headers=public),
        400,
        "VALIDATION_ERROR",
        "eventDate",
    )
    assert_error(
        sent.get("/v1/availability", params={"date": bad}, headers=public), 400, "VALIDATION_ERROR", "date"
    )
    calendar = sent.get("/v1/availability/calendar", params={"from": bad, "to": "2027-07-01"}, headers=public)
    assert_error(calendar, 400, "VALIDATION_ERROR", "from")
    assert_error(
        sent.post("/v1/tenant-admin/blackouts", json={"date": bad}, headers=admin),
        400,
        "VALIDATION_ERROR",
        "date",
    )
    bookings = sent.get("/v1/tenant-admin/bookings", params={"from": bad}, headers=admin)
    assert_error(bookings, 400, "VALIDATION_ERROR", "from")


def test_past_and_far_future_dates_are_unavailable_rather_than_errors(sent: httpx.Client, shop: Shop) -> None:
    public = shop.tenant.public_headers()
    today = datetime.now(UTC).date()
    cases = {
        "2020-01-01": "past",
        (today - timedelta(days=1)).isoformat(): "past",
        (today + timedelta(days=800)).isoformat(): "out_of_range",
        "9999-12-31": "out_of_range",
        "0001-01-01": "past",
    }
    for day, reason in cases.items():
        answer = sent.get("/v1/availability", params={"date": day}, headers=public)
        assert answer.status_code == 200, f"{day}: {answer.text}"
        assert answer.json() == {"date": day, "available": False, "reason": reason}
        refused = sent.post("/v1/bookings/checkout", json=shop.checkout_body(day), headers=public)
        assert_error(refused, 409, "DATE_UNAVAILABLE")
    edge = sent.get(
        "/v1/availability/calendar", params={"from": "9999-12-01", "to": "9999-12-31"}, headers=public
    )
    assert edge.status_code == 200, edge.text
    assert len(edge.json()["unavailable"]) == 31


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("price", [-1, 100_000_000, 10**12, 2**63, 2**64, -(2**63) - 1])
def test_prices_out_of_range_are_refused_naming_the_field(sent: httpx.Client, shop: Shop, price: int) -> None:
    answer = sent.post(
        "/v1/tenant-admin/packages",
        json={"slug": f"p-{uuid.uuid4().hex[:6]}", "title": "Too much", "priceCents": price},
        headers=shop.tenant.admin_headers(),
    )
    assert_error(answer, 400, "VALIDATION_ERROR", "priceCents")


@pytest.mark.parametrize("limit", ["0", "101", "-1", "1e3", "10000000000000000000000000", "abc", ""])
def test_page_sizes_out_of_range_are_refused(sent: httpx.Client, shop: Shop, limit: str) -> None:
    for path in (
        "/v1/tenant-admin/bookings",
        "/v1/tenant-admin/packages",
        "/v1/tenant-admin/blackouts",
        "/v1/tenant-admin/payments/events",
    ):
        answer = sent.get(path, params={"limit": limit}, headers=shop.tenant.admin_headers())
        assert_error(answer, 400, "VALIDATION_ERROR", "limit")


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({"policy": {"minNoticeDays": 51_446_481_579}}, "policy.minNoticeDays"),
        ({"policy": {"holdMinutes": -(2**40)}}, "policy.holdMinutes"),
        ({"policy": {"maxAdvanceDays": 100_000}}, "policy.maxAdvanceDays"),
        ({"version": 2**64}, "version"),
    ],
)
def test_settings_numbers_out_of_range_are_refused(
    sent: httpx.Client, shop: Shop, body: dict[str, Any], field_name: str
) -> None:
    before = sent.get("/v1/tenant-admin/settings", headers=shop.tenant.admin_headers()).json()
    answer = sent.patch("/v1/tenant-admin/settings", json=body, headers=shop.tenant.admin_headers())
    assert_error(answer, 400, "VALIDATION_ERROR", field_name)
    assert sent.get("/v1/tenant-admin/settings", headers=shop.tenant.admin_headers()).json() == before


def test_a_key_rotation_grace_out_of_range_is_refused_and_keeps_the_keys(
    sent: httpx.Client, shop: Shop
) -> None:
    for grace in (456_645_792_402, -1, "soon"):
        answer = sent.post(
            "/v1/tenant-admin/api-keys/rotate",
            json={"graceSeconds": grace},
            headers=shop.tenant.admin_headers(),
        )
        assert_error(answer, 400, "VALIDATION_ERROR", "graceSeconds")
    assert sent.get("/v1/tenant", headers=shop.tenant.public_headers()).status_code == 200


@pytest.mark.parametrize("percent", [50.01, -1, 1e308, "ten", 10.001])
def test_commissions_out_of_range_are_refused(sent: httpx.Client, platform_token: str, percent: Any) -> None:
    slug = f"bad-{uuid.uuid4().hex[:6]}"
    answer = sent.post(
        "/v1/admin/tenants",
        json={"slug": slug, "name": "Bad", "commissionPercent": percent, "adminEmail": f"a@{slug}.example"},
        headers={"Authorization": f"Bearer {platform_token}"},
    )
    assert_error(answer, 400, "VALIDATION_ERROR", "commissionPercent")


def test_twenty_one_add_ons_are_refused_and_twenty_repeated_ones_too(sent: httpx.Client, shop: Shop) -> None:
    day = a_free_day()
    public = shop.tenant.public_headers()
    many = shop.checkout_body(day, addOnIds=[str(uuid.uuid4()) for _ in range(21)])
    assert_error(
        sent.post("/v1/bookings/checkout", json=many, headers=public), 400, "VALIDATION_ERROR", "addOnIds"
    )
    repeated = shop.checkout_body(day, addOnIds=[shop.add_on_ids[0]] * 20)
    assert_error(
        sent.post("/v1/bookings/checkout", json=repeated, headers=public), 400, "VALIDATION_ERROR", "addOnIds"
    )
    assert _available(sent, shop, day)


# --- text ----------------------------------------------------------------------------------------


def test_nul_characters_are_refused_naming_the_field_wherever_they_come_in(
    sent: httpx.Client, shop: Shop
) -> None:
    public, admin = shop.tenant.public_headers(), shop.tenant.admin_headers()
    day = a_free_day()
    assert_error(
        sent.post(
            "/v1/bookings/checkout", json=shop.checkout_body(day, coupleName="Ana\x00Bo"), headers=public
        ),
        400,
        "VALIDATION_ERROR",
        "coupleName",
    )
    assert_error(
        sent.post("/v1/auth/login", json={"email": "a\x00b@example.com", "password": "x"}),
        400,
        "VALIDATION_ERROR",
        "email",
    )
    assert_error(
        sent.get("/v1/tenant-admin/bookings", params={"email": "a\x00"}, headers=admin),
        400,
        "VALIDATION_ERROR",
        "email",
    )
    assert_error(sent.get("/v1/tenant-admin/bookings/bk_%00", headers=admin), 400, "VALIDATION_ERROR")
    assert_error(
        sent.post(
            "/v1/tenant-admin/packages",
            json={"slug": "nul", "title": "a\x00", "priceCents": 1},
            headers=admin,
        ),
        400,
        "VALIDATION_ERROR",
        "title",
    )
    assert _available(sent, shop, day)


def test_lone_surrogates_are_refused_as_invalid_text(sent: httpx.Client, shop: Shop) -> None:
    raw = b'{"email": "a\\ud800b@example.com", "password": "x"}'
    answer = sent.post("/v1/auth/login", content=raw, headers={"content-type": "application/json"})
    assert_error(answer, 400, "VALIDATION_ERROR", "email")


def test_unicode_and_emoji_names_are_kept_exactly(sent: httpx.Client, shop: Shop) -> None:
    name = "Zoë & Łukasz 李 💍 נועה"
    title = "Élopement au château 🏰"
    created = sent.post(
        "/v1/tenant-admin/packages",
        json={"slug": f"u-{uuid.uuid4().hex[:6]}", "title": title, "priceCents": 500, "active": True},
        headers=shop.tenant.admin_headers(),
    )
    assert created.status_code == 201, created.text
    assert created.json()["title"] == title
    answer = sent.post(
        "/v1/bookings/checkout",
        json={
            **shop.checkout_body(a_free_day(), coupleName=name),
            "packageId": created.json()["id"],
            "addOnIds": [],
        },
        headers=shop.tenant.public_headers(),
    )
    assert answer.status_code == 201, answer.text
    booking = sent.get(
        f"/v1/tenant-admin/bookings/{answer.json()['bookingId']}", headers=shop.tenant.admin_headers()
    ).json()
    assert booking["coupleName"] == name
    assert booking["quote"]["lines"][0]["title"] == title


SQL_LOOKING = [
    "Robert'); DROP TABLE packages;--",
    "' OR '1'='1",
    "1; SELECT pg_sleep(10) --",
    "$$ ; COMMIT; $$",
]


def test_sql_looking_strings_are_stored_verbatim_and_harm_nothing(sent: httpx.Client, shop: Shop) -> None:
    admin = shop.tenant.admin_headers()
    for text in SQL_LOOKING:
        created = sent.post(
            "/v1/tenant-admin/packages",
            json={"slug": f"s-{uuid.uuid4().hex[:6]}", "title": text, "description": text, "priceCents": 100},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        again = sent.get(f"/v1/tenant-admin/packages/{created.json()['id']}", headers=admin).json()
        assert (again["title"], again["description"]) == (text, text)
        blackout = sent.post(
            "/v1/tenant-admin/blackouts", json={"date": a_free_day(), "reason": text}, headers=admin
        )
        assert blackout.status_code == 201, blackout.text
        assert blackout.json()["reason"] == text
        booked = checkout(sent, shop, a_free_day(), notes=text, coupleName=text[:60])
        assert booked.status_code == 201, booked.text
        # As filters they match nothing rather than everything.
        filtered = sent.get("/v1/tenant-admin/bookings", params={"email": text}, headers=admin)
        assert filtered.status_code in (200, 400), filtered.text
        if filtered.status_code == 200:
            assert filtered.json()["items"] == []
        assert sent.get(f"/v1/packages/{text}", headers=shop.tenant.public_headers()).status_code == 404
    listed = sent.get("/v1/tenant-admin/packages", params={"limit": 100}, headers=admin)
    assert listed.status_code == 200
    assert {p["title"] for p in listed.json()["items"]} >= set(SQL_LOOKING)


def test_html_and_crlf_in_names_are_escaped_in_emails_and_add_no_headers(
    sent: httpx.Client, stack: Stack, make_tenant: MakeTenant, platform_token: str
) -> None:
    evil = make_tenant("evil")
    renamed = sent.patch(
        "/v1/tenant-admin/settings",
        json={"name": 'Bella <i>Events</i>\r\nBcc: thief@evil.example & "Co"'},
        headers=evil.admin_headers(),
    )
    assert renamed.status_code == 200, renamed.text
    assert "\r" not in renamed.json()["name"] and "\n" not in renamed.json()["name"]
    package = sent.post(
        "/v1/tenant-admin/packages",
        json={"slug": "evil", "title": "<img src=x onerror=alert(1)>", "priceCents": 5_000, "active": True},
        headers=evil.admin_headers(),
    )
    assert package.status_code == 201, package.text
    couple = f"evil-{uuid.uuid4().hex[:8]}@example.com"
    crlf = {
        "packageId": package.json()["id"],
        "eventDate": a_free_day(),
        "email": couple,
        "coupleName": "Ana\r\nBcc: thief@evil.example",
    }
    assert_error(
        sent.post("/v1/bookings/checkout", json=crlf, headers=evil.public_headers()),
        400,
        "VALIDATION_ERROR",
        "coupleName",
    )
    body = {
        **crlf,
        "coupleName": '<script>alert("x")</script> Ana & Bo',
        "notes": "first\r\nBcc: x@evil.example",
    }
    started = sent.post("/v1/bookings/checkout", json=body, headers=evil.public_headers())
    assert started.status_code == 201, started.text
    sandbox = Sandbox(stack)
    try:
        assert sandbox.pay(started.json()["checkoutUrl"]).status_code == 200
    finally:
        sandbox.close()
    message = wait_for(lambda: mail_to(stack, couple), "the confirmation email")
    assert set(message.keys()) <= {
        "From",
        "To",
        "Reply-To",
        "Date",
        "Subject",
        "Message-ID",
        "X-MAIS-Tag",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    }
    assert "thief@evil.example" not in str(message.get_all("To")) + str(message.get_all("Bcc"))
    assert message["Subject"].count("\n") == 0
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    page = html_part.get_content()
    for raw in ("<script>", "<img src=x", "<i>Events</i>"):
        assert raw not in page
    assert "&lt;script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- webhooks (signed with the endpoint's secret, so only their shape is hostile) -------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"hello", 400),
        (b"[]", 400),
        (b'"event"', 400),
        (b"42", 400),
        (b"{}", 400),
        (b'{"id": "evt_1", "type": "checkout.session.completed"}', 400),
        (b'{"id": "evt_2", "type": "checkout.session.completed", "data": "x"}', 400),
        (b'{"id": 5, "type": ["x"], "data": {"object": []}}', 400),
        (
            b'{"id": "evt_' + b"x" * 5000 + b'", "type": "checkout.session.expired", "data": {"object": {}}}',
            400,
        ),
        (b'{"id": "evt_\\u0000", "type": "checkout.session.expired", "data": {"object": {}}}', 400),
        (b'{"id": "evt_ok", "type": "checkout.session.\\u0000", "data": {"object": {}}}', 400),
        (
            b'{"id": "evt_unknown_type_1", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}',
            200,
        ),
    ],
    ids=[
        "not-json",
        "array",
        "string",
        "number",
        "empty",
        "no-data",
        "data-not-object",
        "wrong-types",
        "huge-id",
        "nul-id",
        "nul-type",
        "unknown-type",
    ],
)
def test_signed_webhooks_of_any_shape_are_refused_or_acknowledged_never_a_5xx(
    sent: httpx.Client, stack: Stack, raw: bytes, status: int
) -> None:
    answer = sent.post(
        "/v1/webhooks/stripe",
        content=raw,
        headers={
            "Stripe-Signature": sign_webhook(raw, stack.options.webhook_secret),
            "content-type": "application/json",
        },
    )
    assert answer.status_code == status, answer.text
    assert envelope_problem(answer) is None, envelope_problem(answer)
