"""Stripe-shaped API errors.

Every failure the sandbox reports on a ``/v1`` route is raised as :class:`StripeError` and rendered as Stripe
renders it: ``{"error": {"type", "message", "param"?, "code"?}}`` with the matching HTTP status, so the
official SDK maps it onto the same exception classes (``InvalidRequestError``, ``IdempotencyError``,
``AuthenticationError``) that real Stripe would produce.
"""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An error answered to the client in Stripe's error shape."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param

    def to_body(self) -> dict[str, Any]:
        """The JSON body Stripe sends for this error (absent fields are omitted, as Stripe does)."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def missing_resource(kind: str, object_id: str, param: str = "id") -> StripeError:
    """The 404 Stripe answers when an object addressed in the URL does not exist."""
    return StripeError(f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param)


def missing_reference(kind: str, object_id: str, param: str) -> StripeError:
    """The 400 Stripe answers when a request parameter names an object that does not exist."""
    return StripeError(f"No such {kind}: '{object_id}'", code="resource_missing", param=param)
