"""One place that turns every failure into the public error envelope:
`{"error": CODE, "message": ..., "requestId": ..., "fields": [{"field", "message"}]?}`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
import orjson
from opentelemetry import trace
from starlette.responses import Response

from mais_runtime.errors import FieldViolation
from mais_runtime.rpc_errors import from_rpc_error

# Stable public error code -> HTTP status.
HTTP_STATUS = {
    "VALIDATION_ERROR": 400,
    "INVALID_SIGNATURE": 400,
    "MALFORMED_JSON": 400,
    "TENANT_KEY_REQUIRED": 401,
    "INVALID_TENANT_KEY": 401,
    "UNAUTHENTICATED": 401,
    "TENANT_INACTIVE": 403,
    "FORBIDDEN": 403,
    "ORIGIN_NOT_ALLOWED": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "DATE_UNAVAILABLE": 409,
    "SLUG_TAKEN": 409,
    "EMAIL_TAKEN": 409,
    "IDEMPOTENCY_KEY_REUSED": 409,
    "CONFLICT": 409,
    "VERSION_CONFLICT": 409,
    "HOLD_LOST": 409,
    "IN_USE": 409,
    "FAILED_PRECONDITION": 409,
    "CANCELLATION_WINDOW_CLOSED": 409,
    "TENANT_NOT_ONBOARDED": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "RATE_LIMITED": 429,
    "HOLD_LIMIT_REACHED": 429,
    "INTERNAL": 500,
    "PAYMENT_PROVIDER_ERROR": 502,
    "UNAVAILABLE": 503,
}

# When a service gives no reason, its gRPC code decides.
_BY_GRPC_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: "VALIDATION_ERROR",
    grpc.StatusCode.NOT_FOUND: "NOT_FOUND",
    grpc.StatusCode.ALREADY_EXISTS: "CONFLICT",
    grpc.StatusCode.ABORTED: "CONFLICT",
    grpc.StatusCode.FAILED_PRECONDITION: "FAILED_PRECONDITION",
    grpc.StatusCode.PERMISSION_DENIED: "FORBIDDEN",
    grpc.StatusCode.UNAUTHENTICATED: "UNAUTHENTICATED",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "RATE_LIMITED",
    grpc.StatusCode.UNAVAILABLE: "UNAVAILABLE",
    grpc.StatusCode.DEADLINE_EXCEEDED: "UNAVAILABLE",
}


@dataclass
class ApiError(Exception):
    """An error the gateway answers with; `code` is a key of HTTP_STATUS."""

    code: str
    message: str
    fields: list[FieldViolation] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> int:
        """The HTTP status of this error."""
        return HTTP_STATUS.get(self.code, 500)


def request_id() -> str:
    """The current trace id, which is also the request id clients see."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def error_response(error: ApiError) -> Response:
    """The envelope for an ApiError."""
    body: dict[str, Any] = {"error": error.code, "message": error.message, "requestId": request_id()}
    if error.fields:
        body["fields"] = [{"field": f.field, "message": f.message} for f in error.fields]
    return Response(
        orjson.dumps(body), status_code=error.status, media_type="application/json", headers=error.headers
    )


def from_grpc(error: grpc.aio.AioRpcError) -> ApiError:
    """A failed service call as the public error, keeping the service's stable reason."""
    remote = from_rpc_error(error)
    code = remote.reason if remote.reason in HTTP_STATUS else _BY_GRPC_CODE.get(remote.code, "INTERNAL")
    message = remote.message
    if code in ("INTERNAL", "UNAVAILABLE") and remote.reason not in HTTP_STATUS:
        message = "a service did not answer" if code == "UNAVAILABLE" else "internal error"
    headers = {}
    if code in ("RATE_LIMITED", "HOLD_LIMIT_REACHED") and "retry_after_seconds" in remote.metadata:
        headers["Retry-After"] = remote.metadata["retry_after_seconds"]
    return ApiError(code, message, remote.fields, headers)
