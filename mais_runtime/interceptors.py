"""Server and client interceptors, one concern each, as grpc's examples chain them: tracing, deadlines,
structured logs, metrics, error mapping, the internal credential, the tenant scope and the refusal of
NUL characters. `mais_runtime.server.server_interceptors` puts them in order for every service."""

from __future__ import annotations

import contextvars
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from mais.common.v1 import options_pb2
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram

from mais_runtime.errors import DependencyUnavailable, DomainError, GrpcCode, ValidationError
from mais_runtime.rpc_errors import remote_to_domain, to_status
from mais_runtime.telemetry import TENANT_ATTRIBUTE
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


@dataclass(frozen=True)
class Call:
    """What an interceptor knows of the call besides its request: the method path and the metadata."""

    method: str
    metadata: tuple[tuple[str, Any], ...]


class UnaryInterceptor(grpc.aio.ServerInterceptor):
    """One concern around every unary-unary RPC: a subclass says what it does `around` the next
    behaviour in the chain (the next interceptor's, and at the end the servicer's). Streaming
    handlers (reflection, health watches) pass through untouched."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner: Behaviour = handler.unary_unary  # type: ignore[assignment]  # aio handlers are async
        call = Call(details.method, tuple(details.invocation_metadata or ()))

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await self.around(inner, request, context, call)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    async def around(
        self, inner: Behaviour, request: Any, context: grpc.aio.ServicerContext, call: Call
    ) -> Any:
        """Runs `inner` with this interceptor's concern around it."""
        raise NotImplementedError


def _tenant_of(request: Any) -> str | None:
    tenant_id = getattr(request, "tenant_id", "") or None
    return tenant_id if tenant_id and is_tenant_id(tenant_id) else None


