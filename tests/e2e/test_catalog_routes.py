"""The catalog over HTTP through Envoy, against the whole running platform: a tenant admin's
segments, packages and add-ons, the widget's public reads, validation per field, slugs, optimistic
concurrency, tenant isolation, deletion of a package that was sold, and freshness on every gateway."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant, TenantHandle, eventually
from tools.stack.launcher import Stack

FRESHNESS_PROMISE_SECONDS = 1.0


def create(http: httpx.Client, tenant: TenantHandle, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(f"/v1/tenant-admin/{kind}", json=body, headers=tenant.admin_headers())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def package_body(slug: str = "garden", price: int = 150000, **more: Any) -> dict[str, Any]:
    return {"slug": slug, "title": f"Package {slug}", "priceCents": price, **more}


def error(answer: httpx.Response) -> tuple[int, str, list[str]]:
    body = answer.json()
    return answer.status_code, body["error"], [f["field"] for f in body.get("fields", [])]


@pytest.fixture
def tenant(make_tenant: MakeTenant) -> TenantHandle:
    return make_tenant("cat")


def onboard(stack: Stack, http: httpx.Client, tenant: TenantHandle) -> None:
    """Connect onboarding through the sandbox, so the tenant's checkouts can be paid."""
    started = http.post("/v1/tenant-admin/stripe/connect", headers=tenant.admin_headers())
    assert started.status_code == 200, started.text
    account = started.json()["stripeAccountId"]
    with httpx.Client(base_url=stack.sandbox_url, timeout=10.0, trust_env=False) as sandbox:
        assert sandbox.post(f"/_sandbox/accounts/{account}/onboard").status_code < 300
    assert eventually(
        lambda: (
            http.get("/v1/tenant-admin/stripe/connect", headers=tenant.admin_headers()).json()["connectState"]
            == "onboarded"
        ),
        20.0,
    )


def checkout(http: httpx.Client, tenant: TenantHandle, package_id: str, *add_on_ids: str) -> httpx.Response:
    """A couple's checkout of the package on a date of their own (the answer carries the quote)."""
    day = (datetime.now(UTC) + timedelta(days=60 + secrets.randbelow(200))).date().isoformat()
    return http.post(
        "/v1/bookings/checkout",
        json={
            "packageId": package_id,
            "addOnIds": list(add_on_ids),
            "eventDate": day,
            "coupleName": "Ada & Bo",
            "email": f"couple-{uuid.uuid4().hex[:8]}@example.com",
        },
        headers=tenant.public_headers(),
    )


# --- the widget ----------------------------------------------------------------------------------


