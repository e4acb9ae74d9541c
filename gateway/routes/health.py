"""Operations: liveness and readiness (public: a proxy in front needs them), and the operator routes
(Prometheus metrics), which answer only on the gateway's operator port (ADR 0011)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from gateway.errors import ApiError, request_id
from gateway.readiness import readiness


def on_operator_port(request: Request) -> None:
    """Operator routes exist only on the operator port; anywhere else they are an unknown route."""
    port = request.app.state.settings.gateway_operator_port
    server = request.scope.get("server") or (None, None)
    if not port or server[1] != port:
        raise ApiError("NOT_FOUND", "no such route")


router = APIRouter(tags=["ops"])
operator = APIRouter(tags=["ops"], dependencies=[Depends(on_operator_port)])


@router.get("/health", summary="Liveness of the gateway process")
async def health() -> dict[str, str]:
    """200 while the gateway runs."""
    return {"status": "ok"}


@router.get("/health/serving", summary="Whether this gateway takes requests (Envoy's health check)")
async def serving() -> dict[str, str]:
    """200 until the gateway is sent SIGTERM; then 503 while it drains (answered by gateway/drain.py), so
    Envoy routes to the other gateways. `/health` stays 200: the process is alive while it drains."""
    return {"status": "serving"}


@router.get("/health/ready", summary="Readiness of every service and the database")
async def ready(request: Request) -> Response:
    """200 with every check ok; 503 naming what is not."""
    settings = request.app.state.settings
    checks = await readiness(request.app.state.clients.health, settings.readiness_timeout_seconds)
    failing = sorted(name for name, state in checks.items() if state != "ok")
    if not failing:
        return Response(orjson.dumps({"status": "ok", "checks": checks}), media_type="application/json")
    body = {
        "error": "UNAVAILABLE",
        "message": "not ready: " + ", ".join(failing),
        "requestId": request_id(),
        "status": "unavailable",
        "failing": failing,
        "checks": checks,
    }
    return Response(orjson.dumps(body), status_code=503, media_type="application/json")


@operator.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    """Request counts and latency histograms by route and status."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
