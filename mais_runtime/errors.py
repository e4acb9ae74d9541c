"""The error model shared by every service.

Domain code raises a `DomainError` subclass; one interceptor per service turns it into a gRPC
status with `google.rpc.ErrorInfo` (reason = the stable error code) and `google.rpc.BadRequest`
(which fields); the gateway turns that into the HTTP error envelope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

ERROR_DOMAIN = "mais.dev"


class GrpcCode(Enum):
    """The gRPC status codes the domain uses (names as in grpc.StatusCode)."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field: its name as the client spelled it and what is wrong with it."""

    field: str
    message: str


@dataclass
class DomainError(Exception):
    """A rule of the domain said no. `reason` is the stable public error code."""

    message: str
    reason: str = "INTERNAL"
    code: GrpcCode = GrpcCode.INTERNAL
    fields: list[FieldViolation] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class ValidationError(DomainError):
    """The request is malformed; `fields` says where."""

    def __init__(self, message: str, fields: list[FieldViolation] | None = None) -> None:
        super().__init__(message, "VALIDATION_ERROR", GrpcCode.INVALID_ARGUMENT, list(fields or []))

    @classmethod
    def of(cls, field_name: str, message: str) -> ValidationError:
        """One invalid field."""
        return cls(f"{field_name}: {message}", [FieldViolation(field_name, message)])


class NotFound(DomainError):
    """No such object for this tenant (also the answer for another tenant's objects)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found", "NOT_FOUND", GrpcCode.NOT_FOUND)


class Conflict(DomainError):
    """The request collides with the current state; `reason` names how."""

    def __init__(
        self, message: str, reason: str = "CONFLICT", metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, reason, GrpcCode.ABORTED, [], dict(metadata or {}))


class PreconditionFailed(DomainError):
    """The object is not in a state that allows this."""

    def __init__(self, message: str, reason: str = "FAILED_PRECONDITION") -> None:
        super().__init__(message, reason, GrpcCode.FAILED_PRECONDITION)


class Unauthenticated(DomainError):
    """Credentials are missing, malformed, expired or unknown."""

    def __init__(self, message: str = "not authenticated", reason: str = "UNAUTHENTICATED") -> None:
        super().__init__(message, reason, GrpcCode.UNAUTHENTICATED)


class Forbidden(DomainError):
    """Authenticated, but not allowed."""

    def __init__(self, message: str = "forbidden", reason: str = "FORBIDDEN") -> None:
        super().__init__(message, reason, GrpcCode.PERMISSION_DENIED)


class RateLimited(DomainError):
    """Too many attempts; retry after `retry_after_seconds`."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(
            message,
            "RATE_LIMITED",
            GrpcCode.RESOURCE_EXHAUSTED,
            [],
            {"retry_after_seconds": str(retry_after_seconds)},
        )


class DependencyUnavailable(DomainError):
    """A service, the database or a provider this call needs did not answer in time, or is busy: the
    platform being unavailable or slow, never the request being wrong (503 UNAVAILABLE at the gateway,
    with `Retry-After: retry_after_seconds`)."""

    def __init__(self, message: str, retry_after_seconds: int = 1) -> None:
        super().__init__(
            message,
            "UNAVAILABLE",
            GrpcCode.UNAVAILABLE,
            [],
            {"retry_after_seconds": str(max(1, retry_after_seconds))},
        )
