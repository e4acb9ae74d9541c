"""The runtime's one server interceptor and its instrumented channels, over a real grpc.aio server on
loopback: the caller's trace continued, its deadline bounding the calls made while serving, the
credential, the tenant scope, NUL characters, the error mapping, the log line and the metrics of
every call, and the buffered JSON log handler."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from mais.tenant.v1 import tenant_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2_grpc as pb_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import REGISTRY

from mais_runtime import telemetry
from mais_runtime.channels import Channels
from mais_runtime.errors import NotFound
from mais_runtime.interceptors import current_deadline
from mais_runtime.server import server_interceptors
from mais_runtime.tenancy import current_tenant

TOKEN = "chain-test-token"
SERVICE = pb.DESCRIPTOR.services_by_name["TenantService"]


class _Spans(SpanExporter):
    def __init__(self) -> None:
        self.finished: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.finished.extend(spans)
        return SpanExportResult.SUCCESS


_SPANS = _Spans()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(_SPANS))
trace.set_tracer_provider(_provider)  # the first provider of this test process wins (a no-op after)


@dataclass
class Seen:
    """What the servicer saw while serving, per call."""

    deadlines: list[float | None] = field(default_factory=list)
    tenants: list[str | None] = field(default_factory=list)
    trace_ids: list[int] = field(default_factory=list)


class _Servicer(pb_grpc.TenantServiceServicer):
    def __init__(self, seen: Seen, peer: pb_grpc.TenantServiceStub | None = None) -> None:
        self.seen = seen
        self.peer = peer

    def _note(self) -> None:
        self.seen.deadlines.append(current_deadline.get())
        self.seen.tenants.append(current_tenant.get())
        self.seen.trace_ids.append(trace.get_current_span().get_span_context().trace_id)

    async def GetTenant(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._note()
        if request.tenant_id == "00000000-0000-4000-8000-000000000404":
            raise NotFound("tenant")
        if request.tenant_id == "00000000-0000-4000-8000-000000000500":
            raise RuntimeError("a secret detail")
        return pb.GetTenantResponse(tenant=pb.Tenant(id=request.tenant_id, name="chain"))

    async def UpdateTenant(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        # Calls the other server through the runtime's channel, so the deadline and the trace travel.
        assert self.peer is not None
        self._note()
        answer = await self.peer.GetTenant(pb.GetTenantRequest(tenant_id=request.tenant_id), timeout=30)
        return pb.UpdateTenantResponse(tenant=answer.tenant)


@dataclass
class Pair:
    """A front server that calls a back server, both with the runtime's interceptors."""

    front: pb_grpc.TenantServiceStub
    back: pb_grpc.TenantServiceStub
    front_seen: Seen
    back_seen: Seen
    back_address: str
    channels: Channels


STREAM_METHOD = "/mais.test.v1.Stream/Repeat"


