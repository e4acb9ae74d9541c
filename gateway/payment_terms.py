"""Payment terms in REST: the JSON a tenant's settings and a package carry (`paymentPolicy`), and a
PATCH's partial change applied to the terms as they are now. The spelling and the checks are
mais_runtime.payment_policy's; the services check again before they store anything."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from mais.common.v1 import types_pb2

from gateway.errors import ApiError, from_grpc
from mais_runtime.errors import ValidationError
from mais_runtime.payment_policy import PaymentPolicy

T = TypeVar("T")
# A read-change-write of terms meets another admin's write at most this many times before the
# request gives up with VERSION_CONFLICT.
ATTEMPTS = 3


def terms_json(message: types_pb2.PaymentPolicy) -> dict[str, Any]:
    """A tenant's terms as JSON (an unset message: pay in full)."""
    return PaymentPolicy.from_proto(message).to_json()


def own_terms_json(message: types_pb2.PaymentPolicy) -> dict[str, Any] | None:
    """A package's own terms as JSON; null when it has none (the tenant's apply)."""
    if message.deposit_kind == types_pb2.DEPOSIT_KIND_UNSPECIFIED:
        return None
    return terms_json(message)


def changed_terms(current: PaymentPolicy, change: object) -> types_pb2.PaymentPolicy:
    """`current` with the JSON change applied, on the wire; 400 VALIDATION_ERROR naming each bad
    field (`paymentPolicy.<field>`)."""
    try:
        return current.with_json(change, "paymentPolicy").to_proto()
    except ValidationError as invalid:
        raise ApiError("VALIDATION_ERROR", invalid.message, invalid.fields) from None


async def with_fresh_read(write: Callable[[], Awaitable[T]], retry: bool) -> T:
    """Runs a read-change-write (`write` reads the object, applies the change and writes it with the
    version it read). With `retry` (the client named no version of its own, so a concurrent change
    to another field is no conflict of theirs), a VERSION_CONFLICT reads again, a few times."""
    for attempt in range(ATTEMPTS):
        try:
            return await write()
        except grpc.aio.AioRpcError as error:
            if not retry or attempt == ATTEMPTS - 1 or from_grpc(error).code != "VERSION_CONFLICT":
                raise
    raise AssertionError("unreachable")
