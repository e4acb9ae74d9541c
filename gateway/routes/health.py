"""Operations: liveness, readiness of every service and the database, Prometheus metrics."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from gateway.errors import request_id
from gateway.readiness import readiness

router = APIRouter(tags=["ops"])


@router.get("/health", summary="Liveness of the gateway process")
async def health() -> dict[str, str]:
    """200 while the gateway runs."""
    return {"status": "ok"}


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


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    """Request counts and latency histograms by route and status."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
