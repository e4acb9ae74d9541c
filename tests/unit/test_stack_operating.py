"""The launcher's operating rules without starting anything: which settings reach the processes,
how internal ports are chosen and recorded, how the public host is read."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from mais_runtime.telemetry import route_of
from tools.stack.launcher import PortInUse, Ports, Stack, StackOptions, free_port, listen_address
from tools.stack.settings import StackSettings, passed_through


@pytest.fixture
def listener() -> Iterator[int]:
    """A port something listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_every_documented_setting_reaches_the_processes_but_the_wiring_stays_the_stacks() -> None:
    passed, ignored = passed_through(
        {
            "MAIS_CHECKOUT_RATE_LIMIT": "3",
            "MAIS_CHECKOUT_RATE_WINDOW_SECONDS": "600",
            "MAIS_TRACE_SAMPLE_RATIO": "0.1",
            "MAIS_MAIL_FROM": "Desk <desk@example.test>",
            "POSTMARK_SERVER_TOKEN": "pm-token",
            "MAIS_ADMIN_EMAIL": "root@example.test",
            "MAIS_DATA_DIR": "/elsewhere",
            "MAIS_PUBLIC_URL": "https://book.example.test",
            "MAIS_GRPC_PORT": "1",
            "MAIS_DATABASE_URL": "postgresql://x",
            "HOME": "/root",
        }
    )
    assert passed == {
        "MAIS_CHECKOUT_RATE_LIMIT": "3",
        "MAIS_CHECKOUT_RATE_WINDOW_SECONDS": "600",
        "MAIS_TRACE_SAMPLE_RATIO": "0.1",
        "MAIS_MAIL_FROM": "Desk <desk@example.test>",
        "POSTMARK_SERVER_TOKEN": "pm-token",
        "MAIS_ADMIN_EMAIL": "root@example.test",
    }
    assert ignored == ["MAIS_DATABASE_URL", "MAIS_GRPC_PORT"]


def test_an_unknown_log_level_is_refused_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIS_LOG_LEVEL", "LOUD")
    with pytest.raises(ValueError, match="log_level"):
        StackSettings()


def test_internal_ports_are_last_runs_when_still_free(listener: int) -> None:
    kept = free_port()
    ports = Ports.choose(8080, {"gateway": kept, "booking": listener, "tenant": kept})
    assert ports.public == 8080
    assert ports.gateway == kept
    assert ports.booking != listener, "a port in use is replaced"
    assert ports.tenant != kept, "no two parts share a port"
    values = [v for v in asdict(ports).values() if isinstance(v, int)]
    assert len(values) == len(set(values))


def test_extra_gateways_get_their_own_api_and_metrics_ports() -> None:
    ports = Ports.free(gateways=3)
    pairs = ports.gateway_pairs()
    assert len(pairs) == 3
    flat = [port for pair in pairs for port in pair]
    assert len(set(flat)) == 6


def test_a_stack_whose_internal_port_is_taken_refuses_naming_that_port(tmp_path: Path, listener: int) -> None:
    ports = Ports.free()
    ports.booking = listener
    stack = Stack(StackOptions(data_dir=tmp_path, ports=ports, durable=False, restart=False))
    with pytest.raises(PortInUse, match=rf"port {listener} on 127.0.0.1 \(booking\)"):
        stack.start(timeout=1)
    assert stack.processes == {}


def test_the_public_host_may_be_a_name_and_a_wildcard_gets_links_on_loopback(tmp_path: Path) -> None:
    assert listen_address("localhost") in ("127.0.0.1", "::1")
    assert listen_address("10.1.2.3") == "10.1.2.3"
    with pytest.raises(ValueError, match="does not resolve"):
        listen_address("no-such-host.invalid")
    ports = Ports.free()
    wildcard = Stack(StackOptions(data_dir=tmp_path, ports=ports, public_host="0.0.0.0"))
    assert wildcard.url == f"http://127.0.0.1:{ports.public}"
    assert wildcard.public_url == f"http://127.0.0.1:{ports.public}"
    proxied = Stack(StackOptions(data_dir=tmp_path, ports=ports, public_url="https://book.example.test/"))
    assert proxied.public_url == "https://book.example.test"


def test_span_names_of_outgoing_calls_keep_the_route_not_the_object() -> None:
    assert route_of("/v1/accounts/acct_1Nx2abcDEF/login_links") == "/v1/accounts/{id}/login_links"
    assert route_of("/v1/checkout/sessions") == "/v1/checkout/sessions"
    assert route_of("/v1/checkout/sessions/cs_test_a1b2c3d4/expire") == "/v1/checkout/sessions/{id}/expire"


def test_a_log_level_in_small_letters_is_understood(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIS_LOG_LEVEL", "debug")
    assert StackSettings().log_level == "DEBUG"
