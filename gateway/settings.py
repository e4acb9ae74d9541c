"""The gateway's settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from mais_runtime.channels import grpc_target
from mais_runtime.settings import CommonSettings

# The repository's build of web/ (`make web`).
_REPO_WEB_BUILD = Path(__file__).resolve().parents[1] / "build" / "web"


class GatewaySettings(CommonSettings):
    """HTTP side of the platform."""

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8081
    # The operator port (MAIS_GATEWAY_OPERATOR_PORT, on gateway_host): the only one that answers
    # operator routes such as /metrics. 0: none, and operator routes answer 404 everywhere.
    gateway_operator_port: int = 0
    # Bodies larger than this are refused with 413 (Envoy enforces the same limit in front).
    max_body_bytes: int = 1024 * 1024
    # Subscribe to the services' change feeds (gateway/feeds.py): cached public answers then live until
    # their tenant changes (a few seconds at most) instead of 0.5 s. Off: the 0.5 s TTL only.
    change_feeds: bool = True
    # Payments' webhook worker (MAIS_PAYMENTS_WEBHOOK_ADDR; `python -m services.payments` with
    # MAIS_PAYMENTS_ROLE=webhooks): Stripe's webhooks go there on their own channel, so they never queue
    # behind checkouts. Empty: the payments service itself (MAIS_PAYMENTS_ADDR) takes them.
    payments_webhook_addr: str = ""

    @field_validator("payments_webhook_addr")
    @classmethod
    def _webhook_addresses(cls, value: str) -> str:
        """Empty, one address or the workers' list (a clear error naming the setting)."""
        if value.strip():
            grpc_target(value, "MAIS_PAYMENTS_WEBHOOK_ADDR")
        return value.strip()

    # How long the webhook route waits for payments (under Stripe's own 10 s patience).
    payments_webhook_timeout_seconds: float = 9.0
    # How long a readiness probe waits for each service.
    readiness_timeout_seconds: float = 1.0
    # The URL couples and businesses see (MAIS_PUBLIC_URL; a proxy in front sets it).
    public_url: str = "http://127.0.0.1:8080"
    # The built web front end the gateway serves (MAIS_WEB_DIR; `make web` builds it here).
    web_dir: Path = _REPO_WEB_BUILD
