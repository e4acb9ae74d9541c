"""Outgoing gRPC: one channel per target for the life of the process, every call with the
internal credential, the trace context and a deadline (see OutgoingCalls).

A target may list a service's replicas (`127.0.0.1:50063,127.0.0.1:50073`): the channel balances over
them with gRPC's round_robin and takes out a replica whose health (grpc.health.v1, overall) is not
SERVING, a draining one included (docs/adr/0032)."""

from __future__ import annotations

import functools
import importlib
import ipaddress
import json
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions
from opentelemetry.trace import Status, StatusCode

from mais_runtime.interceptors import OutgoingCalls

# Verbs of RPCs that change nothing (the contract's style, docs/adr/0019, checks that no read is
# marked as a mutation and every mutation declares how a retry is kept from acting twice).
# "Watch": a server stream of changes (mais_runtime/change_feed.py) changes nothing either.
READ_VERBS = ("Get", "List", "Count", "Check", "Resolve", "Verify", "Describe", "Quote", "Watch")
_SERVICE_MODULES = (
    "mais.booking.v1.booking_service_pb2",
    "mais.catalog.v1.catalog_service_pb2",
    "mais.payments.v1.payments_service_pb2",
    "mais.tenant.v1.tenant_service_pb2",
)
# A call that found its peer unavailable (restarting, draining, its connection just lost) is tried
# again, three times at most (about 1.5 s in all), within the call's own deadline: only calls that are
# safe to repeat. Other calls fail fast and their callers decide (a checkout's hold is made again with
# its key).
_RETRY_POLICY = {
    "maxAttempts": 4,
    "initialBackoff": "0.2s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


# A service's replicas in one address list, at most (MAIS_*_ADDR).
MAX_ADDRESSES = 16


def grpc_target(addresses: str, setting: str = "address") -> str:
    """The channel target for one service: a single address as given (`host:port`, or a gRPC target
    such as `dns:///booking:50063`, whose resolver may give several), a comma-separated list of
    `ip:port` as `ipv4:a,b` (or `ipv6:`) for round_robin over exactly those replicas. A ValueError
    naming `setting` for a list that cannot work (a name, a bad port, empty, too long, IPv4 and IPv6
    mixed)."""
    parts = [part.strip() for part in addresses.split(",")]
    if len(parts) == 1:
        if not parts[0]:
            raise ValueError(f"{setting} is empty; give host:port")
        return parts[0]
    if len(parts) > MAX_ADDRESSES:
        raise ValueError(f"{setting} lists {len(parts)} addresses; at most {MAX_ADDRESSES}")
    families = set()
    for part in parts:
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{setting}: {part!r} is not ip:port (a port from 1 to 65535)")
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise ValueError(
                f"{setting}: {part!r} is not an IP address; a list of replicas takes ip:port only "
                "(a name goes alone, e.g. dns:///booking:50063)"
            ) from None
        families.add(ip.version)
    if len(families) > 1:
        raise ValueError(f"{setting} mixes IPv4 and IPv6 addresses")
    return f"ipv{families.pop()}:" + ",".join(parts)


def safe_to_repeat(method: MethodDescriptor) -> bool:
    """A read, or a mutation the contract declares idempotent (repeating it changes nothing more)."""
    level = method.GetOptions().idempotency_level
    return method.name.startswith(READ_VERBS) or level in (
        MethodOptions.IDEMPOTENT,
        MethodOptions.NO_SIDE_EFFECTS,
    )


@functools.cache
def service_config() -> str:
    """The channels' service config: the retry policy for every RPC that is safe to repeat."""
    names = []
    for module_name in _SERVICE_MODULES:
        module = importlib.import_module(module_name)
        for service in module.DESCRIPTOR.services_by_name.values():
            names += [
                {"service": service.full_name, "method": method.name}
                for method in service.methods
                if safe_to_repeat(method)
            ]
    # No waitForReady: a peer that is down stays a fast UNAVAILABLE once the attempts are spent (a
    # webhook answers 500 at once and Stripe retries; a page says so), the attempts covering the
    # moment a restarted peer's connection is re-made.
    method_config = {"name": names, "retryPolicy": _RETRY_POLICY}
    return json.dumps(
        {
            # Every call picks the next ready replica; a replica whose overall health is not SERVING
            # (draining on SIGTERM, its database watch aside) or whose connection is down gets none.
            "loadBalancingConfig": [{"round_robin": {}}],
            "healthCheckConfig": {"serviceName": ""},
            "methodConfig": [method_config],
        }
    )


class _UnaryUnary:
    """A channel's unary-unary callable with OutgoingCalls applied: awaiting it gives the answer."""

    __slots__ = ("_calls", "_inner", "_span_name")

    def __init__(self, inner: Any, method: str, calls: OutgoingCalls) -> None:
        self._inner = inner
        self._span_name = method.lstrip("/")
        self._calls = calls

    async def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        calls = self._calls
        span = calls.start_span(self._span_name, request)
        try:
            return await self._inner(
                request,
                timeout=calls.timeout(timeout),
                metadata=calls.metadata(span, metadata),
                credentials=credentials,
                wait_for_ready=wait_for_ready,
                compression=compression,
            )
        except grpc.aio.AioRpcError as error:
            span.set_status(Status(StatusCode.ERROR, error.code().name))
            raise
        finally:
            span.end()


class _UnaryStream:
    """A channel's unary-stream callable with the credential and the trace context added (no default
    deadline: a stream such as a change feed lives as long as its caller wants)."""

    __slots__ = ("_calls", "_inner", "_span_name")

    def __init__(self, inner: Any, method: str, calls: OutgoingCalls) -> None:
        self._inner = inner
        self._span_name = method.lstrip("/")
        self._calls = calls

    def __call__(self, request: Any, *, metadata: Any = None, **options: Any) -> Any:
        span = self._calls.start_span(self._span_name, request)
        try:
            return self._inner(request, metadata=self._calls.metadata(span, metadata), **options)
        finally:
            span.end()


class InstrumentedChannel(grpc.aio.Channel):
    """A grpc.aio channel whose unary-unary and unary-stream callables apply OutgoingCalls; the rest
    (close, state, the streaming-request kinds) is the wrapped channel's own."""

    def __init__(self, channel: grpc.aio.Channel, calls: OutgoingCalls) -> None:
        self._channel = channel
        self._calls = calls

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """As grpc.aio.Channel.unary_unary."""
        return _UnaryUnary(self._channel.unary_unary(method, *args, **kwargs), method, self._calls)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """As grpc.aio.Channel.unary_stream."""
        return _UnaryStream(self._channel.unary_stream(method, *args, **kwargs), method, self._calls)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """As grpc.aio.Channel.stream_unary (not instrumented: no service has such an RPC)."""
        return self._channel.stream_unary(method, *args, **kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """As grpc.aio.Channel.stream_stream (not instrumented: no service has such an RPC)."""
        return self._channel.stream_stream(method, *args, **kwargs)

    async def __aenter__(self) -> InstrumentedChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._channel.close(None)

    async def close(self, grace: float | None = None) -> None:
        """Closes the wrapped channel."""
        await self._channel.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        """As grpc.aio.Channel.get_state."""
        return self._channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        """As grpc.aio.Channel.wait_for_state_change."""
        await self._channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        """As grpc.aio.Channel.channel_ready."""
        await self._channel.channel_ready()


class Channels:
    """Owns the process's client channels; close() at shutdown."""

    def __init__(self, *, internal_token: str, default_timeout: float) -> None:
        self._calls = OutgoingCalls(internal_token=internal_token, default_timeout=default_timeout)
        self._channels: dict[str, InstrumentedChannel] = {}

    def get(self, target: str) -> InstrumentedChannel:
        """The channel for `host:port` (or a list of replicas, see grpc_target), created on first use
        and reused after."""
        channel = self._channels.get(target)
        if channel is None:
            raw = grpc.aio.insecure_channel(
                grpc_target(target),
                options=[
                    ("grpc.keepalive_time_ms", 30000),
                    ("grpc.keepalive_timeout_ms", 5000),
                    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
                    # Reconnect quickly after a peer restarts instead of waiting out a long backoff.
                    ("grpc.initial_reconnect_backoff_ms", 200),
                    ("grpc.max_reconnect_backoff_ms", 2000),
                    ("grpc.enable_retries", 1),
                    ("grpc.service_config", service_config()),
                ],
            )
            channel = self._channels[target] = InstrumentedChannel(raw, self._calls)
        return channel

    async def close(self) -> None:
        """Closes every channel."""
        for channel in self._channels.values():
            await channel.close(grace=None)
        self._channels.clear()