def _code_of(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "OK"


class TracingInterceptor(UnaryInterceptor):
    """A server span per call, continuing the caller's trace (W3C traceparent in the metadata)."""

    async def around(
        self, inner: Behaviour, request: Any, context: grpc.aio.ServicerContext, call: Call
    ) -> Any:
        parent = propagate.extract({k: v for k, v in call.metadata if isinstance(v, str)})
        with tracer.start_as_current_span(
            call.method.lstrip("/"), context=parent, kind=SpanKind.SERVER
        ) as span:
            tenant_id = getattr(request, "tenant_id", "")
            if tenant_id:
                span.set_attribute(TENANT_ATTRIBUTE, tenant_id)
            return await inner(request, context)


class DeadlineInterceptor(UnaryInterceptor):
    """Makes the caller's deadline the bound of every call this one makes (see ClientInterceptor)."""

    async def around(
        self, inner: Behaviour, request: Any, context: grpc.aio.ServicerContext, call: Call
    ) -> Any:
        remaining = context.time_remaining()
        token = current_deadline.set(time.monotonic() + remaining if remaining is not None else None)
        try:
            return await inner(request, context)
        finally:
            current_deadline.reset(token)


class LoggingInterceptor(UnaryInterceptor):
    """One structured line per call: method, status code, duration (inside the span: it carries the
    trace id, and the tenant when the request names a well-formed one)."""

    async def around(
        self, inner: Behaviour, request: Any, context: grpc.aio.ServicerContext, call: Call
    ) -> Any:
        started = time.perf_counter()
        try:
            return await inner(request, context)
        finally:
            code = _code_of(context)
            log.info(
                "rpc %s %s",
                call.method,
                code,
                extra={
                    "rpc": call.method,
                    "code": code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "tenant_id": _tenant_of(request),
                },
            )


class MetricsInterceptor(UnaryInterceptor):
    """Calls served by method and status code, and their latency."""

    async def around(
        self, inner: Behaviour, request: Any, context: grpc.aio.ServicerContext, call: Call
    ) -> Any:
        started = time.perf_counter()
        try:
            return await inner(request, context)
        finally:
            RPC_TOTAL.labels(call.method, _code_of(context)).inc()
            RPC_SECONDS.labels(call.method).observe(time.perf_counter() - started)


class ErrorMappingInterceptor(UnaryInterceptor):
    """The one place a service's failures become gRPC statuses: a domain error with its ErrorInfo and
    BadRequest, a peer's error passed on (its text only when it is one of our domain errors), anything
    else INTERNAL with a generic message (the details go to the log and the span)."""

    async def around(
        self, inner: Behaviour, request: Any, context: grpc.aio.ServicerContext, call: Call
    ) -> Any:
        span = trace.get_current_span()
        try:
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
        except Exception as error:
            if _is_abort(error):
                raise
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            log.exception("unhandled error in %s", call.method, extra={"rpc": call.method})
            await _abort(context, DomainError("internal error", "INTERNAL", GrpcCode.INTERNAL))


class CredentialInterceptor(grpc.aio.ServerInterceptor):
    """Refuses every call without the internal credential (docs/adr/0004), streaming ones included;
    health checks need none (probes, load balancers)."""

    def __init__(self, internal_token: str) -> None:
        self._token = internal_token.encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith("/grpc.health.") or self._authorised(details):
            return handler
        if handler.unary_unary is not None:
            # Raised, so that the interceptors outside map, log and count it like any other refusal.
            async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
                raise _unauthenticated()

            return grpc.unary_unary_rpc_method_handler(
                refuse,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return _reject_unauthenticated(handler)

    def _authorised(self, details: grpc.HandlerCallDetails) -> bool:
        for key, value in details.invocation_metadata or ():
            if key == INTERNAL_TOKEN_HEADER:
                given = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(given, self._token)
        return False


class TenantScopeInterceptor(UnaryInterceptor):
    """A tenant-scoped RPC needs a well-formed `tenant_id` and runs with it as the current tenant;
    platform-scoped ones (`(mais.common.v1.scope) = RPC_SCOPE_PLATFORM`) and health need none."""

    def __init__(self, platform_methods: frozenset[str]) -> None:
        self._platform = platform_methods

    async def around(
        self, inner: Behaviour, request: Any, context: grpc.aio.ServicerContext, call: Call
    ) -> Any:
        if call.method not in self._platform and not call.method.startswith(_UNSCOPED_PREFIXES):
            _require_tenant_id(request)
        token = current_tenant.set(_tenant_of(request))
        try:
            return await inner(request, context)
        finally:
            current_tenant.reset(token)


class NulCharacterInterceptor(UnaryInterceptor):
    """Refuses a request holding U+0000 in any string, naming the field (see `nul_field`)."""

    async def around(
        self, inner: Behaviour, request: Any, context: grpc.aio.ServicerContext, call: Call
    ) -> Any:
        _refuse_nul_characters(request)
        return await inner(request, context)


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
    if isinstance(request, Message):
        field = nul_field(request)
        if field is not None:
            raise ValidationError.of(field, "must not contain NUL characters")


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


class ClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds the internal credential, the trace context and a deadline to every outgoing call."""

    def __init__(self, *, internal_token: str, default_timeout: float) -> None:
        self._token = internal_token
        self._default_timeout = default_timeout

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        with tracer.start_as_current_span(method.lstrip("/"), kind=SpanKind.CLIENT) as span:
            tenant_id = getattr(request, "tenant_id", "")
            if tenant_id:
                span.set_attribute(TENANT_ATTRIBUTE, tenant_id)
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            metadata = list(details.metadata or ())
            metadata.extend(carrier.items())
            metadata.append((INTERNAL_TOKEN_HEADER, self._token))
            new_details = grpc.aio.ClientCallDetails(
                method=details.method,
                timeout=self._timeout(details.timeout),
                metadata=grpc.aio.Metadata(*metadata),
                credentials=details.credentials,
                wait_for_ready=details.wait_for_ready,
            )
            call = await continuation(new_details, request)
            try:
                await call
            except grpc.aio.AioRpcError as error:
                span.set_status(Status(StatusCode.ERROR, error.code().name))
                raise
            return call

    def _timeout(self, asked: float | None) -> float:
        timeout = asked if asked is not None else self._default_timeout
        deadline = current_deadline.get()
        if deadline is not None:
            timeout = min(timeout, max(deadline - time.monotonic(), 0.001))
        return timeout


def unavailable(service: str) -> DependencyUnavailable:
    """The error to raise when a peer service cannot be reached."""
    return DependencyUnavailable(f"{service} service unavailable")
