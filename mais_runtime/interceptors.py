"""Server and client interceptors: internal authentication, tenant scope, tracing, deadlines,
error mapping, structured logs and metrics. Every service gets all of them from `serve()`."""

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


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every unary RPC of our services."""

    def __init__(self, *, internal_token: str, platform_methods: frozenset[str]) -> None:
        self._token = internal_token.encode()
        self._platform = platform_methods

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method
        # Health checks need no credential (probes, load balancers); everything else does.
        authorised = method.startswith("/grpc.health.") or self._authorised(details)
        if handler is None or handler.unary_unary is None:
            return handler if handler is None or authorised else _reject_unauthenticated(handler)
        inner = handler.unary_unary
        platform = method in self._platform or method.startswith(_UNSCOPED_PREFIXES)
        metadata = dict(details.invocation_metadata or ())

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await self._call(inner, request, context, method, platform, authorised, metadata)  # type: ignore[arg-type]

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _authorised(self, details: grpc.HandlerCallDetails) -> bool:
        for key, value in details.invocation_metadata or ():
            if key == INTERNAL_TOKEN_HEADER:
                given = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(given, self._token)
        return False

    async def _call(
        self,
        inner: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]],
        request: Any,
        context: grpc.aio.ServicerContext,
        method: str,
        platform: bool,
        authorised: bool,
        metadata: dict[str, Any],
    ) -> Any:
        started = time.perf_counter()
        parent = propagate.extract({k: v for k, v in metadata.items() if isinstance(v, str)})
        remaining = context.time_remaining()
        deadline_token = current_deadline.set(time.monotonic() + remaining if remaining is not None else None)
        tenant_id = getattr(request, "tenant_id", "") or None
        tenant_token = current_tenant.set(tenant_id if tenant_id and is_tenant_id(tenant_id) else None)
        code = "OK"
        with tracer.start_as_current_span(method.lstrip("/"), context=parent, kind=SpanKind.SERVER) as span:
            if tenant_id:
                span.set_attribute(TENANT_ATTRIBUTE, tenant_id)
            try:
                if not authorised:
                    raise DomainError(
                        "missing or wrong internal credential", "UNAUTHENTICATED", GrpcCode.UNAUTHENTICATED
                    )
                if not platform:
                    _require_tenant_id(request)
                _refuse_nul_characters(request)
                return await inner(request, context)
            except DomainError as error:
                code = error.code.value
                span.set_status(Status(StatusCode.ERROR, error.reason))
                span.set_attribute("mais.error_reason", error.reason)
                await _abort(context, error)
            except grpc.aio.AioRpcError as error:
                # A downstream call failed: pass its reason on rather than hiding it as INTERNAL.
                domain = remote_to_domain(error)
                code = domain.code.value
                span.set_status(Status(StatusCode.ERROR, domain.reason))
                await _abort(context, domain)
            except Exception as error:
                if _is_abort(error):
                    raise
                code = "INTERNAL"
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                log.exception("unhandled error in %s", method, extra={"rpc": method})
                await _abort(context, DomainError("internal error", "INTERNAL", GrpcCode.INTERNAL))
            finally:
                # Inside the span, so the line carries the trace id.
                elapsed = time.perf_counter() - started
                RPC_TOTAL.labels(method, code).inc()
                RPC_SECONDS.labels(method).observe(elapsed)
                log.info(
                    "rpc %s %s",
                    method,
                    code,
                    extra={"rpc": method, "code": code, "duration_ms": round(elapsed * 1000, 2)},
                )
                current_tenant.reset(tenant_token)
                current_deadline.reset(deadline_token)


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
        await _abort(
            context,
            DomainError("missing or wrong internal credential", "UNAUTHENTICATED", GrpcCode.UNAUTHENTICATED),
        )

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
