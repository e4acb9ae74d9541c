"""The stack's PgBouncer wiring without starting anything: MAIS_PGBOUNCER read (and a bad value refused
naming it), the services' database settings through PgBouncer with a direct URL beside for LISTEN and
migrations, and nothing changed when it is off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mais_runtime.provision import SERVICES
from mais_runtime.settings import ServiceSettings
from tools.stack import pgbouncer
from tools.stack.launcher import Ports, Stack, StackOptions
from tools.stack.settings import StackSettings, passed_through


def test_mais_pgbouncer_is_read_by_the_launcher_and_a_bad_value_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert StackSettings().pgbouncer is False
    monkeypatch.setenv("MAIS_PGBOUNCER", "1")
    assert StackSettings().pgbouncer is True
    monkeypatch.setenv("MAIS_PGBOUNCER", "perhaps")
    with pytest.raises(ValueError, match="pgbouncer"):
        StackSettings()
    passed, ignored = passed_through({"MAIS_PGBOUNCER": "1", "MAIS_DATABASE_DIRECT_URL": "postgresql://x"})
    assert passed == {} and ignored == ["MAIS_DATABASE_DIRECT_URL"]


def _wiring(tmp_path: Path, on: bool) -> tuple[Stack, dict[str, dict[str, str]], dict[str, list[str]]]:
    stack = Stack(StackOptions(data_dir=tmp_path, ports=Ports.free(), pgbouncer=on))
    stack.admin_database_url = "postgresql://postgres:pw@127.0.0.1:5999/mais"
    added: dict[str, list[str]] = {}

    def add(name: str, argv: list[str], extra: dict[str, Any]) -> None:
        added[name] = argv

    env = stack._database_env({s: f"pw-{s}" for s in SERVICES}, add)
    return stack, env, added


def test_with_pgbouncer_the_pools_go_through_it_and_listen_and_migrations_stay_direct(tmp_path: Path) -> None:
    stack, env, added = _wiring(tmp_path, on=True)
    port = stack.ports.pgbouncer
    for service in SERVICES:
        assert (
            env[service]["MAIS_DATABASE_URL"]
            == f"postgresql://mais_{service}:pw-{service}@127.0.0.1:{port}/mais"
        )
        assert (
            env[service]["MAIS_DATABASE_DIRECT_URL"]
            == f"postgresql://mais_{service}:pw-{service}@127.0.0.1:5999/mais"
        )
        assert env[service]["MAIS_DB_TRANSACTION_POOLER"] == "true"
    assert added["pgbouncer"][-1] == str(tmp_path.resolve() / "pgbouncer" / "pgbouncer.ini")
    ini = (tmp_path / "pgbouncer" / "pgbouncer.ini").read_text()
    assert "mais = host=127.0.0.1 port=5999 dbname=mais" in ini and f"listen_port = {port}" in ini
    assert '"mais_booking" "pw-booking"' in (tmp_path / "pgbouncer" / "pgbouncer-users.txt").read_text()
    assert ("PgBouncer", "127.0.0.1", port) in stack._needed_ports()

    settings = ServiceSettings(**{k.removeprefix("MAIS_").lower(): v for k, v in env["catalog"].items()})
    assert settings.db_transaction_pooler is True
    assert settings.session_database_url == env["catalog"]["MAIS_DATABASE_DIRECT_URL"]


def test_without_pgbouncer_nothing_changes(tmp_path: Path) -> None:
    stack, env, added = _wiring(tmp_path, on=False)
    assert added == {}
    assert env["booking"] == {"MAIS_DATABASE_URL": "postgresql://mais_booking:pw-booking@127.0.0.1:5999/mais"}
    assert not (tmp_path / "pgbouncer").exists()
    assert all(what != "PgBouncer" for what, _, _ in stack._needed_ports())
    assert ServiceSettings(database_url="postgresql://a").session_database_url == "postgresql://a"


def test_a_pooled_url_keeps_the_role_and_an_escaped_password() -> None:
    url = pgbouncer.pooled_url("postgresql://mais_tenant:p%40ss%2Fw@10.0.0.5:5432/mais", 6432)
    assert url == "postgresql://mais_tenant:p%40ss%2Fw@127.0.0.1:6432/mais"
