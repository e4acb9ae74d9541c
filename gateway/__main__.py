"""python -m gateway: read config, wire, serve HTTP."""

from __future__ import annotations

import socket

import uvicorn

from gateway.app import create_app
from gateway.drain import Drain, DrainingServer, DrainMiddleware
from gateway.settings import GatewaySettings
from mais_runtime.telemetry import setup_logging, setup_tracing


def main() -> None:
    """Runs the gateway until SIGTERM: it drains (gateway/drain.py), then uvicorn lets in-flight requests
    finish."""
    settings = GatewaySettings()
    setup_logging("gateway", settings.log_level)
    provider = setup_tracing(
        "gateway", settings.data_dir, settings.otel_exporter_otlp_endpoint, settings.trace_sample_ratio
    )
    # One app on two sockets: the API port Envoy sends traffic to, and the operator port where
    # operator routes answer (each request's scope names the port it came in on).
    ports = [settings.gateway_port]
    if settings.gateway_operator_port:
        ports.append(settings.gateway_operator_port)
    sockets = [listening_socket(settings.gateway_host, port) for port in ports]
    drain = Drain()
    config = uvicorn.Config(
        DrainMiddleware(create_app(settings), drain=drain),
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=30,
    )
    try:
        DrainingServer(config, drain, settings.shutdown_drain_seconds).run(sockets=sockets)
    finally:
        provider.shutdown()


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket (uvicorn serves on sockets it is handed)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


if __name__ == "__main__":
    main()
