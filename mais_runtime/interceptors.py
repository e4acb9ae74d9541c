"""What every served and every outgoing call gets. Served: one interceptor, `ServerChain`, doing
tracing, deadlines, the structured log line, metrics, error mapping, the internal credential, the
tenant scope and the refusal of NUL characters in that order, its per-method part built once.
Outgoing: `OutgoingCalls`, applied by `mais_runtime.channels` (credential, trace context, deadline).
Measured with `python -m tools.rpc_microbench` (docs/performance.md)."""

from __future__ import annotations

import contextvars
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from mais.common.v1 import options_pb2
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram

from mais_runtime.db import DatabaseBusy
from mais_runtime.errors import DependencyUnavailable, DomainError, GrpcCode, ValidationError
from mais_runtime.rpc_errors import remote_to_domain, to_status
from mais_runtime.telemetry import TENANT_ATTRIBUTE, info_line
from mais_runtime.tenancy import current_tenant, is_tenant_id

log = logging.getLogger("mais.rpc")
tracer = trace.get_tracer("mais.rpc")

INTERNAL_TOKEN_HEADER = "x-mais-internal"  # noqa: S105 - a header name
# The absolute time.monotonic() by which the current incoming call must be answered.
current_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "current_deadline", default=None
)

RPC_TOTAL = Counter("mais_rpc_requests_total", "RPCs served", ["method", "code"])
RPC_SECONDS = Histogram(
    "mais_rpc_duration_seconds",
    "RPC latency",
    ["method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

_UNSCOPED_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


def platform_scoped_methods(services: Iterable[ServiceDescriptor]) -> frozenset[str]:
    """Full method paths marked `(mais.common.v1.scope) = RPC_SCOPE_PLATFORM`."""
    found = set()
    for service in services:
        for method in service.methods:
            if method.GetOptions().Extensions[options_pb2.scope] == options_pb2.RPC_SCOPE_PLATFORM:
                found.add(f"/{service.full_name}/{method.name}")
    return frozenset(found)


Behaviour = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
Handler = grpc.RpcMethodHandler
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]]

# Wrapped handlers kept per method (a process serves a few dozen); a bound all the same.
_MAX_METHODS = 4096


class _MethodMetrics:
    """One method's metric children, looked up once instead of on every call."""

    __slots__ = ("_by_code", "_method", "_seconds")

    def __init__(self, method: str) -> None:
        self._method = method
        self._seconds = RPC_SECONDS.labels(method)
        self._by_code: dict[str, Any] = {}

    def observe(self, code: str, seconds: float) -> None:
        counter = self._by_code.get(code)
        if counter is None:
            counter = self._by_code[code] = RPC_TOTAL.labels(self._method, code)
        counter.inc()
        self._seconds.observe(seconds)


def _tenant_of(request: Any) -> str | None:
    tenant_id = getattr(request, "tenant_id", "") or None
    return tenant_id if tenant_id and is_tenant_id(tenant_id) else None