def test_couples_see_active_packages_with_their_active_add_ons_and_prices(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    line = create(http, tenant, "segments", {"slug": "weddings", "name": "Weddings"})
    garden = create(
        http,
        tenant,
        "packages",
        package_body(
            "garden",
            150000,
            description="A day in the garden",
            segmentId=line["id"],
            sortOrder=1,
            maxGuests=80,
            photos=[{"url": "https://img.example.com/garden.jpg", "alt": "The garden at dusk"}],
        ),
    )
    create(http, tenant, "packages", package_body("elopement", 90000, sortOrder=0))
    create(http, tenant, "packages", package_body("retired", 1000, active=False))
    create(
        http,
        tenant,
        "add-ons",
        {"slug": "flowers", "title": "Flowers", "priceCents": 25000, "packageIds": [garden["id"]]},
    )
    create(
        http,
        tenant,
        "add-ons",
        {
            "slug": "drone",
            "title": "Drone",
            "priceCents": 40000,
            "active": False,
            "packageIds": [garden["id"]],
        },
    )

    listed = http.get("/v1/packages", headers=tenant.public_headers())
    assert listed.status_code == 200, listed.text
    assert [p["slug"] for p in listed.json()["items"]] == ["elopement", "garden"]
    assert listed.json()["nextCursor"] is None

    one = http.get("/v1/packages/garden", headers=tenant.public_headers())
    assert one.status_code == 200, one.text
    body = one.json()
    assert {k: body[k] for k in ("slug", "priceCents", "currency", "maxGuests", "segmentId")} == {
        "slug": "garden",
        "priceCents": 150000,
        "currency": "usd",
        "maxGuests": 80,
        "segmentId": line["id"],
    }
    assert body["photos"] == [{"url": "https://img.example.com/garden.jpg", "alt": "The garden at dusk"}]
    assert [(a["slug"], a["priceCents"]) for a in body["addOns"]] == [("flowers", 25000)]
    assert "version" not in body and "active" not in body

    assert error(http.get("/v1/packages/retired", headers=tenant.public_headers()))[:2] == (404, "NOT_FOUND")
    assert error(http.get("/v1/packages/Not A Slug", headers=tenant.public_headers()))[:2] == (
        404,
        "NOT_FOUND",
    )


def test_public_reads_need_a_valid_public_key(http: httpx.Client) -> None:
    assert error(http.get("/v1/packages"))[:2] == (401, "TENANT_KEY_REQUIRED")
    bad_key = {"X-Tenant-Key": "pk_live_nobody_" + "0" * 32}
    assert error(http.get("/v1/packages", headers=bad_key))[:2] == (401, "INVALID_TENANT_KEY")


def test_two_tenants_with_the_same_slug_see_only_their_own_packages(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    first, second = make_tenant("cat"), make_tenant("cat")
    create(http, first, "packages", package_body("garden", 100000))
    create(http, second, "packages", package_body("garden", 250000))
    create(http, second, "packages", package_body("barn", 50000))

    for _ in range(2):  # cold, then from the catalog's cache
        assert http.get("/v1/packages/garden", headers=first.public_headers()).json()["priceCents"] == 100000
        assert http.get("/v1/packages/garden", headers=second.public_headers()).json()["priceCents"] == 250000
        assert [
            p["slug"] for p in http.get("/v1/packages", headers=first.public_headers()).json()["items"]
        ] == ["garden"]
        assert error(http.get("/v1/packages/barn", headers=first.public_headers()))[0] == 404
    admin_list = http.get("/v1/tenant-admin/packages", headers=first.admin_headers()).json()["items"]
    assert [(p["slug"], p["priceCents"]) for p in admin_list] == [("garden", 100000)]


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("price", [0, 99_999_999])
def test_prices_at_the_bounds_are_accepted(http: httpx.Client, tenant: TenantHandle, price: int) -> None:
    # At 0 only as a draft: a package on offer needs a price.
    body = package_body(f"p-{price}", price, active=price > 0)
    assert create(http, tenant, "packages", body)["priceCents"] == price


def test_a_zero_cent_package_cannot_be_published_and_a_draft_at_zero_can_wait(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    headers = tenant.admin_headers()
    published = http.post("/v1/tenant-admin/packages", json=package_body("free", 0), headers=headers)
    assert error(published) == (400, "VALIDATION_ERROR", ["priceCents"])
    draft = create(http, tenant, "packages", package_body("free", 0, active=False))
    activated = http.patch(f"/v1/tenant-admin/packages/{draft['id']}", json={"active": True}, headers=headers)
    assert error(activated) == (400, "VALIDATION_ERROR", ["priceCents"])
    on_offer = create(http, tenant, "packages", package_body("garden", 150000))
    zeroed = http.patch(
        f"/v1/tenant-admin/packages/{on_offer['id']}", json={"priceCents": 0}, headers=headers
    )
    assert error(zeroed) == (400, "VALIDATION_ERROR", ["priceCents"])

    # Nothing changed, and couples never saw a free package.
    stored = {p["slug"]: p for p in http.get("/v1/tenant-admin/packages", headers=headers).json()["items"]}
    assert (stored["free"]["active"], stored["free"]["version"]) == (False, 1)
    assert (stored["garden"]["priceCents"], stored["garden"]["version"]) == (150000, 1)
    assert [p["slug"] for p in http.get("/v1/packages", headers=tenant.public_headers()).json()["items"]] == [
        "garden"
    ]
    # Priced, the draft may go on offer.
    priced = http.patch(
        f"/v1/tenant-admin/packages/{draft['id']}", json={"active": True, "priceCents": 5000}, headers=headers
    )
    assert priced.status_code == 200, priced.text


@pytest.mark.parametrize("price", [-1, 100_000_000, 10**30, "150000", 1.5])
def test_a_price_outside_the_bounds_or_not_whole_cents_is_refused_naming_price_cents(
    http: httpx.Client, tenant: TenantHandle, price: Any
) -> None:
    answer = http.post(
        "/v1/tenant-admin/packages", json=package_body("garden", price), headers=tenant.admin_headers()
    )
    assert error(answer) == (400, "VALIDATION_ERROR", ["priceCents"])
    assert http.get("/v1/tenant-admin/packages", headers=tenant.admin_headers()).json()["items"] == []


def test_every_bad_field_is_named_and_nothing_is_created(http: httpx.Client, tenant: TenantHandle) -> None:
    answer = http.post(
        "/v1/tenant-admin/packages",
        json={
            "slug": "Not A Slug",
            "title": " ",
            "priceCents": -5,
            "maxGuests": -2,
            "photos": [{"url": "javascript:alert(1)"}],
            "segmentId": str(uuid.uuid4()),
        },
        headers=tenant.admin_headers(),
    )
    status, code, fields = error(answer)
    assert (status, code) == (400, "VALIDATION_ERROR")
    # A photo needs a description too (what a screen reader says of it).
    assert sorted(fields) == sorted(
        ["slug", "title", "priceCents", "maxGuests", "photos[0].url", "photos[0].alt"]
    )
    # A well-formed package in a segment that does not exist is refused on its own.
    answer = http.post(
        "/v1/tenant-admin/packages",
        json=package_body(segmentId=str(uuid.uuid4())),
        headers=tenant.admin_headers(),
    )
    assert error(answer) == (400, "VALIDATION_ERROR", ["segmentId"])
    unknown_field = http.post(
        "/v1/tenant-admin/packages", json=package_body(price_cents=1), headers=tenant.admin_headers()
    )
    assert error(unknown_field)[:2] == (400, "VALIDATION_ERROR")
    assert http.get("/v1/tenant-admin/packages", headers=tenant.admin_headers()).json()["items"] == []


@pytest.mark.parametrize("kind", ["segments", "packages", "add-ons"])
def test_a_taken_slug_is_409_slug_taken(http: httpx.Client, tenant: TenantHandle, kind: str) -> None:
    body = {
        "segments": {"slug": "garden", "name": "Garden"},
        "packages": package_body("garden"),
        "add-ons": {"slug": "garden", "title": "Garden", "priceCents": 100},
    }[kind]
    create(http, tenant, kind, body)
    answer = http.post(f"/v1/tenant-admin/{kind}", json=body, headers=tenant.admin_headers())
    assert error(answer) == (409, "SLUG_TAKEN", ["slug"])


def test_an_add_on_cannot_be_offered_with_another_tenants_package(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    owner, other = make_tenant("cat"), make_tenant("cat")
    theirs = create(http, other, "packages", package_body())
    mine = create(http, owner, "packages", package_body())
    answer = http.post(
        "/v1/tenant-admin/add-ons",
        json={
            "slug": "flowers",
            "title": "Flowers",
            "priceCents": 100,
            "packageIds": [mine["id"], theirs["id"]],
        },
        headers=owner.admin_headers(),
    )
    assert error(answer) == (400, "VALIDATION_ERROR", ["packageIds[1]"])


# --- lists ---------------------------------------------------------------------------------------


def test_admin_lists_page_with_a_cursor_and_bound_the_page_size(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    for n in range(5):
        create(http, tenant, "add-ons", {"slug": f"extra-{n}", "title": f"Extra {n}", "priceCents": n})
    seen: list[str] = []
    cursor: str | None = ""
    while cursor is not None:
        page = http.get(
            "/v1/tenant-admin/add-ons", params={"limit": 2, "cursor": cursor}, headers=tenant.admin_headers()
        ).json()
        assert len(page["items"]) <= 2
        seen += [a["slug"] for a in page["items"]]
        cursor = page["nextCursor"]
    assert seen == [f"extra-{n}" for n in range(5)]
    for limit in (0, 101):
        answer = http.get("/v1/tenant-admin/add-ons", params={"limit": limit}, headers=tenant.admin_headers())
        assert error(answer) == (400, "VALIDATION_ERROR", ["limit"])
    forged = http.get("/v1/tenant-admin/add-ons", params={"cursor": "forged"}, headers=tenant.admin_headers())
    assert error(forged) == (400, "VALIDATION_ERROR", ["cursor"])


def test_public_lists_page_too(http: httpx.Client, tenant: TenantHandle) -> None:
    for n in range(3):
        create(http, tenant, "packages", package_body(f"pkg-{n}", sortOrder=n))
    first = http.get("/v1/packages", params={"limit": 2}, headers=tenant.public_headers()).json()
    second = http.get(
        "/v1/packages", params={"limit": 2, "cursor": first["nextCursor"]}, headers=tenant.public_headers()
    ).json()
    assert [p["slug"] for p in first["items"] + second["items"]] == ["pkg-0", "pkg-1", "pkg-2"]
    assert second["nextCursor"] is None


# --- updates -------------------------------------------------------------------------------------


def test_a_patch_changes_only_what_it_names_and_answers_with_the_new_version_and_etag(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    created = http.post(
        "/v1/tenant-admin/packages",
        json=package_body(description="Lovely", maxGuests=50),
        headers=tenant.admin_headers(),
    )
    assert created.headers["ETag"] == '"1"'
    package = created.json()
    answer = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}",
        json={"priceCents": 175000, "maxGuests": None},
        headers={**tenant.admin_headers(), "If-Match": created.headers["ETag"]},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["ETag"] == '"2"'
    assert {k: answer.json()[k] for k in ("priceCents", "description", "maxGuests", "version")} == {
        "priceCents": 175000,
        "description": "Lovely",
        "maxGuests": None,
        "version": 2,
    }
    stale_attempts: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"title": "Late", "version": 1}, {}),
        ({"title": "Late"}, {"If-Match": '"1"'}),
    ]
    for body, extra in stale_attempts:
        late = http.patch(
            f"/v1/tenant-admin/packages/{package['id']}",
            json=body,
            headers={**tenant.admin_headers(), **extra},
        )
        assert error(late)[:2] == (409, "VERSION_CONFLICT")
    current = http.get(f"/v1/tenant-admin/packages/{package['id']}", headers=tenant.admin_headers())
    assert (current.json()["title"], current.headers["ETag"]) == ("Package garden", '"2"')
    nulls = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}", json={"title": None}, headers=tenant.admin_headers()
    )
    assert error(nulls) == (400, "VALIDATION_ERROR", ["title"])


