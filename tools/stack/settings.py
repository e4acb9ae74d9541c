"""The launcher's own settings (`make run`): where the public entry listens, where data goes, which
Stripe and database to use. Every other `MAIS_*` variable of the operator's environment is handed to
the processes, each of which reads it through its own settings object."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tools.stack.launcher import DEV_WEBHOOK_SECRET, MAX_REPLICAS

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# Set by the launcher for each process (addresses, ports, its database login, the shared credential),
# so an operator's value would only break the wiring; `make run` says so and ignores them.
STACK_OWNED = frozenset(
    {
        "MAIS_TENANT_ADDR",
        "MAIS_CATALOG_ADDR",
        "MAIS_BOOKING_ADDR",
        "MAIS_PAYMENTS_ADDR",
        "MAIS_PAYMENTS_WEBHOOK_ADDR",
        "MAIS_GRPC_HOST",
        "MAIS_GRPC_PORT",
        "MAIS_METRICS_HOST",
        "MAIS_METRICS_PORT",
        "MAIS_GATEWAY_HOST",
        "MAIS_GATEWAY_PORT",
        "MAIS_GATEWAY_OPERATOR_PORT",
        "MAIS_DATABASE_URL",
        "MAIS_INTERNAL_TOKEN",
        "MAIS_STRIPE_API_BASE",
    }
)
# Read by the launcher itself (below) and passed on in the form the processes need.
LAUNCHER_READS = frozenset(
    {
        "MAIS_DATA_DIR",
        "MAIS_PUBLIC_PORT",
        "MAIS_PUBLIC_HOST",
        "MAIS_PUBLIC_URL",
        "MAIS_LOG_LEVEL",
        "MAIS_DEMO_SITE_PORT",
        "MAIS_REPLICAS",
    }
)
PASSED_PREFIXES = ("MAIS_", "POSTMARK_", "STRIPE_SANDBOX_")


class StackSettings(BaseSettings):
    """What `python -m tools.stack run` reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="MAIS_", extra="ignore")

    data_dir: Path = Path(".data")
    public_port: int = Field(default=8080, ge=1, le=65535)
    # An IP address or a host name (resolved once at start); 0.0.0.0 listens on every interface.
    public_host: str = "127.0.0.1"
    # The address couples and businesses see (a proxy in front); empty: built from host and port.
    public_url: str = ""
    log_level: LogLevel = "INFO"
    # Processes of every service, of payments' webhook worker and gateways (1 to MAX_REPLICAS).
    replicas: int = 1
    # The demo host page (a wedding business's own site embedding the widget) on 127.0.0.1; 0: none.
    demo_site_port: int = Field(default=8090, ge=0, le=65535)
    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    stripe_secret_key: str = Field(default="", validation_alias="STRIPE_SECRET_KEY")
    stripe_webhook_secret: str = Field(default=DEV_WEBHOOK_SECRET, validation_alias="STRIPE_WEBHOOK_SECRET")

    @field_validator("replicas", mode="before")
    @classmethod
    def _replicas_in_range(cls, value: object) -> int:
        """A whole number from 1 to MAX_REPLICAS, or a message that says so (not pydantic's own)."""
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and text.isdigit():
            text = int(text)
        if isinstance(text, bool) or not isinstance(text, int) or not 1 <= text <= MAX_REPLICAS:
            raise ValueError(f"MAIS_REPLICAS must be a whole number from 1 to {MAX_REPLICAS}, not {value!r}")
        return text

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        """`debug` means DEBUG (Python's logging knows only the capitals)."""
        return value.strip().upper() if isinstance(value, str) else value


def passed_through(environ: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """(the operator's settings the processes get, the names ignored because the stack sets them).
    The launcher starts its children from a clean `MAIS_*` slate, so only these reach them."""
    source = os.environ if environ is None else environ
    passed: dict[str, str] = {}
    ignored: list[str] = []
    for name, value in source.items():
        if not name.startswith(PASSED_PREFIXES) or name in LAUNCHER_READS:
            continue
        if name in STACK_OWNED:
            ignored.append(name)
        else:
            passed[name] = value
    return passed, sorted(ignored)
