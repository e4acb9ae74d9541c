"""The stack wires its services to the mail sink as production wires them to Postmark: the same
per-stack token on both sides, the sink's own port, recorded in stack.json; a real Postmark token
given to the stack means no sink."""

from __future__ import annotations

import json
from pathlib import Path

from mais_runtime.provision import SERVICES
from tools.stack.launcher import Ports, Stack, StackOptions


def _defined(tmp_path: Path, env: dict[str, str] | None = None) -> Stack:
    stack = Stack(StackOptions(data_dir=tmp_path, ports=Ports.free(), env=env or {}))
    stack.admin_database_url = "postgresql://admin@127.0.0.1:5432/mais"
    stack.mail_sink_token = "per-stack-token"
    stack._define_processes(dict.fromkeys(SERVICES, "password"))
    return stack


def test_the_services_send_to_the_sink_with_its_token(tmp_path: Path) -> None:
    stack = _defined(tmp_path)
    sink = stack.processes["mail-sink"]
    port = stack.ports.mail_sink
    assert port and port not in (stack.ports.stripe, stack.ports.public, stack.ports.booking)
    assert sink.argv[1:] == [
        "-m",
        "tools.stack.mail_sink",
        "--port",
        str(port),
        "--folder",
        str(stack.data_dir / "mail"),
    ]
    assert "per-stack-token" not in sink.argv  # the token is in the environment only
    assert sink.env["MAIS_MAIL_SINK_TOKEN"] == "per-stack-token"
    assert sink.log_path == stack.data_dir / "logs" / "mail-sink.log"
    for service in ("booking", "tenant"):
        env = stack.processes[service].env
        assert env["POSTMARK_SERVER_TOKEN"] == "per-stack-token"
        assert env["POSTMARK_API_URL"] == f"http://127.0.0.1:{port}/email"
    assert ("the mail sink", "127.0.0.1", port) in stack._needed_ports()
    stack._write_record()
    record = json.loads((stack.data_dir / "stack.json").read_text())
    assert record["ports"]["mail_sink"] == port
    assert record["mail"] == f"http://127.0.0.1:{port}/email"


def test_a_real_postmark_token_means_no_sink(tmp_path: Path) -> None:
    stack = _defined(tmp_path, env={"POSTMARK_SERVER_TOKEN": "real-server-token"})
    assert "mail-sink" not in stack.processes
    assert stack.processes["booking"].env["POSTMARK_SERVER_TOKEN"] == "real-server-token"
    assert "POSTMARK_API_URL" not in stack.processes["booking"].env
    assert all(what != "the mail sink" for what, _, _ in stack._needed_ports())