async def _repeat(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
    """A server-streaming method (as a change feed is): three answers naming the caller's trace."""
    metadata = dict(context.invocation_metadata() or ())
    for n in range(3):
        yield pb.GetTenantResponse(
            tenant=pb.Tenant(id=request.tenant_id, name=f"{n} {metadata.get('traceparent')}")
        )


async def _serve(servicer: _Servicer) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server(interceptors=server_interceptors(internal_token=TOKEN, services=[SERVICE]))
    pb_grpc.add_TenantServiceServicer_to_server(servicer, server)  # type: ignore[abstract]
    stream = grpc.unary_stream_rpc_method_handler(
        _repeat,
        request_deserializer=pb.GetTenantRequest.FromString,
        response_serializer=pb.GetTenantResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("mais.test.v1.Stream", {"Repeat": stream}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    channels = Channels(internal_token=TOKEN, default_timeout=5.0)
    back_seen, front_seen = Seen(), Seen()
    back, back_address = await _serve(_Servicer(back_seen))
    back_stub = pb_grpc.TenantServiceStub(channels.get(back_address))
    front, front_address = await _serve(_Servicer(front_seen, back_stub))
    front_stub = pb_grpc.TenantServiceStub(channels.get(front_address))
    try:
        yield Pair(front_stub, back_stub, front_seen, back_seen, back_address, channels)
    finally:
        await channels.close()
        await front.stop(None)
        await back.stop(None)


def _count(method: str, code: str) -> float:
    value = REGISTRY.get_sample_value("mais_rpc_requests_total", {"method": method, "code": code})
    return value or 0.0


async def test_a_served_call_continues_the_trace_and_bounds_the_calls_it_makes(pair: Pair) -> None:
    tenant_id = str(uuid.uuid4())
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("caller") as caller:
        before = time.monotonic()
        answer = await pair.front.UpdateTenant(pb.UpdateTenantRequest(tenant_id=tenant_id), timeout=2)
    assert answer.tenant.id == tenant_id
    trace_id = caller.get_span_context().trace_id
    # One trace from the caller through both servers; the tenant is the current one while serving.
    assert pair.front_seen.trace_ids == [trace_id]
    assert pair.back_seen.trace_ids == [trace_id]
    assert pair.back_seen.tenants == [tenant_id]
    # The back call asked for 30 s, but the front call's 2 s bound it.
    front_deadline, back_deadline = pair.front_seen.deadlines[0], pair.back_seen.deadlines[0]
    assert front_deadline is not None and back_deadline is not None
    assert before < front_deadline <= before + 2.1
    assert back_deadline <= front_deadline + 0.05
    # Spans: a server span per served call, a client span per outgoing call, each with the tenant.
    names = {(s.name, s.kind.name) for s in _SPANS.finished if s.context.trace_id == trace_id}
    assert ("mais.tenant.v1.TenantService/UpdateTenant", "SERVER") in names
    assert ("mais.tenant.v1.TenantService/GetTenant", "CLIENT") in names
    assert ("mais.tenant.v1.TenantService/GetTenant", "SERVER") in names
    served = [s for s in _SPANS.finished if s.context.trace_id == trace_id and s.kind.name == "SERVER"]
    assert all((s.attributes or {}).get(telemetry.TENANT_ATTRIBUTE) == tenant_id for s in served)


async def test_refusals_and_errors_are_mapped_counted_and_spanned(pair: Pair) -> None:
    method = "/mais.tenant.v1.TenantService/GetTenant"
    unauthenticated, invalid = _count(method, "UNAUTHENTICATED"), _count(method, "INVALID_ARGUMENT")
    not_found, internal = _count(method, "NOT_FOUND"), _count(method, "INTERNAL")
    async with grpc.aio.insecure_channel(pair.back_address) as bare:
        stub = pb_grpc.TenantServiceStub(bare)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetTenant(pb.GetTenantRequest(tenant_id=str(uuid.uuid4())), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as nul:
        await pair.back.GetTenant(pb.GetTenantRequest(tenant_id="a\x00b"), timeout=5)
    # The tenant id check comes first: a malformed id is named as such.
    assert nul.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await pair.back.GetTenant(pb.GetTenantRequest(tenant_id="00000000-0000-4000-8000-000000000404"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as broken:
        await pair.back.GetTenant(pb.GetTenantRequest(tenant_id="00000000-0000-4000-8000-000000000500"))
    assert broken.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (broken.value.details() or "")
    # The front passes the peer's NOT_FOUND on rather than hiding it as INTERNAL.
    with pytest.raises(grpc.aio.AioRpcError) as passed_on:
        await pair.front.UpdateTenant(
            pb.UpdateTenantRequest(tenant_id="00000000-0000-4000-8000-000000000404")
        )
    assert passed_on.value.code() == grpc.StatusCode.NOT_FOUND
    assert _count(method, "UNAUTHENTICATED") == unauthenticated + 1
    assert _count(method, "INVALID_ARGUMENT") == invalid + 1
    assert _count(method, "NOT_FOUND") == not_found + 2
    assert _count(method, "INTERNAL") == internal + 1
    errors = [s for s in _SPANS.finished if s.kind.name == "SERVER" and s.status.status_code.name == "ERROR"]
    assert {(s.attributes or {}).get("mais.error_reason") for s in errors} >= {"NOT_FOUND", "UNAUTHENTICATED"}


async def test_nul_characters_are_refused_by_field_name(pair: Pair) -> None:
    tenant_id = str(uuid.uuid4())
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await pair.front.UpdateTenant(
            pb.UpdateTenantRequest(tenant_id=tenant_id, tenant=pb.Tenant(name="a\x00b")), timeout=5
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tenant.name" in (refused.value.details() or "")
    assert pair.front_seen.deadlines == []  # refused before the servicer ran


async def test_a_stream_needs_the_credential_and_gets_it_and_the_trace_from_the_channels(pair: Pair) -> None:
    tenant_id = str(uuid.uuid4())
    request = pb.GetTenantRequest(tenant_id=tenant_id)
    options = {
        "request_serializer": pb.GetTenantRequest.SerializeToString,
        "response_deserializer": pb.GetTenantResponse.FromString,
    }
    async with grpc.aio.insecure_channel(pair.back_address) as bare:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in bare.unary_stream(STREAM_METHOD, **options)(request, timeout=5):
                pass
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    repeat = pair.channels.get(pair.back_address).unary_stream(STREAM_METHOD, **options)
    with trace.get_tracer("test").start_as_current_span("caller") as caller:
        names = [answer.tenant.name async for answer in repeat(request, timeout=5)]
    trace_id = format(caller.get_span_context().trace_id, "032x")
    assert [name.split(" ")[0] for name in names] == ["0", "1", "2"]
    assert all(name.split(" ")[1].split("-")[1] == trace_id for name in names)


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """The runtime's log handler writing to a file, as setup_logging installs it for stderr."""
    path = tmp_path / "service.log"
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    handler = telemetry.JsonLinesHandler(telemetry.JsonFormatter("chain-test"), fd=target)
    telemetry._handler = handler
    try:
        yield path
    finally:
        telemetry._handler = None
        handler.close()
        os.close(target)


@contextmanager
def only_the_runtime_handler() -> Iterator[None]:
    """The root logger with the runtime's handler alone (pytest adds its own during a test)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    assert telemetry._handler is not None
    root.handlers[:] = [telemetry._handler]
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_every_call_writes_one_json_line_with_its_trace_and_tenant(pair: Pair, log_file: Path) -> None:
    tenant_id = str(uuid.uuid4())
    with only_the_runtime_handler(), trace.get_tracer("test").start_as_current_span("caller") as caller:
        await pair.back.GetTenant(pb.GetTenantRequest(tenant_id=tenant_id), timeout=5)
    trace_id = format(caller.get_span_context().trace_id, "032x")
    await _until(lambda: bool(log_file.read_bytes()))  # INFO lines are written by the flush
    rpc_lines = [line for line in _lines(log_file) if line.get("rpc")]
    assert len(rpc_lines) == 1
    line = rpc_lines[0]
    assert line["rpc"] == "/mais.tenant.v1.TenantService/GetTenant"
    assert line["msg"] == "rpc /mais.tenant.v1.TenantService/GetTenant OK"
    assert (line["code"], line["level"], line["service"], line["logger"]) == (
        "OK",
        "INFO",
        "chain-test",
        "mais.rpc",
    )
    assert line["tenant_id"] == tenant_id
    assert line["trace_id"] == trace_id
    assert isinstance(line["duration_ms"], float)
    assert line["ts"].endswith("Z") and len(line["ts"]) == len("2026-01-31T12:00:00.123Z")


async def test_a_warning_is_written_at_once_and_info_lines_by_the_flush(log_file: Path) -> None:
    log = logging.getLogger("mais.test")
    with only_the_runtime_handler():
        log.info("first", extra={"event": "one"})
        log.warning("second")
        # The warning took the buffered info line with it, in order, without waiting for the flush.
        written = _lines(log_file)
        telemetry.info_line(log, "third", {"route": "/x", "status": 200})
        await _until(lambda: len(_lines(log_file)) >= 3)
    assert [(line["msg"], line["level"]) for line in written] == [("first", "INFO"), ("second", "WARNING")]
    assert written[0]["event"] == "one"
    third = _lines(log_file)[2]
    assert (third["msg"], third["route"], third["status"]) == ("third", "/x", 200)
    assert (third["logger"], third["level"], third["service"]) == ("mais.test", "INFO", "chain-test")


async def test_info_line_goes_through_logging_when_another_handler_is_installed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="mais.test"):
        telemetry.info_line(logging.getLogger("mais.test"), "through logging", {"route": "/y", "status": 201})
    record = next(r for r in caplog.records if r.getMessage() == "through logging")
    assert (getattr(record, "route", None), getattr(record, "status", None)) == ("/y", 201)
