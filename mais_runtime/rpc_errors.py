"""Domain errors <-> gRPC status with google.rpc.ErrorInfo and BadRequest details."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from mais_runtime.errors import ERROR_DOMAIN, DomainError, FieldViolation


def to_status(error: DomainError) -> grpc.Status:
    """The gRPC status (with rich details) that carries a domain error."""
    details = []
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata))
    details.append(info)
    if error.fields:
        bad = any_pb2.Any()
        bad.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f.field, description=f.message)
                    for f in error.fields
                ]
            )
        )
        details.append(bad)
    status = status_pb2.Status(
        code=getattr(code_pb2, error.code.value), message=error.message[:1000], details=details
    )
    return rpc_status.to_status(status)


@dataclass
class RemoteError:
    """What a caller learns from a failed call: gRPC code, stable reason, message, fields."""

    code: grpc.StatusCode
    reason: str
    message: str
    fields: list[FieldViolation] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    # True when the status carries our ErrorInfo (domain "mais.dev"): a domain error, whose message
    # was written for clients. False for anything else (a crash, the transport, a foreign server).
    ours: bool = False


def from_rpc_error(error: grpc.aio.AioRpcError) -> RemoteError:
    """Reads the reason and field violations back out of a failed call."""
    reason = ""
    ours = False
    fields: list[FieldViolation] = []
    metadata: dict[str, str] = {}
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
                ours = info.domain == ERROR_DOMAIN and bool(info.reason)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                fields = [FieldViolation(v.field, v.description) for v in bad.field_violations]
    code = error.code()
    if not reason:
        reason = {
            grpc.StatusCode.UNAVAILABLE: "UNAVAILABLE",
            grpc.StatusCode.DEADLINE_EXCEEDED: "UNAVAILABLE",
            grpc.StatusCode.NOT_FOUND: "NOT_FOUND",
            grpc.StatusCode.INVALID_ARGUMENT: "VALIDATION_ERROR",
            grpc.StatusCode.UNAUTHENTICATED: "UNAUTHENTICATED",
            grpc.StatusCode.PERMISSION_DENIED: "FORBIDDEN",
        }.get(code, "INTERNAL")
    return RemoteError(code, reason, error.details() or "", fields, metadata, ours)


def remote_to_domain(error: grpc.aio.AioRpcError) -> DomainError:
    """A downstream service's error, re-raised as a domain error so it passes through unchanged. A
    status that is not one of our domain errors keeps its code but not its text (it may hold a stack's,
    a database's or the transport's words), so passing it on never launders it into a client message."""
    from mais_runtime.errors import GrpcCode

    remote = from_rpc_error(error)
    try:
        code = GrpcCode(remote.code.name)
    except ValueError:
        code = GrpcCode.UNAVAILABLE if remote.code == grpc.StatusCode.DEADLINE_EXCEEDED else GrpcCode.INTERNAL
    if not remote.ours:
        message = (
            "a service this call needs did not answer" if code is GrpcCode.UNAVAILABLE else "internal error"
        )
        if code not in (GrpcCode.UNAVAILABLE, GrpcCode.INTERNAL):
            message = f"a service this call needs answered {remote.code.name}"
        return DomainError(message, remote.reason, code)
    return DomainError(remote.message, remote.reason, code, remote.fields, remote.metadata)