def _code_of(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "OK"


class ServerChain(grpc.aio.ServerInterceptor):
    """Every concern of a served call in one interceptor, in this order from the outside in:

    - a server span continuing the caller's trace (W3C traceparent in the metadata), named after the
      method and carrying the request's tenant;
    - the caller's deadline made the bound of every call this one makes (`current_deadline`, read by
      the outgoing calls);
    - one structured log line (method, status code, duration, tenant when well-formed) and the
      metrics (calls by method and code, latency), both after the error mapping set the status;
    - the error mapping, the one place a failure becomes a gRPC status: a domain error with its
      ErrorInfo and BadRequest, a peer's error passed on (its text only when it is one of our
      domain errors), anything else INTERNAL with a generic message (details to the log and span);
    - the internal credential (docs/adr/0004; health checks need none), refused inside the mapping
      so that a refusal is answered, logged and counted like any other error;
    - the tenant scope: a tenant-scoped RPC needs a well-formed `tenant_id` and runs with it as the
      current tenant (platform-scoped ones, `(mais.common.v1.scope) = RPC_SCOPE_PLATFORM`, and
      health need none);
    - the refusal of U+0000 in any string of the request, naming the field.

    The per-method part (span name, scope, metric children, the wrapped handler) is built on a
    method's first call and reused; a call costs one wrapper, not one per concern. Streaming handlers
    (reflection, health watches, change feeds) get the credential check only."""

    def __init__(self, *, internal_token: str | None, platform_methods: frozenset[str] = frozenset()) -> None:
        self._token = internal_token.encode() if internal_token is not None else None
        self._platform = platform_methods
        # method -> (the servicer's handler, its wrapped form, its refusing form)
        self._wrapped: dict[str, tuple[Handler, Handler, Handler]] = {}

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        allowed = (
            self._token is None
            or method.startswith("/grpc.health.")
            or self._authorised(details.invocation_metadata)
        )
        if handler.unary_unary is None:
            return handler if allowed else _reject_unauthenticated(handler)
        entry = self._wrapped.get(method)
        if entry is None or entry[0] is not handler:
            entry = (
                handler,
                self._wrap(handler, method, refuse=False),
                self._wrap(handler, method, refuse=True),
            )
            if len(self._wrapped) < _MAX_METHODS:
                self._wrapped[method] = entry
        return entry[1] if allowed else entry[2]

    def _authorised(self, metadata: Iterable[tuple[str, Any]] | None) -> bool:
        assert self._token is not None
        for key, value in metadata or ():
            if key == INTERNAL_TOKEN_HEADER:
                given = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(given, self._token)
        return False

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str, *, refuse: bool) -> grpc.RpcMethodHandler:
        inner: Behaviour = handler.unary_unary  # type: ignore[assignment]  # aio handlers are async
        span_name = method.lstrip("/")
        scoped = method not in self._platform and not method.startswith(_UNSCOPED_PREFIXES)
        metrics = _MethodMetrics(method)

        async def serve(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            remaining = context.time_remaining()
            deadline = current_deadline.set(time.monotonic() + remaining if remaining is not None else None)
            parent = propagate.extract(
                {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
            )
            tenant_id = getattr(request, "tenant_id", "")
            span = tracer.start_span(
                span_name,
                context=parent,
                kind=SpanKind.SERVER,
                attributes={TENANT_ATTRIBUTE: tenant_id} if tenant_id else None,
            )
            attached = otel_context.attach(trace.set_span_in_context(span, parent))
            well_formed = _tenant_of(request)
            tenant = None
            try:
                try:
                    if refuse:
                        raise _unauthenticated()
                    if scoped and well_formed is None:
                        _require_tenant_id(request)  # raises, naming what is wrong with it
                    tenant = current_tenant.set(well_formed)
                    _refuse_nul_characters(request)
                    return await inner(request, context)
                except DomainError as error:
                    span.set_status(Status(StatusCode.ERROR, error.reason))
                    span.set_attribute("mais.error_reason", error.reason)
                    await _abort(context, error)
                except grpc.aio.AioRpcError as error:
                    # A downstream call failed: pass its reason on rather than hiding it as INTERNAL.
                    domain = remote_to_domain(error)
                    span.set_status(Status(StatusCode.ERROR, domain.reason))
                    await _abort(context, domain)
                except DatabaseBusy as error:
                    # A lock or statement timeout under load: the platform is slow, not broken.
                    span.set_status(Status(StatusCode.ERROR, "UNAVAILABLE"))
                    await _abort(context, error.as_unavailable())
                except Exception as error:
                    if _is_abort(error):
                        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                        raise
                    span.record_exception(error)
                    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                    log.exception("unhandled error in %s", method, extra={"rpc": method})
                    await _abort(context, DomainError("internal error", "INTERNAL", GrpcCode.INTERNAL))
            finally:
                code = _code_of(context)
                elapsed = time.perf_counter() - started
                metrics.observe(code, elapsed)
                info_line(
                    log,
                    f"rpc {method} {code}",
                    {
                        "rpc": method,
                        "code": code,
                        "duration_ms": round(elapsed * 1000, 2),
                        "tenant_id": well_formed,
                    },
                )
                if tenant is not None:
                    current_tenant.reset(tenant)
                span.end()
                otel_context.detach(attached)
                current_deadline.reset(deadline)

        return grpc.unary_unary_rpc_method_handler(
            serve,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _unauthenticated() -> DomainError:
    return DomainError("missing or wrong internal credential", "UNAUTHENTICATED", GrpcCode.UNAUTHENTICATED)


def _require_tenant_id(request: Any) -> None:
    tenant_id = getattr(request, "tenant_id", None)
    if tenant_id is None:
        raise ValidationError.of("tenant_id", "this RPC is tenant-scoped but its request has no tenant_id")
    if not tenant_id:
        raise ValidationError.of("tenant_id", "is required")
    if not is_tenant_id(tenant_id):
        raise ValidationError.of("tenant_id", "must be a UUID")


def _refuse_nul_characters(request: Any) -> None:
    # PostgreSQL text cannot hold U+0000: refused here, for every caller, as the field it came in,
    # rather than failing deep in a store as an internal error.
    if isinstance(request, Message) and _may_hold_strings(request.DESCRIPTOR):
        field = nul_field(request)
        if field is not None:
            raise ValidationError.of(field, "must not contain NUL characters")


_HOLDS_STRINGS: dict[Any, bool] = {}


def _may_hold_strings(descriptor: Any) -> bool:
    """Whether a message of this type can hold a string anywhere (nested messages and maps
    included), decided once per type: a request of numbers and flags alone is not walked."""
    known = _HOLDS_STRINGS.get(descriptor)
    if known is None:
        _HOLDS_STRINGS[descriptor] = True  # a recursive type is assumed to, while it is looked at
        known = any(
            field.type == FieldDescriptor.TYPE_STRING
            or (field.type == FieldDescriptor.TYPE_MESSAGE and _may_hold_strings(field.message_type))
            for field in descriptor.fields
        )
        if len(_HOLDS_STRINGS) < _MAX_METHODS:
            _HOLDS_STRINGS[descriptor] = known
        else:
            _HOLDS_STRINGS.pop(descriptor, None)
    return known


def nul_field(message: Message, prefix: str = "") -> str | None:
    """The JSON name (dotted path) of the first string of `message` holding a NUL character, looking
    into nested messages, repeated fields and maps."""
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_STRING:
            items = list(value) if field.is_repeated else [value]
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                items = [*value.keys(), *value.values()]
            else:
                items = list(value) if field.is_repeated else [value]
        else:
            continue
        name = prefix + field.json_name
        for item in items:
            if isinstance(item, str) and "\x00" in item:
                return name
            if isinstance(item, Message):
                found = nul_field(item, name + ".")
                if found is not None:
                    return found
    return None


async def _abort(context: grpc.aio.ServicerContext, error: DomainError) -> None:
    status = to_status(error)
    await context.abort(status.code, status.details, status.trailing_metadata)


def _is_abort(error: BaseException) -> bool:
    return type(error).__name__ in {"AbortError", "InternalError", "UsageError"}


def _reject_unauthenticated(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    async def reject(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await _abort(context, _unauthenticated())

    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            reject,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            reject,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            reject,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return grpc.stream_stream_rpc_method_handler(
        reject,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class OutgoingCalls:
    """What every outgoing call gets (see `mais_runtime.channels.Channels`): the internal credential,
    a CLIENT span whose context travels as W3C traceparent, and a deadline, the caller's own or the
    default, never past the deadline of the call being served (`current_deadline`). Applied by the
    channel's callables rather than a grpc client interceptor: grpc.aio runs an intercepted call as an
    extra task with its own call objects, which cost as much as the rest of the call."""

    def __init__(self, *, internal_token: str, default_timeout: float) -> None:
        self._credential = (INTERNAL_TOKEN_HEADER, internal_token)
        self._default_timeout = default_timeout

    def metadata(self, span: trace.Span, given: Any) -> tuple[tuple[str, Any], ...]:
        """The call's metadata: what the caller gave, the trace context of `span`, the credential."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        items = tuple(given) if given else ()
        return (*items, *carrier.items(), self._credential)

    def timeout(self, asked: float | None) -> float:
        """The call's timeout in seconds."""
        timeout = asked if asked is not None else self._default_timeout
        deadline = current_deadline.get()
        if deadline is not None:
            timeout = min(timeout, max(deadline - time.monotonic(), 0.001))
        return timeout

    def start_span(self, name: str, request: Any) -> trace.Span:
        """The CLIENT span of one call (the caller ends it)."""
        tenant_id = getattr(request, "tenant_id", "")
        return tracer.start_span(
            name, kind=SpanKind.CLIENT, attributes={TENANT_ATTRIBUTE: tenant_id} if tenant_id else None
        )


def unavailable(service: str) -> DependencyUnavailable:
    """The error to raise when a peer service cannot be reached."""
    return DependencyUnavailable(f"{service} service unavailable")
