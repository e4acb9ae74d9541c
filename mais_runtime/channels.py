"""Outgoing gRPC: one channel per target for the life of the process, every call with the
internal credential, the trace context and a deadline (see ClientInterceptor)."""

from __future__ import annotations

import grpc

from mais_runtime.interceptors import ClientInterceptor


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
                ],
            )
            self._channels[target] = channel
        return channel

    async def close(self) -> None:
        """Closes every channel."""
        for channel in self._channels.values():
            await channel.close(grace=None)
        self._channels.clear()
