"""The outermost ASGI layer: a server span per request (continuing a W3C traceparent if one
came in), the trace id as `X-Request-ID`, the body-size limit, request metrics, security
headers, the envelope for anything that escaped the app, and the request's deadline: what Envoy says
it will wait (`x-envoy-expected-rq-timeout-ms`, counted from the request's arrival here, less a margin to
answer in) bounds every call the request makes, so a request that queued answers the gateway's own 503
before Envoy gives up with a 504."""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import ApiError, error_response
from mais_runtime.errors import FieldViolation
from mais_runtime.interceptors import current_deadline
from mais_runtime.telemetry import info_line

log = logging.getLogger("mais.gateway")
tracer = trace.get_tracer("mais.gateway")

HTTP_TOTAL = Counter("mais_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_SECONDS = Histogram(
    "mais_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cache-control", b"no-store"),
]
_FRAME_ANCESTORS = re.compile(rb"(?:^|;)\s*frame-ancestors\s+([^;]*)", re.IGNORECASE)


def security_headers(response_headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """SECURITY_HEADERS as a response gets them. Its own Cache-Control wins (the web pages and
    their files say how long they keep; every API answer is no-store). X-Frame-Options DENY is left
    out only when the response's CSP lets someone frame it: `frame-ancestors` supersedes it in every
    browser that knows CSP, and DENY would refuse the tenant's sites in the others too."""
    names = {name.lower() for name, _ in response_headers}
    frameable = any(
        name.lower() == b"content-security-policy" and _lets_someone_frame(value)
        for name, value in response_headers
    )
    return [
        (name, value)
        for name, value in SECURITY_HEADERS
        if not (name == b"cache-control" and name in names) and not (name == b"x-frame-options" and frameable)
    ]


def _lets_someone_frame(csp: bytes) -> bool:
    found = _FRAME_ANCESTORS.search(csp)
    return found is not None and found.group(1).strip().lower() not in (b"", b"'none'")


class BodyTooLarge(ApiError):
    """The body went over the limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__("PAYLOAD_TOO_LARGE", f"request body over {limit} bytes")


class ObservabilityMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        carrier, length, expected_ms = _read_headers(scope["headers"])
        bounded = current_deadline.set(request_deadline(expected_ms)) if expected_ms else None
        parent = propagate.extract(carrier) if carrier else None
        method = scope["method"]
        status_holder = {"status": 500, "started": False}

        span = tracer.start_span(
            f"HTTP {method}", context=parent, kind=SpanKind.SERVER, attributes={"http.method": method}
        )
        attached = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            request_id = format(span.get_span_context().trace_id, "032x").encode()

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder["status"] = message["status"]
                    status_holder["started"] = True
                    own = list(message.get("headers", []))
                    extra = [(b"x-request-id", request_id), *security_headers(own)]
                    message = {**message, "headers": [*own, *extra]}
                await send(message)

            cut_off = {"body": False}

            async def send_unless_cut_off(message: Message) -> None:
                # A body cut off mid-stream surfaces in the app as a parse error (FastAPI turns any
                # failure while reading into a 400); the answer is 413, sent below, not that one.
                if not cut_off["body"]:
                    await send_with_headers(message)

            try:
                if length > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
                _refuse_nul_in_query(scope)
                await self.app(scope, self._limited(receive, cut_off), send_unless_cut_off)
                if cut_off["body"] and not status_holder["started"]:
                    await error_response(BodyTooLarge(self.max_body_bytes))(scope, receive, send_with_headers)
            except ApiError as error:
                if status_holder["started"]:
                    raise
                await error_response(error)(scope, receive, send_with_headers)
            except Exception:
                log.exception("unhandled error")
                if status_holder["started"]:
                    raise
                await error_response(ApiError("INTERNAL", "internal error"))(
                    scope, receive, send_with_headers
                )
            finally:
                route = _route_template(scope)
                status = int(status_holder["status"])
                span.update_name(f"{method} {route}")
                span.set_attributes({"http.route": route, "http.status_code": status})
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                elapsed = time.perf_counter() - started
                _REQUEST_METRICS.observe(method, route, status, elapsed)
                if route not in ("/health", "/metrics"):
                    info_line(
                        log,
                        f"{method} {route} {status}",
                        {"route": route, "status": status, "duration_ms": round(elapsed * 1000, 2)},
                    )
        except BaseException as error:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise
        finally:
            span.end()
            otel_context.detach(attached)
            if bounded is not None:
                current_deadline.reset(bounded)

    def _limited(self, receive: Receive, cut_off: dict[str, bool]) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    cut_off["body"] = True
                    raise BodyTooLarge(limit)
            return message

        return limited_receive


# Header names a trace context can come in (W3C traceparent/tracestate, baggage), as the global
# propagator names them.
_TRACE_FIELDS = frozenset(name.encode("latin-1") for name in propagate.get_global_textmap().fields)


# Left of Envoy's wait for the gateway to answer in (its own error included), and the longest wait believed.
_ANSWER_MARGIN_SECONDS = 0.25
_LONGEST_EXPECTED_MS = 3_600_000


def request_deadline(expected_ms: int) -> float:
    """The monotonic time by which a request Envoy waits `expected_ms` for must be answered."""
    wait = min(expected_ms, _LONGEST_EXPECTED_MS) / 1000
    return time.monotonic() + max(wait - _ANSWER_MARGIN_SECONDS, wait / 2)


def _read_headers(headers: list[tuple[bytes, bytes]]) -> tuple[dict[str, str], int, int]:
    """The trace-context headers of a request (decoded), its Content-Length and Envoy's expected
    timeout in ms (each 0 when absent or not a positive number), read in one pass without decoding the
    other headers."""
    carrier: dict[str, str] = {}
    length = 0
    expected_ms = 0
    for name, value in headers:
        if name == b"content-length":
            length = _number(value)
        elif name == b"x-envoy-expected-rq-timeout-ms":
            expected_ms = _number(value)
        elif name in _TRACE_FIELDS:
            carrier[name.decode("latin-1")] = value.decode("latin-1")
    return carrier, length, expected_ms


def _number(value: bytes) -> int:
    try:
        return max(int(value or b"0"), 0)
    except ValueError:
        return 0


class _RequestMetrics:
    """The request counter and histogram, their children looked up once per (method, route, status)
    rather than on every request; routes are the app's templates, so the keys are few (bounded all
    the same: past the bound a child is looked up each time)."""

    _MAX = 4096

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = HTTP_TOTAL.labels(method, route, str(status))
            if len(self._counters) < self._MAX:
                self._counters[(method, route, status)] = counter
        counter.inc()
        histogram = self._histograms.get((method, route))
        if histogram is None:
            histogram = HTTP_SECONDS.labels(method, route)
            if len(self._histograms) < self._MAX:
                self._histograms[(method, route)] = histogram
        histogram.observe(seconds)


_REQUEST_METRICS = _RequestMetrics()


def _refuse_nul_in_query(scope: Scope) -> None:
    """No service can store U+0000; a query parameter carrying one is refused by its own name."""
    query = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            field_name = name.replace("\x00", "") or "query"
            raise ApiError(
                "VALIDATION_ERROR",
                f"{field_name}: must not contain NUL characters",
                [FieldViolation(field_name, "must not contain NUL characters")],
            )


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
