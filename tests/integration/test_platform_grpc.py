"""The gRPC runtime, through real service processes: tenant scope, internal credential, error details,
and graceful shutdown."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from mais.tenant.v1 import tenant_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2_grpc as pb_grpc

from tests.fixtures.slow_service import SLOW_METHOD
from tests.integration.conftest import INTERNAL_TOKEN, Cluster, RunningService, spawn_service

CREDENTIAL = (("x-mais-internal", INTERNAL_TOKEN),)


@pytest.fixture(scope="module")
def tenant_service(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    service = spawn_service(cluster, "services.tenant", "tenant", tmp_path_factory.mktemp("tenant-svc"))
    yield service
    service.stop()


@pytest.fixture
async def tenant_stub(tenant_service: RunningService) -> AsyncIterator[pb_grpc.TenantServiceStub]:
    async with grpc.aio.insecure_channel(tenant_service.address) as channel:
        yield pb_grpc.TenantServiceStub(channel)


def _error_info(
    error: grpc.aio.AioRpcError,
) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.BadRequest]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(bad.DESCRIPTOR):
            detail.Unpack(bad)
    return info, bad


async def test_tenant_scoped_rpc_without_tenant_id_is_invalid_argument(
    tenant_stub: pb_grpc.TenantServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tenant_stub.GetTenant(pb.GetTenantRequest(), metadata=CREDENTIAL, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, bad = _error_info(caught.value)
    assert (info.reason, info.domain) == ("VALIDATION_ERROR", "mais.dev")
    assert [v.field for v in bad.field_violations] == ["tenant_id"]


async def test_tenant_scoped_rpc_with_malformed_tenant_id_is_invalid_argument(
    tenant_stub: pb_grpc.TenantServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tenant_stub.GetTenant(
            pb.GetTenantRequest(tenant_id="tenant-a' OR 1=1"), metadata=CREDENTIAL, timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _error_info(caught.value)[1].field_violations[0].description == "must be a UUID"


async def test_unknown_tenant_is_not_found_with_its_reason(tenant_stub: pb_grpc.TenantServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tenant_stub.GetTenant(
            pb.GetTenantRequest(tenant_id=str(uuid.uuid4())), metadata=CREDENTIAL, timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert _error_info(caught.value)[0].reason == "NOT_FOUND"


async def test_calls_without_the_internal_credential_are_refused(
    tenant_stub: pb_grpc.TenantServiceStub,
) -> None:
    for metadata in ((), (("x-mais-internal", "guess"),)):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await tenant_stub.GetTenant(
                pb.GetTenantRequest(tenant_id=str(uuid.uuid4())), metadata=metadata, timeout=5
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_sigterm_lets_an_in_flight_call_finish_and_refuses_new_ones(
    cluster: Cluster, tmp_path: Path
) -> None:
    # No drain period (a client without health checks would still be served during it; see
    # test_platform_replicas.py for the drain between replicas).
    service = spawn_service(
        cluster, "tests.fixtures.slow_service", "tenant", tmp_path, {"MAIS_SHUTDOWN_DRAIN_SECONDS": "0"}
    )
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            sleep = channel.unary_unary(
                SLOW_METHOD,
                request_serializer=pb.GetTenantRequest.SerializeToString,
                response_deserializer=pb.GetTenantResponse.FromString,
            )
            tenant_id = str(uuid.uuid4())
            in_flight = asyncio.ensure_future(
                sleep(pb.GetTenantRequest(tenant_id=tenant_id), metadata=CREDENTIAL, timeout=20)
            )
            await asyncio.sleep(0.5)
            service.process.signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await sleep(pb.GetTenantRequest(tenant_id=tenant_id), metadata=CREDENTIAL, timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            answer = await in_flight
            assert answer.tenant.id == tenant_id
        assert service.process.process is not None
        assert await asyncio.to_thread(service.process.process.wait, 20) == 0
    finally:
        service.stop()