def test_concurrent_edits_with_the_same_version_one_wins_and_one_gets_409(
    stack: Stack, http: httpx.Client, tenant: TenantHandle
) -> None:
    package = create(http, tenant, "packages", package_body("garden", 100000))
    version = package["version"]
    for round_ in range(5):
        barrier = threading.Barrier(2)

        def edit(price: int, barrier: threading.Barrier = barrier, version: int = version) -> httpx.Response:
            with httpx.Client(base_url=stack.url, timeout=10.0) as client:
                barrier.wait()  # both requests leave together, with the same version
                return client.patch(
                    f"/v1/tenant-admin/packages/{package['id']}",
                    json={"priceCents": price, "version": version},
                    headers=tenant.admin_headers(),
                )

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(edit, [200000 + round_, 300000 + round_]))
        codes = sorted(a.status_code for a in answers)
        assert codes == [200, 409], [a.text for a in answers]
        winner = next(a for a in answers if a.status_code == 200).json()
        loser = next(a for a in answers if a.status_code == 409).json()
        assert loser["error"] == "VERSION_CONFLICT"
        stored = http.get(f"/v1/tenant-admin/packages/{package['id']}", headers=tenant.admin_headers()).json()
        assert (stored["priceCents"], stored["version"]) == (winner["priceCents"], version + 1)
        version = stored["version"]


