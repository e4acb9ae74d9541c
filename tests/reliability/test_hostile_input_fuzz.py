"""Property-based fuzzing of every route in the gateway's OpenAPI (schemathesis, through Envoy): whatever
the body, query, path or headers, the platform never answers 5xx and every error is in the public
envelope. Bounded: a fixed number of generated requests per route and generation mode, a fixed seed,
and only Hypothesis' generate phase (no shrinking; every bad answer is collected and reported)."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Config, GenerationMode

from gateway.app import create_app
from gateway.settings import GatewaySettings
from tests.e2e.conftest import MakeTenant, client_from_new_address
from tests.reliability.conftest import Size
from tests.reliability.figures import Figures
from tests.reliability.shop import Shop, a_free_day, envelope_problem, open_shop
from tools.stack.launcher import Stack

CATEGORY = "hostile input"
SEED = 20_270_230


def _operation_labels() -> list[str]:
    """Every documented operation, read from the gateway's own app (no stack needed to collect)."""
    spec = create_app(GatewaySettings()).openapi()
    return [f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item]


@dataclass
class FuzzWorld:
    """The schema as the running gateway serves it, and real objects for routes that take ids."""

    schema: Any
    shop: Shop
    platform_token: str
    client: httpx.Client
    path_ids: dict[str, str]
    # Real ids for routes that take one in the query (generated values fill in the rest).
    query_ids: dict[str, dict[str, str]]

    def reactivate(self) -> None:
        """The test business on (generated requests to the platform's tenant routes may turn it off)."""
        answer = self.client.patch(
            f"/v1/admin/tenants/{self.shop.tenant.id}",
            json={"active": True},
            headers={"Authorization": f"Bearer {self.platform_token}"},
        )
        assert answer.status_code == 200, answer.text
        # Each gateway keeps what a key stands for a moment (ADR 0009): wait until every one of them
        # (Envoy spreads requests over both) sees the business on again, bounded.
        deadline = time.monotonic() + 15
        seen_on = 0
        while seen_on < 6 and time.monotonic() < deadline:
            probe = self.client.get("/v1/tenant", headers=self.shop.tenant.public_headers())
            seen_on = seen_on + 1 if probe.status_code == 200 else 0
            if seen_on == 0:
                time.sleep(0.2)
        assert seen_on >= 6, "the business never read as active again"

    def credentials(self, path: str) -> dict[str, str]:
        """What a legitimate caller of this route would send (so generated input reaches the services)."""
        if path.startswith("/v1/admin/"):
            return {"Authorization": f"Bearer {self.platform_token}"}
        if path.startswith("/v1/tenant-admin/") or path == "/v1/auth/me":
            return self.shop.tenant.admin_headers()
        return self.shop.tenant.public_headers()


@pytest.fixture(scope="module")
def world(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, platform_token: str
) -> Iterator[FuzzWorld]:
    http = api
    shop = open_shop(http, make_tenant, "fuzz")
    admin = shop.tenant.admin_headers()
    segment = http.post("/v1/tenant-admin/segments", json={"slug": "fuzz", "name": "Fuzz"}, headers=admin)
    assert segment.status_code == 201, segment.text
    blackout = http.post("/v1/tenant-admin/blackouts", json={"date": a_free_day()}, headers=admin)
    assert blackout.status_code == 201, blackout.text
    resource = http.post("/v1/tenant-admin/resources", json={"name": "Fuzz"}, headers=admin)
    assert resource.status_code == 201, resource.text
    resource_id = resource.json()["id"]
    # A time-slot service on that resource, open every day, so generated slot queries get past the
    # package check into the booking service.
    every_day = [{"weekday": d, "ranges": [{"opens": "08:00", "closes": "20:00"}]} for d in range(1, 8)]
    hours = http.put(
        f"/v1/tenant-admin/resources/{resource_id}/hours", json={"weekly": every_day}, headers=admin
    )
    assert hours.status_code == 200, hours.text
    slot_package = http.post(
        "/v1/tenant-admin/packages",
        json={
            "slug": "fuzz-hour",
            "title": "Fuzz hour",
            "priceCents": 9_000,
            "active": True,
            "kind": "SLOT",
            "slot": {"durationMinutes": 60, "intervalMinutes": 30, "resourceId": resource_id},
        },
        headers=admin,
    )
    assert slot_package.status_code == 201, slot_package.text
    held = http.post(
        "/v1/bookings/checkout", json=shop.checkout_body(a_free_day()), headers=shop.tenant.public_headers()
    )
    assert held.status_code == 201, held.text
    raw = http.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw, config=Config.from_dict({"seed": SEED}))
    # Generated sign-ins fail; from their own address they never lock 127.0.0.1 out of signing in.
    client = client_from_new_address(stack)
    ids = {
        "tenant_id": shop.tenant.id,
        "package_id": shop.package_id,
        "slug": shop.package_slug,
        "add_on_id": shop.add_on_ids[0],
        "segment_id": segment.json()["id"],
        "blackout_id": blackout.json()["id"],
        "resource_id": resource_id,
        "booking_id": held.json()["bookingId"],
        "name": "calendar",
    }
    try:
        query_ids = {"/v1/availability/slots": {"packageId": slot_package.json()["id"]}}
        yield FuzzWorld(schema, shop, platform_token, client, ids, query_ids)
    finally:
        client.close()


