"""Typed settings read from the environment, one object per process.

Every process reads its configuration here, once, at start; nothing else reads os.environ.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mais_runtime.channels import grpc_target


class CommonSettings(BaseSettings):
    """What every process needs: where its data and telemetry go and how to reach its peers."""

    model_config = SettingsConfigDict(env_prefix="MAIS_", extra="ignore")

    data_dir: Path = Path(".data")
    log_level: str = "INFO"
    # The shared credential every internal gRPC call carries (metadata "x-mais-internal").
    internal_token: str = "mais-dev-internal-token"  # noqa: S105 - dev default; the stack generates one
    otel_exporter_otlp_endpoint: str = Field(default="", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    # Share of requests whose spans are recorded (MAIS_TRACE_SAMPLE_RATIO); services follow the gateway's
    # decision. Unrecorded requests still carry a trace id, in X-Request-ID and in every log line.
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    # Each service's address, or its replicas' as a comma-separated list (ip:port,ip:port; the client
    # balances over them, mais_runtime/channels.py).
    tenant_addr: str = "127.0.0.1:50061"
    catalog_addr: str = "127.0.0.1:50062"
    booking_addr: str = "127.0.0.1:50063"
    payments_addr: str = "127.0.0.1:50064"
    # Deadline for an outgoing gRPC call when the caller's own deadline does not say less.
    rpc_timeout_seconds: float = 5.0
    # On SIGTERM, still answering for this long while telling callers to go elsewhere (a service's health
    # NOT_SERVING for the clients' health watches; a gateway's answers marked for Envoy, gateway/drain.py;
    # docs/adr/0032), then no new calls or connections and a grace period for the in-flight ones.
    shutdown_drain_seconds: float = Field(default=1.0, ge=0.0, le=30.0)

    @field_validator("tenant_addr", "catalog_addr", "booking_addr", "payments_addr")
    @classmethod
    def _addresses(cls, value: str, info: ValidationInfo) -> str:
        """One address or a list of replicas a channel can use (a clear error naming the setting)."""
        grpc_target(value, f"MAIS_{(info.field_name or '').upper()}")
        return value.strip()


class ServiceSettings(CommonSettings):
    """A gRPC service with its own schema."""

    grpc_host: str = "127.0.0.1"
    grpc_port: int = 0
    # Where the Prometheus endpoint binds (the stack gives each replica its own port; 0: none).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    # This service's own login role; the stack launcher provisions it.
    database_url: str = ""
    # The same role straight to PostgreSQL when database_url goes through a transaction-mode pooler:
    # what needs a session of its own (LISTEN for the change feeds, migrations' advisory lock) uses it.
    # Empty: database_url is direct already.
    database_direct_url: str = ""
    # A fixed pool (connections are opened on first use and kept): what SQLAlchemy's 10 + 5 overflow allowed.
    db_pool_size: int = 15
    db_pool_timeout_seconds: float = 5.0
    db_statement_timeout_ms: int = 5000
    db_lock_timeout_ms: int = 2000
    db_connect_timeout_seconds: float = 5.0
    # asyncpg's prepared statements per connection (0 turns them off).
    db_statement_cache_size: int = 100
    # A transaction-mode pooler (PgBouncer) sits in front: no named prepared statements, and the session
    # settings (search_path, timeouts) are sent as SET LOCAL with every BEGIN.
    db_transaction_pooler: bool = False
    shutdown_grace_seconds: float = 10.0
    # Apply the service's migrations at start (one machine). False where a migrations Job runs them before
    # a release starts (Kubernetes): the service then only checks the schema is exactly its own, or refuses.
    migrate_on_start: bool = True

    @property
    def session_database_url(self) -> str:
        """The URL for a connection that keeps session state (LISTEN, a session advisory lock): the direct
        one when a pooler sits in database_url's path."""
        return self.database_direct_url or self.database_url
