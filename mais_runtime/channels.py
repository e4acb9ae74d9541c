"""Outgoing gRPC: one channel per target for the life of the process, every call with the
internal credential, the trace context and a deadline (see ClientInterceptor)."""

from __future__ import annotations

import functools
import importlib
import json

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions

from mais_runtime.interceptors import ClientInterceptor

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
    return json.dumps({"methodConfig": [method_config]})


class Channels:
    """Owns the process's client channels; close() at shutdown."""

    def __init__(self, *, internal_token: str, default_timeout: float) -> None:
        self._interceptor = ClientInterceptor(internal_token=internal_token, default_timeout=default_timeout)
        self._channels: dict[str, grpc.aio.Channel] = {}

    def get(self, target: str) -> grpc.aio.Channel:
        """The channel for `host:port`, created on first use and reused after."""
        channel = self._channels.get(target)
        if channel is None:
            channel = grpc.aio.insecure_channel(
                target,
                interceptors=[self._interceptor],  # type: ignore[list-item]
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
            self._channels[target] = channel
        return channel

    async def close(self) -> None:
        """Closes every channel."""
        for channel in self._channels.values():
            await channel.close(grace=None)
        self._channels.clear()