def test_after_a_price_change_every_gateway_serves_the_new_price_within_one_second(
    http: httpx.Client, gateways: list[httpx.Client], tenant: TenantHandle
) -> None:
    package = create(http, tenant, "packages", package_body("garden", 150000))
    for gateway in gateways:  # warm every path to the catalog's cache
        for _ in range(2):
            assert (
                gateway.get("/v1/packages/garden", headers=tenant.public_headers()).json()["priceCents"]
                == 150000
            )

    changed = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}",
        json={"priceCents": 180000},
        headers=tenant.admin_headers(),
    )
    assert changed.status_code == 200, changed.text
    committed = time.monotonic()
    pending = set(range(len(gateways)))
    while pending and time.monotonic() - committed < FRESHNESS_PROMISE_SECONDS:
        for n in sorted(pending):
            one = gateways[n].get("/v1/packages/garden", headers=tenant.public_headers()).json()
            listed = gateways[n].get("/v1/packages", headers=tenant.public_headers()).json()["items"]
            if one["priceCents"] == 180000 and [p["priceCents"] for p in listed] == [180000]:
                pending.discard(n)
        time.sleep(0.02)
    assert not pending, f"gateways {sorted(pending)} still served the old price after 1 s"


# --- isolation -----------------------------------------------------------------------------------


