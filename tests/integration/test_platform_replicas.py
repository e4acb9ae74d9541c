"""A client over a service's replicas (mais_runtime/channels.py, docs/adr/0032), through real service
processes built on the shared runtime (tests/fixtures/slow_service.py): it uses every replica, a
replica draining on SIGTERM gets no new calls and costs none, and a SIGKILLed one costs no failed
call that the retry policy may repeat."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from mais.tenant.v1 import tenant_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2_grpc as pb_grpc

from mais_runtime.channels import Channels
from tests.fixtures.slow_service import WHO_METHOD
from tests.integration.conftest import INTERNAL_TOKEN, Cluster, RunningService, spawn_service

Call = Callable[[], Awaitable[pb.GetTenantResponse]]


@pytest.fixture
def replicas(cluster: Cluster, tmp_path: Path) -> Iterator[list[RunningService]]:
    """Two replicas of one service, each its own process and port."""
    started = [spawn_service(cluster, "tests.fixtures.slow_service", "tenant", tmp_path) for _ in range(2)]
    try:
        yield started
    finally:
        for service in started:
            service.stop()


@pytest.fixture
async def channels() -> AsyncIterator[Channels]:
    owned = Channels(internal_token=INTERNAL_TOKEN, default_timeout=5.0)
    yield owned
    await owned.close()


def _pid(service: RunningService) -> int:
    assert service.process.pid is not None
    return service.process.pid


def _calls(channels: Channels, replicas: list[RunningService]) -> tuple[Call, Call]:
    """(Who: a method no retry policy names; GetTenant: a read the policy retries), over both replicas
    given as the stack gives them, one comma-separated list."""
    channel = channels.get(",".join(r.address for r in replicas))
    who = channel.unary_unary(
        WHO_METHOD,
        request_serializer=pb.GetTenantRequest.SerializeToString,
        response_deserializer=pb.GetTenantResponse.FromString,
    )
    stub = pb_grpc.TenantServiceStub(channel)
    tenant_id = str(uuid.uuid4())
    return (
        lambda: who(pb.GetTenantRequest(tenant_id=tenant_id), timeout=5),
        lambda: stub.GetTenant(pb.GetTenantRequest(tenant_id=tenant_id), timeout=5),
    )


async def _both_connected(call: Call, pids: set[int]) -> None:
    """Calls until both replicas have answered (their connections are made lazily), 15 s at most."""
    seen: set[int] = set()
    deadline = time.monotonic() + 15
    while seen != pids and time.monotonic() < deadline:
        seen.add(int((await call()).tenant.name))
        await asyncio.sleep(0.01)
    assert seen == pids


@dataclass
class Load:
    """Concurrent callers recording (start time, the pid that answered) or the failure."""

    call: Call
    answers: list[tuple[float, int]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    running: bool = True

    async def caller(self) -> None:
        while self.running:
            started = time.monotonic()
            try:
                answer = await self.call()
            except grpc.aio.AioRpcError as error:
                self.failures.append(f"{error.code().name}: {error.details()}")
            else:
                self.answers.append((started, int(answer.tenant.name)))

    async def run_while(self, action: Callable[[], Awaitable[float]], callers: int = 8) -> float:
        """Runs the callers, then `action` (which returns the moment it acted), then 1.5 s more."""
        tasks = [asyncio.create_task(self.caller()) for _ in range(callers)]
        await asyncio.sleep(0.5)
        moment = await action()
        await asyncio.sleep(1.5)
        self.running = False
        await asyncio.gather(*tasks)
        return moment


async def test_a_client_over_two_replicas_uses_both(
    replicas: list[RunningService], channels: Channels
) -> None:
    who, get_tenant = _calls(channels, replicas)
    pids = {_pid(r) for r in replicas}
    await _both_connected(who, pids)
    for call in (who, get_tenant):
        counts = dict.fromkeys(pids, 0)
        for _ in range(20):
            counts[int((await call()).tenant.name)] += 1
        # round_robin: each ready replica in turn.
        assert min(counts.values()) >= 5, counts


async def test_a_draining_replica_gets_no_new_calls_and_none_fails(
    replicas: list[RunningService], channels: Channels
) -> None:
    # Who is never retried: no failure here means the drain itself lost nothing.
    who, _ = _calls(channels, replicas)
    draining, staying = replicas
    await _both_connected(who, {_pid(draining), _pid(staying)})
    load = Load(who)

    async def sigterm() -> float:
        draining.process.signal(signal.SIGTERM)
        return time.monotonic()

    sent = await load.run_while(sigterm)
    assert load.failures == []
    before = [pid for started, pid in load.answers if started < sent]
    assert _pid(draining) in before
    # Its health watch said NOT_SERVING at once; a call picked a moment before may still be answered
    # by it (it answers through its drain period), none started later.
    later = {pid for started, pid in load.answers if started > sent + 0.3}
    assert later == {_pid(staying)}
    assert draining.process.process is not None
    assert await asyncio.to_thread(draining.process.process.wait, 20) == 0


async def test_a_sigkilled_replica_costs_no_failed_read(
    replicas: list[RunningService], channels: Channels
) -> None:
    _, get_tenant = _calls(channels, replicas)
    dying, staying = replicas
    await _both_connected(get_tenant, {_pid(dying), _pid(staying)})
    load = Load(get_tenant)

    async def sigkill() -> float:
        dying.process.signal(signal.SIGKILL)
        return time.monotonic()

    killed = await load.run_while(sigkill)
    # The calls in flight on the killed replica failed UNAVAILABLE and were retried on the other.
    assert load.failures == []
    assert _pid(dying) in {pid for started, pid in load.answers if started < killed}
    assert {pid for started, pid in load.answers if started > killed + 0.3} == {_pid(staying)}
    assert len([1 for started, _ in load.answers if started > killed]) > 50


async def test_a_sigkill_fails_only_the_unretried_calls_in_flight_on_the_killed_replica(
    replicas: list[RunningService], channels: Channels
) -> None:
    # Who stands for a mutation that is not idempotent: the channel never repeats it, its caller decides.
    who, _ = _calls(channels, replicas)
    dying, staying = replicas
    await _both_connected(who, {_pid(dying), _pid(staying)})
    load = Load(who)

    async def sigkill() -> float:
        dying.process.signal(signal.SIGKILL)
        return time.monotonic()

    killed = await load.run_while(sigkill, callers=8)
    # At most one call per caller was on its way to the killed replica; every later call went to the other.
    assert len(load.failures) <= 8, load.failures
    assert all(failure.startswith("UNAVAILABLE") for failure in load.failures), load.failures
    assert {pid for started, pid in load.answers if started > killed + 0.3} == {_pid(staying)}
