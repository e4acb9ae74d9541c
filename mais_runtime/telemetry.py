"""OpenTelemetry tracing and structured JSON logs for every process.

Spans go to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, otherwise to JSON lines in
`<data>/traces/<service>.jsonl` (read by `make trace`). Every log line is one JSON object with
`trace_id`, `service` and, when known, `tenant_id`.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import orjson
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from mais_runtime.tenancy import current_tenant

TENANT_ATTRIBUTE = "mais.tenant_id"


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to a file, one JSON object a line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("ab")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = b"".join(orjson.dumps(span_record(span)) + b"\n" for span in spans)
        with self._lock:
            self._file.write(lines)
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """The JSON form of a finished span that `make trace` reads."""
    ctx = span.get_span_context()
    assert ctx is not None
    attributes = dict(span.attributes or {})
    return {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "service": span.resource.attributes.get("service.name"),
        "name": span.name,
        "kind": span.kind.name,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "tenant_id": attributes.get(TENANT_ATTRIBUTE),
        "attributes": attributes,
    }


def setup_tracing(
    service: str, data_dir: Path, otlp_endpoint: str = "", sample_ratio: float = 1.0
) -> TracerProvider:
    """Installs the global tracer provider for this process and returns it (flush it at exit). A
    request's spans are recorded with probability `sample_ratio`, decided once where the trace starts
    (the gateway) and followed by every service it calls."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    exporter: SpanExporter
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint, timeout=5)
    else:
        exporter = JsonLinesSpanExporter(data_dir / "traces" / f"{service}.jsonl")
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    return provider


# A path segment that names one object (`acct_1Nx...`, `cs_test_...`, digits, uuids): replaced by
# "{id}" in span names, so that names stay few and the object's id lives in an attribute.
_OBJECT_ID = re.compile(r"^(?:[a-z]+_[A-Za-z0-9_]{6,}|[0-9]+|[0-9a-fA-F-]{32,36})$")


def route_of(path: str) -> str:
    """`/v1/accounts/acct_123abc/login_links` -> `/v1/accounts/{id}/login_links`."""
    return "/".join("{id}" if _OBJECT_ID.match(part) else part for part in path.split("/"))


@contextmanager
def http_client_span(peer: str, method: str, url: str) -> Iterator[Span]:
    """A CLIENT span around one outgoing HTTP request to `peer` (one per attempt when the caller
    retries), named `peer METHOD /route`; the query string is never recorded. Set the answer's
    status with `record_http_status`; an exception marks the span as an error."""
    parts = urlsplit(url)
    tracer = trace.get_tracer("mais.http_client")
    name = f"{peer} {method.upper()} {route_of(parts.path)}"
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT) as span:
        span.set_attribute("http.request.method", method.upper())
        span.set_attribute("server.address", parts.hostname or "")
        span.set_attribute("url.path", parts.path)
        span.set_attribute("peer.service", peer)
        yield span


def record_http_status(span: Span, status: int) -> None:
    """The answer's status on a client span; 5xx (and no answer) are errors of the call."""
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the trace and tenant the line belongs to."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        ctx = trace.get_current_span().get_span_context()
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            "trace_id": format(ctx.trace_id, "032x") if ctx.is_valid else None,
        }
        tenant = getattr(record, "tenant_id", None) or current_tenant.get()
        if tenant:
            line["tenant_id"] = tenant
        for key in ("rpc", "code", "duration_ms", "status", "route", "sqlstate", "event"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def setup_logging(service: str, level: str = "INFO") -> None:
    """Sends every log record of this process to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("sqlalchemy", "asyncio", "uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
