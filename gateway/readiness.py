"""Readiness: every service answers its gRPC health check and sees its database."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING


async def check_service(stub: health_pb2_grpc.HealthStub, timeout: float) -> tuple[bool, bool]:
    """(service answers, service's database answers)."""
    try:
        overall, database = await asyncio.gather(
            stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout),
            stub.Check(health_pb2.HealthCheckRequest(service="database"), timeout=timeout),
        )
    except grpc.aio.AioRpcError:
        return False, False
    return overall.status == SERVING, database.status == SERVING


async def readiness(stubs: dict[str, health_pb2_grpc.HealthStub], timeout: float) -> dict[str, str]:
    """ "ok" or "unavailable" for each service and for the database."""
    names = list(stubs)
    results = await asyncio.gather(*(check_service(stubs[n], timeout) for n in names))
    checks = {name: "ok" if up else "unavailable" for name, (up, _) in zip(names, results, strict=True)}
    reachable = [db_ok for up, db_ok in results if up]
    # The database is judged by the services that answered; with none answering it is unknown.
    checks["database"] = (
        "ok" if reachable and all(reachable) else ("unknown" if not reachable else "unavailable")
    )
    return checks
