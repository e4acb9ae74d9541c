"""How the checkout's refusals reach the couple: the stable code, the HTTP status and, for a hold limit,
when to try again. (The codes travel as gRPC status with ErrorInfo; the gateway's one table maps them.)"""

from __future__ import annotations

import asyncpg
import grpc
import pytest

from gateway.errors import from_grpc
from mais_runtime.db import DatabaseBusy
from mais_runtime.errors import DomainError, GrpcCode
from mais_runtime.rpc_errors import remote_to_domain, to_status
from services.payments.domain import Payee, TenantNotOnboarded


def _as_call(error: DomainError) -> grpc.aio.AioRpcError:
    status = to_status(error)
    return grpc.aio.AioRpcError(
        status.code, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), status.details
    )


def test_a_tenant_not_onboarded_is_a_409_with_its_own_code() -> None:
    with pytest.raises(TenantNotOnboarded) as refused:
        Payee(1_000, "", onboarded=False).check_can_be_paid()
    answer = from_grpc(_as_call(refused.value))
    assert (answer.status, answer.code) == (409, "TENANT_NOT_ONBOARDED")


def test_a_hold_limit_is_a_429_saying_when_to_try_again() -> None:
    # As booking raises it (HoldDate, RESOURCE_EXHAUSTED): seconds until the earliest live hold ends.
    limit = DomainError(
        "too many live holds",
        "HOLD_LIMIT_REACHED",
        GrpcCode.RESOURCE_EXHAUSTED,
        [],
        {"retry_after_seconds": "754"},
    )
    answer = from_grpc(_as_call(limit))
    assert (answer.status, answer.code, answer.headers) == (429, "HOLD_LIMIT_REACHED", {"Retry-After": "754"})


def test_a_busy_database_or_a_peer_past_its_deadline_is_a_503_never_a_500() -> None:
    # A lock timeout in payments' or booking's store, as the server chain answers it.
    busy = DatabaseBusy(asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"))
    answer = from_grpc(_as_call(busy.as_unavailable()))
    assert (answer.status, answer.code, answer.headers) == (503, "UNAVAILABLE", {"Retry-After": "1"})
    assert "lock" not in answer.message  # the generic text, not the database's words
    # Booking (or Stripe) past the deadline the checkout gave it: passed on by payments' chain.
    late = grpc.aio.AioRpcError(
        grpc.StatusCode.DEADLINE_EXCEEDED, grpc.aio.Metadata(), grpc.aio.Metadata(), "Deadline Exceeded"
    )
    assert from_grpc(_as_call(remote_to_domain(late))).status == 503
    assert from_grpc(late).status == 503
