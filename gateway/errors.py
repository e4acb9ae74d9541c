"""One place that turns every failure into the public error envelope:
`{"error": CODE, "message": ..., "requestId": ..., "fields": [{"field", "message"}]?}`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import grpc
import orjson
from opentelemetry import trace
from starlette.responses import Response

from mais_runtime.errors import FieldViolation
from mais_runtime.rpc_errors import from_rpc_error


@dataclass(frozen=True)
class PublicError:
    """How one public error code answers: its HTTP status, the gRPC codes that mean it when a service
    names no reason, and the text a client gets when the service's own message may not pass."""

    status: int
    generic_message: str
    # A domain error's message is written for clients and passes; an INTERNAL or UNAVAILABLE one never
    # does (it may carry a stack's, a database's or a peer's words).
    shows_service_message: bool = True
    grpc_codes: tuple[grpc.StatusCode, ...] = ()


_C = grpc.StatusCode

# The one table: every public error code (DESIGN.md) -> HTTP status, by ErrorInfo reason or gRPC code.
ERRORS: dict[str, PublicError] = {
    "VALIDATION_ERROR": PublicError(
        400, "the request is not valid", grpc_codes=(_C.INVALID_ARGUMENT, _C.OUT_OF_RANGE)
    ),
    "INVALID_SIGNATURE": PublicError(400, "the signature does not verify"),
    "MALFORMED_JSON": PublicError(400, "the body is not valid JSON"),
    "TENANT_KEY_REQUIRED": PublicError(401, "a tenant key is required"),
    "INVALID_TENANT_KEY": PublicError(401, "unknown public key"),
    "UNAUTHENTICATED": PublicError(401, "not authenticated", grpc_codes=(_C.UNAUTHENTICATED,)),
    "TENANT_INACTIVE": PublicError(403, "this business is not accepting bookings"),
    "FORBIDDEN": PublicError(403, "forbidden", grpc_codes=(_C.PERMISSION_DENIED,)),
    "ORIGIN_NOT_ALLOWED": PublicError(403, "this origin is not allowed"),
    # A cookie-authenticated change without the session's X-CSRF-Token, or from another origin.
    "CSRF_FAILED": PublicError(403, "the request did not come from the platform's own pages"),
    "NOT_FOUND": PublicError(404, "not found", grpc_codes=(_C.NOT_FOUND,)),
    "METHOD_NOT_ALLOWED": PublicError(405, "method not allowed on this route"),
    "DATE_UNAVAILABLE": PublicError(409, "the date is not available"),
    "SLUG_TAKEN": PublicError(409, "the slug is taken"),
    "EMAIL_TAKEN": PublicError(409, "the email is taken"),
    "NAME_TAKEN": PublicError(409, "the name is taken"),
    "IDEMPOTENCY_KEY_REUSED": PublicError(409, "the idempotency key was used for another request"),
    "CONFLICT": PublicError(
        409, "the request conflicts with the current state", grpc_codes=(_C.ALREADY_EXISTS, _C.ABORTED)
    ),
    "VERSION_CONFLICT": PublicError(409, "the object changed meanwhile"),
    "HOLD_LOST": PublicError(409, "the hold was lost"),
    "IN_USE": PublicError(409, "the object is in use"),
    "NOTHING_DUE": PublicError(409, "nothing is owed on this booking now"),
    "FAILED_PRECONDITION": PublicError(
        409, "the object is not in a state that allows this", grpc_codes=(_C.FAILED_PRECONDITION,)
    ),
    "CANCELLATION_WINDOW_CLOSED": PublicError(409, "the cancellation window has closed"),
    "TENANT_NOT_ONBOARDED": PublicError(409, "this business cannot take payments yet"),
    "PAYLOAD_TOO_LARGE": PublicError(413, "the request body is too large"),
    "UNSUPPORTED_MEDIA_TYPE": PublicError(415, "unsupported media type"),
    "RATE_LIMITED": PublicError(429, "too many requests", grpc_codes=(_C.RESOURCE_EXHAUSTED,)),
    "HOLD_LIMIT_REACHED": PublicError(429, "too many dates are held"),
    "INTERNAL": PublicError(500, "internal error", shows_service_message=False),
    "PAYMENT_PROVIDER_ERROR": PublicError(502, "the payment provider did not accept the request"),
    "UNAVAILABLE": PublicError(
        503,
        "a service did not answer",
        shows_service_message=False,
        grpc_codes=(_C.UNAVAILABLE, _C.DEADLINE_EXCEEDED),
    ),
}

# Read from ERRORS: the public code of a gRPC status that came without one of our reasons. Every other
# code (UNKNOWN, INTERNAL, UNIMPLEMENTED, DATA_LOSS, CANCELLED ...) is INTERNAL.
BY_GRPC_CODE = {grpc_code: code for code, kind in ERRORS.items() for grpc_code in kind.grpc_codes}


@dataclass
class ApiError(Exception):
    """An error the gateway answers with; `code` is a key of ERRORS."""

    code: str
    message: str
    fields: list[FieldViolation] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> int:
        """The HTTP status of this error."""
        kind = ERRORS.get(self.code)
        return kind.status if kind else 500

    def fresh(self) -> ApiError:
        """A new error with the same answer, to raise from a cache: raising one cached instance again and
        again would grow its traceback and keep every request it was raised in alive."""
        return replace(self, fields=list(self.fields), headers=dict(self.headers))


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
    """A failed service call as the public error: the service's stable reason when it is one of ours,
    else what its gRPC code means. Only a domain error's message reaches the client; any other text
    (an INTERNAL or UNKNOWN status, a peer's or the transport's words) becomes the code's generic one."""
    remote = from_rpc_error(error)
    if remote.ours and remote.reason in ERRORS:
        code = remote.reason
    else:
        code = BY_GRPC_CODE.get(remote.code, "INTERNAL")
    kind = ERRORS[code]
    message = remote.message if remote.ours and kind.shows_service_message else kind.generic_message
    headers = {}
    if kind.status in (429, 503) and remote.ours and remote.metadata.get("retry_after_seconds", "").isdigit():
        headers["Retry-After"] = remote.metadata["retry_after_seconds"]
    return ApiError(code, message, remote.fields if remote.ours else [], headers)
