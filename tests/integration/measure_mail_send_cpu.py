"""A measurement, not a test (no assertion on speed; `make test` does not collect it): the sending
process's CPU per message for the file sink (`FileMailer`: the MIME message built and written in the
process) and for `PostmarkMailer` to the stack's mail sink (JSON over HTTP on one keep-alive client; and,
for comparison, a new client per send as before), with the sink process's own CPU per message. The
message is a confirmation's shape: both parts, a non-ASCII subject and business name, an .ics attached.
Run alone: `.venv/bin/python -m pytest -q -s tests/integration/measure_mail_send_cpu.py`."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psutil

from mais_runtime.mail import FileMailer, Mail, PostmarkMailer, postmark_body
from tests.integration.test_mail_sink import SENDER, TOKEN, Sink, a_mail, sink

__all__ = ["sink"]
N = 300
ROUNDS = 3


def _sink_cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def _one_client_per_send(url: str, mail: Mail) -> None:
    """How PostmarkMailer sent before: a new AsyncClient (and connection) for every message."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            url,
            json=postmark_body(mail, SENDER),
            headers={"X-Postmark-Server-Token": TOKEN, "Accept": "application/json"},
        )
    assert answer.status_code == 200


async def test_measure(sink: Sink, tmp_path: Path) -> None:
    url = f"{sink.url}/email"
    mailer = PostmarkMailer(TOKEN, SENDER, url, timeout=10)
    pid = sink.process.pid
    assert pid is not None
    lines = []
    offset = 0
    try:
        for round_ in range(ROUNDS):
            for mode in ("FileMailer", "PostmarkMailer -> sink", "a client per send -> sink"):
                files = FileMailer(tmp_path / f"file-{round_}", SENDER)
                mails = [a_mail(f"m:{offset + i}") for i in range(N)]
                offset += N
                sink_before, cpu, wall = _sink_cpu(pid), time.process_time(), time.perf_counter()
                for mail in mails:
                    if mode == "FileMailer":
                        await files.send(mail)
                    elif mode == "PostmarkMailer -> sink":
                        await mailer.send(mail)
                    else:
                        await _one_client_per_send(url, mail)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                sink_cpu = _sink_cpu(pid) - sink_before
                lines.append(
                    f"round {round_} {mode:26s}: sender {cpu / N * 1000:.2f} ms CPU per message"
                    f" ({wall / N * 1000:.2f} ms wall); sink {sink_cpu / N * 1000:.2f} ms CPU per message"
                )
    finally:
        await mailer.close()
    print("\n" + "\n".join(lines))