def test_a_tenant_admin_of_b_gets_404_on_as_objects_at_every_route(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    a, b = make_tenant("cat"), make_tenant("cat")
    segment = create(http, a, "segments", {"slug": "weddings", "name": "Weddings"})
    package = create(http, a, "packages", package_body("garden", 150000))
    add_on = create(
        http,
        a,
        "add-ons",
        {"slug": "flowers", "title": "Flowers", "priceCents": 1, "packageIds": [package["id"]]},
    )
    as_b = b.admin_headers()
    for kind, obj, change in (
        ("segments", segment, {"name": "Mine now"}),
        ("packages", package, {"priceCents": 1}),
        ("add-ons", add_on, {"priceCents": 2}),
    ):
        path = f"/v1/tenant-admin/{kind}/{obj['id']}"
        assert error(http.get(path, headers=as_b))[:2] == (404, "NOT_FOUND")
        assert error(http.patch(path, json=change, headers=as_b))[:2] == (404, "NOT_FOUND")
        assert error(http.patch(path, json={**change, "version": 1}, headers=as_b))[:2] == (404, "NOT_FOUND")
        assert error(http.delete(path, headers=as_b))[:2] == (404, "NOT_FOUND")
        listed = http.get(f"/v1/tenant-admin/{kind}", headers=as_b).json()["items"]
        assert obj["id"] not in [item["id"] for item in listed]
    assert error(http.get("/v1/packages/garden", headers=b.public_headers()))[:2] == (404, "NOT_FOUND")
    # B's add-on cannot point at A's package either.
    answer = http.post(
        "/v1/tenant-admin/add-ons",
        json={"slug": "sneaky", "title": "Sneaky", "priceCents": 1, "packageIds": [package["id"]]},
        headers=as_b,
    )
    assert error(answer)[:2] == (400, "VALIDATION_ERROR")
    # Nothing of A's changed.
    still = http.get(f"/v1/tenant-admin/packages/{package['id']}", headers=a.admin_headers()).json()
    assert (still["priceCents"], still["version"]) == (150000, 1)


def test_admin_routes_need_a_tenant_admins_token(http: httpx.Client, platform_token: str) -> None:
    assert error(http.get("/v1/tenant-admin/packages"))[:2] == (401, "UNAUTHENTICATED")
    platform = {"Authorization": f"Bearer {platform_token}"}
    assert error(http.get("/v1/tenant-admin/packages", headers=platform))[:2] == (403, "FORBIDDEN")


# --- deletion ------------------------------------------------------------------------------------


def test_a_package_with_a_live_booking_cannot_be_deleted_but_can_be_deactivated(
    stack: Stack, http: httpx.Client, tenant: TenantHandle
) -> None:
    onboard(stack, http, tenant)
    sold = create(http, tenant, "packages", package_body("garden", 150000))
    unsold = create(http, tenant, "packages", package_body("barn", 90000))
    held = checkout(http, tenant, sold["id"])
    assert held.status_code == 201, held.text
    assert held.json()["totalCents"] == 150000

    refused = http.delete(f"/v1/tenant-admin/packages/{sold['id']}", headers=tenant.admin_headers())
    assert error(refused)[:2] == (409, "IN_USE")
    deactivated = http.patch(
        f"/v1/tenant-admin/packages/{sold['id']}", json={"active": False}, headers=tenant.admin_headers()
    )
    assert deactivated.status_code == 200 and deactivated.json()["active"] is False
    assert error(http.get("/v1/packages/garden", headers=tenant.public_headers()))[0] == 404

    assert (
        http.delete(f"/v1/tenant-admin/packages/{unsold['id']}", headers=tenant.admin_headers()).status_code
        == 204
    )
    assert (
        error(http.get(f"/v1/tenant-admin/packages/{unsold['id']}", headers=tenant.admin_headers()))[0] == 404
    )


def test_a_segment_is_deleted_only_once_no_package_belongs_to_it(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    segment = create(http, tenant, "segments", {"slug": "weddings", "name": "Weddings"})
    package = create(http, tenant, "packages", package_body(segmentId=segment["id"]))
    path = f"/v1/tenant-admin/segments/{segment['id']}"
    assert error(http.delete(path, headers=tenant.admin_headers()))[:2] == (409, "IN_USE")
    moved = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}", json={"segmentId": None}, headers=tenant.admin_headers()
    )
    assert moved.status_code == 200 and moved.json()["segmentId"] is None
    assert http.delete(path, headers=tenant.admin_headers()).status_code == 204
    assert error(http.get(path, headers=tenant.admin_headers()))[0] == 404


