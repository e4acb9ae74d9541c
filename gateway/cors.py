"""CORS for the booking widget: a browser may call the widget's routes only from an origin the tenant
listed in its `allowed_origins`.

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) carries no tenant key, so it
  is allowed when the path is a widget route and some active tenant lists the origin (the tenant
  service answers, cached briefly per origin); otherwise it is refused with 403 and no CORS headers.
- The real request carries the key: `public_tenant` (gateway/auth.py) refuses an `Origin` the key's
  tenant does not list with 403 ORIGIN_NOT_ALLOWED before anything runs, and records an allowed one
  here so the answer carries `Access-Control-Allow-Origin` for exactly that origin.
- Admin routes are same-origin only: they never answer with CORS headers, so browsers on other
  origins cannot read them (and their Authorization header makes browsers preflight first).
Requests without `Origin` (servers, curl, Stripe) are not affected.
"""

from __future__ import annotations

import logging
import re

import grpc
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import ALLOWED_ORIGIN_STATE, AUTH_CACHE_ENTRIES, AUTH_CACHE_SECONDS
from gateway.errors import ApiError, error_response
from mais_runtime.ttl_cache import TtlCache

log = logging.getLogger("mais.gateway")

# The routes the widget calls with a public key (and the only ones a preflight may open).
WIDGET_PATHS = re.compile(r"^/v1/(tenant|packages(/[^/]+)?|availability(/calendar)?|bookings/checkout)$")
ALLOWED_METHODS = "GET, POST"
ALLOWED_HEADERS = "Content-Type, X-Tenant-Key, Idempotency-Key"
EXPOSED_HEADERS = "X-Request-ID, Retry-After"
PREFLIGHT_MAX_AGE_SECONDS = 600


class CorsMiddleware:
    """Answers preflights and adds `Access-Control-Allow-Origin` to widget answers (see module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._origins: TtlCache[str, bool] = TtlCache(AUTH_CACHE_SECONDS, AUTH_CACHE_ENTRIES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None:
            await self._preflight(scope, receive, send, origin)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"vary", b"Origin")]
                allowed = scope.get("state", {}).get(ALLOWED_ORIGIN_STATE)
                if allowed and allowed == origin:
                    headers += [
                        (b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
                    ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, receive: Receive, send: Send, origin: str) -> None:
        if not WIDGET_PATHS.match(scope["path"]) or not await self._some_tenant_allows(scope, origin):
            refused = ApiError("ORIGIN_NOT_ALLOWED", "this origin may not call this route from a browser")
            await error_response(refused)(scope, receive, send)
            return
        headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
            (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_SECONDS).encode()),
            (b"vary", b"Origin"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _some_tenant_allows(self, scope: Scope, origin: str) -> bool:
        cached = self._origins.get(origin)
        if cached is not None:
            return bool(cached)
        clients = scope["app"].state.clients
        try:
            answer = await clients.tenant.CheckWidgetOrigin(tenant_pb.CheckWidgetOriginRequest(origin=origin))
        except grpc.aio.AioRpcError as error:
            # Refusing a preflight is safe: the browser does not send the request.
            log.warning("could not check a widget origin: %s", error.code().name)
            return False
        self._origins.put(origin, answer.allowed)
        return bool(answer.allowed)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
