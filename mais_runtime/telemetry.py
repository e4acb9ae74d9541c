"""OpenTelemetry tracing and structured JSON logs for every process.

Spans go to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, otherwise to JSON lines in
`<data>/traces/<service>.jsonl` (read by `make trace`). Every log line is one JSON object with
`trace_id`, `service` and, when known, `tenant_id`.
"""

from __future__ import annotations

import logging
import os
import re
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


_LINE_FIELDS = ("rpc", "code", "duration_ms", "status", "route", "sqlstate", "event")


class _Timestamps:
    """`2026-01-31T12:00:00.123Z` for a time.time(), the part up to the second made once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the trace and tenant the line belongs to."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._timestamp = _Timestamps()

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        message: str,
        fields: dict[str, Any],
        exc: str | None = None,
    ) -> bytes:
        """The JSON line (without its newline) of one record."""
        ctx = trace.get_current_span().get_span_context()
        line: dict[str, Any] = {
            "ts": self._timestamp(created),
            "level": level,
            "service": self.service,
            "logger": logger,
            "msg": message,
            "trace_id": format(ctx.trace_id, "032x") if ctx.is_valid else None,
        }
        tenant = fields.get("tenant_id") or current_tenant.get()
        if tenant:
            line["tenant_id"] = tenant
        for key in _LINE_FIELDS:
            value = fields.get(key)
            if value is not None:
                line[key] = value
        if exc is not None:
            line["exc"] = exc
        return orjson.dumps(line)

    def format(self, record: logging.LogRecord) -> str:
        fields = {key: getattr(record, key, None) for key in ("tenant_id", *_LINE_FIELDS)}
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(
            record.created, record.levelname, record.name, record.getMessage(), fields, exc
        ).decode()


class JsonLinesHandler(logging.Handler):
    """Writes JSON lines to a file descriptor (stderr) through a buffer: a warning or worse is written
    at once, anything else within `flush_seconds` (a background thread) or when the buffer fills, and
    at exit (logging.shutdown flushes every handler). One write call per batch instead of per line."""

    def __init__(
        self, formatter: JsonFormatter, fd: int = 2, flush_seconds: float = 0.2, max_buffer: int = 64 * 1024
    ) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.json = formatter
        self._fd = fd
        self._max_buffer = max_buffer
        self._buffer = bytearray()
        self._buffer_lock = threading.Lock()
        self._stopped = threading.Event()
        self._flush_seconds = flush_seconds
        self._flusher = threading.Thread(target=self._flush_regularly, name="log flusher", daemon=True)
        self._flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record).encode()
        except Exception:
            self.handleError(record)
            return
        self.write(line, urgent=record.levelno >= logging.WARNING)

    def write(self, line: bytes, *, urgent: bool = False) -> None:
        """Adds one line (without its newline) to the buffer."""
        with self._buffer_lock:
            self._buffer += line
            self._buffer += b"\n"
            if urgent or len(self._buffer) >= self._max_buffer:
                self._write_out()

    def flush(self) -> None:
        with self._buffer_lock:
            self._write_out()

    def close(self) -> None:
        self._stopped.set()
        self.flush()
        super().close()

    def _write_out(self) -> None:
        data = memoryview(bytes(self._buffer))
        self._buffer.clear()
        while data:
            try:
                written = os.write(self._fd, data)
            except OSError:
                return  # stderr closed: nothing to tell anyone
            data = data[written:]

    def _flush_regularly(self) -> None:
        while not self._stopped.wait(self._flush_seconds):
            self.flush()


_handler: JsonLinesHandler | None = None


def info_line(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """An INFO record of `logger` with `fields` (the structured keys of JsonFormatter) written straight
    as its JSON line, without building a LogRecord: the per-call lines of the RPC chain and the
    gateway. Goes through the logging module as usual when this process's logging is not (only) the
    handler `setup_logging` installed, or INFO is off for the logger."""
    handler = _handler
    if not logger.isEnabledFor(logging.INFO):
        return
    if handler is None or logging.root.handlers != [handler] or logger.handlers or not logger.propagate:
        logger.info(message, extra=fields)
        return
    handler.write(handler.json.line(time.time(), "INFO", logger.name, message, fields))


def setup_logging(service: str, level: str = "INFO") -> None:
    """Sends every log record of this process to stderr as JSON lines."""
    global _handler
    previous = _handler
    _handler = JsonLinesHandler(JsonFormatter(service))
    if previous is not None:
        previous.close()
    root = logging.getLogger()
    root.handlers[:] = [_handler]
    root.setLevel(level)
    for noisy in ("sqlalchemy", "asyncio", "uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
