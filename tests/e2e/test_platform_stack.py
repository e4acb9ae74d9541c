"""The platform skeleton end to end: Envoy → gateway → services, readiness, errors, traces, logs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tools.stack.launcher import Stack


def _wait_for(check, timeout: float, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    return last


def test_ready_through_envoy_reports_every_service_and_the_database(http: httpx.Client) -> None:
    answer = http.get("/health/ready")
    assert answer.status_code == 200
    assert answer.json()["checks"] == {
        "tenant": "ok",
        "catalog": "ok",
        "booking": "ok",
        "payments": "ok",
        # Payments' webhook worker, which the gateways send Stripe's webhooks to.
        "payments-webhooks": "ok",
        "database": "ok",
    }
    assert len(answer.headers["x-request-id"]) == 32


def test_unknown_route_answers_the_error_envelope_with_the_request_id(http: httpx.Client) -> None:
    answer = http.get("/v1/no-such-thing")
    assert answer.status_code == 404
    body = answer.json()
    assert body["error"] == "NOT_FOUND"
    assert body["requestId"] == answer.headers["x-request-id"]


def test_wrong_method_answers_the_error_envelope(http: httpx.Client) -> None:
    answer = http.delete("/health")
    assert answer.status_code == 405
    assert answer.json()["error"] == "METHOD_NOT_ALLOWED"


def test_oversized_body_is_refused_with_413_in_the_envelope(http: httpx.Client) -> None:
    answer = http.post(
        "/v1/auth/login", content=b"x" * (1024 * 1024 + 10), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "PAYLOAD_TOO_LARGE"


def test_every_response_carries_security_headers(http: httpx.Client) -> None:
    for path in ("/health", "/v1/no-such-thing"):
        headers = http.get(path).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


def test_openapi_is_public_and_metrics_are_served_on_each_gateways_operator_port(
    stack: Stack, http: httpx.Client
) -> None:
    assert http.get("/openapi.json").json()["info"]["title"] == "MAIS public API"
    http.get("/health")
    assert http.get("/metrics").status_code == 404
    for _, operator_port in stack.ports.gateway_pairs():
        metrics = httpx.get(f"http://127.0.0.1:{operator_port}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert "mais_http_requests_total" in metrics.text


def test_killing_a_service_turns_readiness_503_naming_it_and_restarting_restores_200(
    stack: Stack, http: httpx.Client
) -> None:
    stack.kill("booking")
    try:
        answer = _wait_for(lambda: (r := http.get("/health/ready")).status_code == 503 and r, timeout=5)
        assert answer, "readiness did not turn 503 within 5 s"
        assert answer.json()["failing"] == ["booking"]
        assert answer.json()["error"] == "UNAVAILABLE"
    finally:
        stack.start_process("booking")
    assert _wait_for(lambda: http.get("/health/ready").status_code == 200, timeout=30)


def test_one_request_has_one_trace_id_across_envoy_gateway_services_logs_and_trace_tool(
    stack: Stack, http: httpx.Client
) -> None:
    # Right after another test restarted a service, a first probe may still fail; trace a ready one.
    answer = _wait_for(lambda: (r := http.get("/health/ready")).status_code == 200 and r, timeout=30)
    assert answer, "stack not ready"
    trace_id = answer.headers["x-request-id"]

    def printed() -> str:
        result = subprocess.run(
            [sys.executable, "-m", "tools.trace", trace_id, "--data-dir", str(stack.data_dir)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        # Each process flushes its spans on its own schedule: wait for every one of them.
        services = ("gateway ", "tenant ", "catalog ", "booking ", "payments ")
        return result.stdout if all(s in result.stdout for s in services) else ""

    tree = _wait_for(printed, timeout=20, interval=0.5)
    assert tree, "span tree incomplete: a process's spans never reached the trace files"
    logs: Path = stack.data_dir / "logs"
    for process in ("tenant", "catalog", "booking", "payments"):
        assert trace_id in (logs / f"{process}.log").read_text(), f"{process} log lacks the trace id"
    assert _wait_for(lambda: trace_id in (logs / "envoy-access.log").read_text(), timeout=10)
