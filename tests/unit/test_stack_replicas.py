"""Replicas in the launcher's contract (MAIS_REPLICAS, process names, ports, the address lists the
processes get) and the address lists a channel accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.settings import GatewaySettings
from mais_runtime.channels import grpc_target, service_config
from mais_runtime.provision import SERVICES
from mais_runtime.settings import CommonSettings
from tools.stack.__main__ import run
from tools.stack.launcher import Ports, Stack, StackOptions
from tools.stack.settings import StackSettings


@pytest.mark.parametrize("value", ["0", "5", "two", "-1", "1.5", ""])
def test_a_replica_count_out_of_range_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MAIS_REPLICAS", value)
    with pytest.raises(ValueError, match="MAIS_REPLICAS must be a whole number from 1 to 4"):
        StackSettings()


def test_a_replica_count_in_range_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIS_REPLICAS", " 3 ")
    assert StackSettings().replicas == 3
    monkeypatch.delenv("MAIS_REPLICAS")
    assert StackSettings().replicas == 1


@pytest.mark.parametrize("replicas", [0, 5, True])
def test_a_stack_refuses_a_replica_count_out_of_range(tmp_path: Path, replicas: int) -> None:
    with pytest.raises(ValueError, match="replicas must be a whole number from 1 to 4"):
        Stack(StackOptions(data_dir=tmp_path, ports=Ports.free(), replicas=replicas))


def test_every_replica_gets_its_own_ports_and_last_runs_are_kept() -> None:
    ports = Ports.free(replicas=3)
    numbers = [ports.public, ports.envoy_admin, ports.postgres, ports.stripe]
    for part in (*SERVICES, "payments-webhooks"):
        pairs = ports.replica_pairs(part)
        assert len(pairs) == 3
        numbers += [n for pair in pairs for n in pair]
    assert len(ports.gateway_pairs()) == 3
    numbers += [n for pair in ports.gateway_pairs() for n in pair]
    assert len(numbers) == len(set(numbers))
    again = Ports.choose(ports.public, json.loads(json.dumps(vars(ports))), replicas=3)
    assert again.extra_replicas == ports.extra_replicas


def _defined(tmp_path: Path, **options: object) -> Stack:
    """A stack whose processes are defined (not started)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    stack = Stack(StackOptions(data_dir=tmp_path, ports=Ports.free(), **options))  # type: ignore[arg-type]
    stack.admin_database_url = "postgresql://admin@127.0.0.1:5432/mais"
    stack._define_processes(dict.fromkeys(SERVICES, "password"))
    return stack


def test_replicas_are_named_after_their_part_and_wired_to_every_replica(tmp_path: Path) -> None:
    stack = _defined(tmp_path, replicas=2)
    assert sorted(stack.processes) == sorted(
        [
            *[name for s in SERVICES for name in (s, f"{s}-2")],
            "payments-webhooks",
            "payments-webhooks-2",
            "gateway",
            "gateway-2",
            "envoy",
            "stripe-sandbox",
            "mail-sink",
        ]
    )
    assert stack.replicas_of("booking") == ["booking", "booking-2"]
    assert stack.replicas_of("payments-webhooks") == ["payments-webhooks", "payments-webhooks-2"]
    assert stack.replicas_of("gateway") == ["gateway", "gateway-2"]
    ports = stack.replica_ports()
    booking = [f"127.0.0.1:{ports[name]['grpc']}" for name in ("booking", "booking-2")]
    for name, process in stack.processes.items():
        if name not in ("envoy", "stripe-sandbox"):
            assert process.env["MAIS_BOOKING_ADDR"] == ",".join(booking), name
        if name in ports and "grpc" in ports[name]:
            assert process.env["MAIS_GRPC_PORT"] == str(ports[name]["grpc"])
            assert process.env["MAIS_METRICS_PORT"] == str(ports[name]["metrics"])
    webhooks = ",".join(f"127.0.0.1:{ports[n]['grpc']}" for n in ("payments-webhooks", "payments-webhooks-2"))
    assert stack.processes["gateway-2"].env["MAIS_PAYMENTS_WEBHOOK_ADDR"] == webhooks
    assert set(stack.operator_urls()) == {*ports, "envoy"}
    with pytest.raises(ValueError, match="no part 'bookings'"):
        stack.replicas_of("bookings")


def test_one_replica_keeps_todays_names_and_gateways_follow_the_larger_count(tmp_path: Path) -> None:
    one = _defined(tmp_path / "one", gateways=2)
    assert "booking-2" not in one.processes
    assert one.replicas_of("gateway") == ["gateway", "gateway-2"]
    assert ":" in one.processes["booking"].env["MAIS_BOOKING_ADDR"]
    assert "," not in one.processes["booking"].env["MAIS_BOOKING_ADDR"]
    three = _defined(tmp_path / "three", replicas=3, gateways=2)
    assert three.replicas_of("gateway") == ["gateway", "gateway-2", "gateway-3"]


def test_an_address_list_becomes_a_balanced_target_and_a_single_address_stays() -> None:
    assert grpc_target("127.0.0.1:1, 127.0.0.1:2") == "ipv4:127.0.0.1:1,127.0.0.1:2"
    assert grpc_target("[::1]:1,[::1]:2") == "ipv6:[::1]:1,[::1]:2"
    assert grpc_target("dns:///booking:50063") == "dns:///booking:50063"
    assert grpc_target("localhost:50063") == "localhost:50063"
    config = json.loads(service_config())
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert config["healthCheckConfig"] == {"serviceName": ""}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("booking:1,127.0.0.1:2", "'booking:1' is not an IP address"),
        ("127.0.0.1:0,127.0.0.1:2", "'127.0.0.1:0' is not ip:port"),
        ("127.0.0.1,127.0.0.1:2", "'127.0.0.1' is not ip:port"),
        ("127.0.0.1:1,[::1]:2", "mixes IPv4 and IPv6"),
        (",".join(f"127.0.0.1:{n}" for n in range(1, 18)), "lists 17 addresses; at most 16"),
        (" ", "is empty"),
    ],
)
def test_an_address_list_that_cannot_work_is_refused_naming_the_setting(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"MAIS_BOOKING_ADDR.*{message}"):
        CommonSettings(booking_addr=value)
    if value.strip():  # empty: no webhook worker, payments takes the webhooks
        with pytest.raises(ValueError, match=f"MAIS_PAYMENTS_WEBHOOK_ADDR.*{message}"):
            GatewaySettings(payments_webhook_addr=value)


def test_make_run_refuses_a_bad_replica_count_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("MAIS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAIS_REPLICAS", "7")
    assert run() == 2
    assert capsys.readouterr().err == "make run: MAIS_REPLICAS must be a whole number from 1 to 4, not '7'\n"
    assert not (tmp_path / "stack.json").exists()
