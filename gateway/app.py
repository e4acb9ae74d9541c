"""The gateway's ASGI application: routes, dependencies and error handlers wired together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import AuthCaches
from gateway.clients import ServiceClients
from gateway.cors import CorsMiddleware
from gateway.errors import ApiError, error_response, from_grpc, request_id
from gateway.feeds import GatewayFeeds
from gateway.middleware import ObservabilityMiddleware
from gateway.read_cache import STATE_ATTRIBUTE as READ_CACHE_ATTRIBUTE
from gateway.routes import (
    admin_reports,
    booking,
    catalog,
    health,
    instalments,
    pages,
    payments,
    schedules,
    slots,
    stats,
    tenants,
    web_pages,
)
from gateway.settings import GatewaySettings
from gateway.web import WebBuild
from mais_runtime.channels import Channels
from mais_runtime.errors import FieldViolation

log = logging.getLogger("mais.gateway")


class OrjsonResponse(JSONResponse):
    """The routes' default answer: their dicts serialised by orjson (FastAPI's own ORJSONResponse is
    deprecated in favour of response models, which these routes do not declare)."""

    def render(self, content: object) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def create_app(settings: GatewaySettings) -> FastAPI:
    """The application; its lifespan owns the gRPC channels."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        channels = Channels(
            internal_token=settings.internal_token, default_timeout=settings.rpc_timeout_seconds
        )
        app.state.clients = ServiceClients.connect(channels, settings)
        app.state.settings = settings
        app.state.auth_caches = AuthCaches.create()
        feeds = None
        if settings.change_feeds:
            feeds = GatewayFeeds(
                app.state.clients, auth=app.state.auth_caches
            )
            setattr(app.state, READ_CACHE_ATTRIBUTE, feeds.cache)
            feeds.start()
            app.state.feeds = feeds
        # Read once: the built pages change only with a rebuild, which a restart picks up.
        app.state.web = WebBuild(settings.web_dir)
        try:
            yield
        finally:
            if feeds is not None:
                await feeds.stop()
            await channels.close()

    app = FastAPI(
        title="MAIS public API",
        version="1.0.0",
        description="Multi-tenant booking for wedding and elopement businesses.",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        docs_url=None,
        redoc_url=None,
        # Our own middleware makes the one server span per request; FastAPI's native telemetry would
        # add several more per request (routing, dependencies) at a real CPU cost.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    for module in (
        health,
        tenants,
        catalog,
        booking,
        payments,
        instalments,
        schedules,
        slots,
        stats,
        admin_reports,
        pages,
        web_pages,
    ):
        app.include_router(module.router)
    app.include_router(health.operator)
    _install_error_handlers(app)
    # Added first, so it runs inside the observability layer (its answers get the request id and
    # security headers too).
    app.add_middleware(CorsMiddleware)
    app.add_middleware(ObservabilityMiddleware, max_body_bytes=settings.max_body_bytes)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        return error_response(error)

    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 404:
            return error_response(ApiError("NOT_FOUND", "no such route"))
        if error.status_code == 405:
            return error_response(ApiError("METHOD_NOT_ALLOWED", "method not allowed on this route"))
        return error_response(ApiError("VALIDATION_ERROR", str(error.detail)))

    async def on_validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return error_response(validation_error(error.errors()))

    async def on_grpc_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, grpc.aio.AioRpcError)
        api_error = from_grpc(error)
        if api_error.status >= 500:
            log.warning("service call failed: %s %s", error.code().name, error.details())
        return error_response(api_error)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(grpc.aio.AioRpcError, on_grpc_error)


def validation_error(errors: Any) -> ApiError:
    """FastAPI/pydantic errors as VALIDATION_ERROR with one entry per field."""
    fields = []
    for item in errors:
        if item.get("type") == "json_invalid":
            return ApiError(
                "VALIDATION_ERROR", "malformed JSON body", [FieldViolation("body", "malformed JSON")]
            )
        location = [
            str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path", "header")
        ]
        fields.append(FieldViolation(".".join(location) or "body", str(item.get("msg", "invalid"))))
    return ApiError("VALIDATION_ERROR", "the request is not valid", fields)


def json_response(body: Any, status_code: int = 200) -> Response:
    """A JSON response serialised with orjson."""
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


__all__ = ["create_app", "json_response", "request_id", "validation_error"]
