"""The gateway's settings."""

from __future__ import annotations

from mais_runtime.settings import CommonSettings


class GatewaySettings(CommonSettings):
    """HTTP side of the platform."""

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8081
    # Bodies larger than this are refused with 413 (Envoy enforces the same limit in front).
    max_body_bytes: int = 1024 * 1024
    # How long a readiness probe waits for each service.
    readiness_timeout_seconds: float = 1.0
    public_url: str = "http://127.0.0.1:8080"
