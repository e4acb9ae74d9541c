"""python -m gateway: read config, wire, serve HTTP."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings
from mais_runtime.telemetry import setup_logging, setup_tracing


def main() -> None:
    """Runs the gateway until SIGTERM (uvicorn drains in-flight requests first)."""
    settings = GatewaySettings()
    setup_logging("gateway", settings.log_level)
    provider = setup_tracing(
        "gateway", settings.data_dir, settings.otel_exporter_otlp_endpoint, settings.trace_sample_ratio
    )
    config = uvicorn.Config(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=30,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