def _send(world: FuzzWorld, case: Any, path: str) -> httpx.Response | None:
    """Sends a generated case through Envoy; None when the HTTP client itself cannot encode it (a
    header no HTTP library would send)."""
    kwargs = case.as_transport_kwargs(base_url=str(world.client.base_url).rstrip("/"))
    headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
    headers.pop("Authorization", None)
    headers.pop("X-Tenant-Key", None)
    headers.update(world.credentials(path))
    try:
        return world.client.request(
            kwargs["method"],
            kwargs["url"],
            headers=headers,
            params=kwargs.get("params"),
            content=kwargs.get("data"),
            json=kwargs.get("json"),
        )
    except (UnicodeEncodeError, httpx.LocalProtocolError, httpx.InvalidURL):
        return None


def _keep_key_fresh(world: FuzzWorld, path: str, answer: httpx.Response) -> None:
    # A generated key rotation may revoke the public key at once; carry on with the new one.
    if path == "/v1/tenant-admin/api-keys/rotate" and answer.status_code == 200:
        world.shop.tenant.public_key = answer.json()["publicKey"]


@pytest.mark.parametrize("label", _operation_labels())
def test_no_generated_request_gets_a_5xx_or_an_error_outside_the_envelope(
    world: FuzzWorld, label: str, size: Size, figures: Figures
) -> None:
    method, path = label.split(" ", 1)
    operation = world.schema[path][method]
    problems: list[str] = []
    sent = 0
    # Answers from past the package check (the booking service's, for a route with a real query id).
    past_package = 0
    seen: Counter[str] = Counter()

    def run(strategy: Any) -> None:
        @settings(
            max_examples=size.fuzz_examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def one(case: Any) -> None:
            nonlocal sent, past_package
            answer = _send(world, case, path)
            if answer is None:
                return
            sent += 1
            seen[f"{answer.status_code} {_error_code(answer)}"] += 1
            # The booking service's own date checks answered (or the slots did): the package passed.
            if answer.status_code == 200 or "YYYY-MM-DD" in answer.text:
                past_package += 1
            problem = "5xx" if answer.status_code >= 500 else envelope_problem(answer)
            figures.request(CATEGORY, answer.status_code, ok=problem is None)
            if problem is not None:
                problems.append(
                    f"{answer.status_code} {problem}: {case.as_curl_command()} -> {answer.text[:200]}"
                )
            _keep_key_fresh(world, path, answer)

        # Unsatisfiable: nothing to vary (a route without parameters has no invalid form).
        with contextlib.suppress(Unsatisfiable):
            one()

    run(operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    run(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    real_ids = {p: world.path_ids[p] for p in _path_parameters(path) if p in world.path_ids}
    if real_ids:
        run(operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real_ids))
    if path in world.query_ids:
        # A generated platform-admin request may have switched the business off: on again.
        world.reactivate()
        real_query = world.query_ids[path]
        run(operation.as_strategy(generation_mode=GenerationMode.POSITIVE, query=real_query))
        run(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, query=real_query))
        assert past_package > 0, (
            f"no generated request for {label} got past its package id: {seen.most_common(5)}"
        )
    assert sent > 0, f"nothing could be sent for {label}"
    assert not problems, f"{len(problems)} bad answers of {sent}:\n" + "\n".join(problems[:10])


def _error_code(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
