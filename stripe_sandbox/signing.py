"""Webhook signatures exactly as Stripe computes them.

Stripe signs ``"{t}.{raw body}"`` with HMAC-SHA256, keyed by the whole endpoint secret string (``whsec_...``
included), and sends ``Stripe-Signature: t=<unix seconds>,v1=<hex digest>``. Receivers verify with the SDK's
``stripe.Webhook.construct_event``; nothing here is sandbox-specific, so a receiver that accepts these headers
accepts real Stripe's too.
"""

from __future__ import annotations

import hashlib
import hmac
import time

# A published development default, not a secret: real deployments pass their own.
DEV_WEBHOOK_SECRET = "whsec_mais_dev_sandbox_secret"  # noqa: S105


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature of ``payload`` sent at ``timestamp``."""
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload``; the timestamp defaults to the real wall clock.

    The wall clock (not the sandbox's adjustable clock) is used on purpose: receivers reject signatures older
    than their tolerance (300 s in the SDK), and they compare against their own real time.
    """
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={compute_signature(payload, secret, ts)}"