def test_an_inactive_segment_hides_its_packages_from_couples(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    segment = create(http, tenant, "segments", {"slug": "elopements", "name": "Elopements"})
    create(http, tenant, "packages", package_body("cliffside", segmentId=segment["id"]))
    assert http.get("/v1/packages/cliffside", headers=tenant.public_headers()).status_code == 200
    hidden = http.patch(
        f"/v1/tenant-admin/segments/{segment['id']}",
        json={"active": False, "version": segment["version"]},
        headers=tenant.admin_headers(),
    )
    assert hidden.status_code == 200, hidden.text
    # Public reads may be up to the freshness promise old (the gateways' micro-cache).
    gone = eventually(
        lambda: http.get("/v1/packages/cliffside", headers=tenant.public_headers()).status_code == 404,
        FRESHNESS_PROMISE_SECONDS,
        0.05,
    )
    assert gone


def test_the_public_list_names_the_segments_of_its_packages_in_order_for_the_widgets_tabs(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(prefix="tabs", onboarded=False)
    weddings = create(http, tenant, "segments", {"slug": "weddings", "name": "Weddings", "sortOrder": 2})
    shoots = create(http, tenant, "segments", {"slug": "shoots", "name": "Shoots", "sortOrder": 1})
    closed = create(http, tenant, "segments", {"slug": "closed", "name": "Closed", "active": False})
    create(http, tenant, "segments", {"slug": "empty", "name": "Nothing in it"})
    create(http, tenant, "packages", package_body("garden", segmentId=weddings["id"]))
    create(http, tenant, "packages", package_body("portrait", segmentId=shoots["id"]))
    create(http, tenant, "packages", package_body("hidden", segmentId=closed["id"]))
    create(http, tenant, "packages", package_body("loose"))

    listed = http.get("/v1/packages", headers=tenant.public_headers())
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert sorted(p["slug"] for p in body["items"]) == ["garden", "loose", "portrait"]
    # Only the active segments that hold a listed package, in the business's order.
    assert [(s["id"], s["name"], s["sortOrder"]) for s in body["segments"]] == [
        (shoots["id"], "Shoots", 1),
        (weddings["id"], "Weddings", 2),
    ]


def test_an_add_on_patch_replaces_its_packages_and_couples_see_the_change(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    garden = create(http, tenant, "packages", package_body("garden"))
    barn = create(http, tenant, "packages", package_body("barn"))
    flowers = create(
        http,
        tenant,
        "add-ons",
        {"slug": "flowers", "title": "Flowers", "priceCents": 100, "packageIds": [garden["id"]]},
    )
    assert [
        a["slug"] for a in http.get("/v1/packages/garden", headers=tenant.public_headers()).json()["addOns"]
    ] == ["flowers"]
    moved = http.patch(
        f"/v1/tenant-admin/add-ons/{flowers['id']}",
        json={"packageIds": [barn["id"]], "priceCents": 150},
        headers={**tenant.admin_headers(), "If-Match": f'"{flowers["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["packageIds"], moved.json()["priceCents"], moved.headers["ETag"]) == (
        [barn["id"]],
        150,
        '"2"',
    )

    def couples_see_the_move() -> bool:
        garden_add_ons = http.get("/v1/packages/garden", headers=tenant.public_headers()).json()["addOns"]
        barn_add_ons = http.get("/v1/packages/barn", headers=tenant.public_headers()).json()["addOns"]
        return garden_add_ons == [] and [(a["slug"], a["priceCents"]) for a in barn_add_ons] == [
            ("flowers", 150)
        ]

    # Public reads may be up to the freshness promise old (the gateways' micro-cache).
    assert eventually(couples_see_the_move, FRESHNESS_PROMISE_SECONDS, 0.05)
    bad_etag = http.patch(
        f"/v1/tenant-admin/add-ons/{flowers['id']}",
        json={"priceCents": 1},
        headers={**tenant.admin_headers(), "If-Match": "yesterday"},
    )
    assert error(bad_etag) == (400, "VALIDATION_ERROR", ["If-Match"])


# --- money -----------------------------------------------------------------------------------------


def test_a_change_of_the_tenants_currency_reprices_nothing_already_on_sale(
    stack: Stack, http: httpx.Client, tenant: TenantHandle
) -> None:
    onboard(stack, http, tenant)
    headers = tenant.admin_headers()
    garden = create(http, tenant, "packages", package_body("garden", 150000))
    flowers = create(
        http,
        tenant,
        "add-ons",
        {"slug": "flowers", "title": "Flowers", "priceCents": 25000, "packageIds": [garden["id"]]},
    )
    assert (garden["currency"], flowers["currency"]) == ("usd", "usd")

    settings = http.patch("/v1/tenant-admin/settings", json={"currency": "eur"}, headers=headers)
    assert settings.status_code == 200, settings.text
    assert settings.json()["currency"] == "eur"
    # Edits that name neither a price nor a currency keep both.
    renamed = http.patch(
        f"/v1/tenant-admin/packages/{garden['id']}", json={"title": "Garden day"}, headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    retitled = http.patch(
        f"/v1/tenant-admin/add-ons/{flowers['id']}", json={"title": "Peonies"}, headers=headers
    )
    assert retitled.status_code == 200, retitled.text
    assert (renamed.json()["priceCents"], renamed.json()["currency"]) == (150000, "usd")
    assert (retitled.json()["priceCents"], retitled.json()["currency"], retitled.json()["packageIds"]) == (
        25000,
        "usd",
        [garden["id"]],
    )

    def couples_see_dollars() -> bool:
        shown = http.get("/v1/packages/garden", headers=tenant.public_headers()).json()
        return (shown["title"], shown["priceCents"], shown["currency"]) == ("Garden day", 150000, "usd") and [
            (a["title"], a["priceCents"], a["currency"]) for a in shown["addOns"]
        ] == [("Peonies", 25000, "usd")]

    assert eventually(couples_see_dollars, FRESHNESS_PROMISE_SECONDS, 0.05)
    held = checkout(http, tenant, garden["id"], flowers["id"])
    assert held.status_code == 201, held.text
    assert (held.json()["totalCents"], held.json()["currency"]) == (175000, "usd")

    # What is created afterwards is in the new currency, and cannot be mixed with the old.
    barn = create(http, tenant, "packages", package_body("barn", 90000))
    assert barn["currency"] == "eur"
    mixed = http.post(
        "/v1/tenant-admin/add-ons",
        json={
            "slug": "drone",
            "title": "Drone",
            "priceCents": 40000,
            "packageIds": [barn["id"], garden["id"]],
        },
        headers=headers,
    )
    assert error(mixed) == (400, "VALIDATION_ERROR", ["packageIds[1]"])
    linked = http.patch(
        f"/v1/tenant-admin/add-ons/{flowers['id']}",
        json={"packageIds": [garden["id"], barn["id"]]},
        headers=headers,
    )
    assert error(linked) == (400, "VALIDATION_ERROR", ["packageIds[1]"])
    assert http.get("/v1/packages/barn", headers=tenant.public_headers()).json()["addOns"] == []


def test_a_currency_changes_only_with_a_price_sent_with_it_and_no_price_is_forgotten_into_zero(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    headers = tenant.admin_headers()
    garden = create(http, tenant, "packages", package_body("garden", 150000, currency="EUR"))
    assert garden["currency"] == "eur"
    alone = http.patch(f"/v1/tenant-admin/packages/{garden['id']}", json={"currency": "usd"}, headers=headers)
    assert error(alone) == (400, "VALIDATION_ERROR", ["priceCents"])
    for body, field in (
        ({"currency": None}, "currency"),
        ({"priceCents": None}, "priceCents"),
        ({"currency": "dollars", "priceCents": 1}, "currency"),
    ):
        refused = http.patch(f"/v1/tenant-admin/packages/{garden['id']}", json=body, headers=headers)
        assert error(refused) == (400, "VALIDATION_ERROR", [field])
    stored = http.get(f"/v1/tenant-admin/packages/{garden['id']}", headers=headers).json()
    assert (stored["priceCents"], stored["currency"], stored["version"]) == (150000, "eur", 1)
    repriced = http.patch(
        f"/v1/tenant-admin/packages/{garden['id']}",
        json={"currency": "usd", "priceCents": 165000},
        headers=headers,
    )
    assert repriced.status_code == 200, repriced.text
    assert (repriced.json()["priceCents"], repriced.json()["currency"]) == (165000, "usd")
