"""A local Stripe API sandbox for MAIS development and tests.

When no real Stripe keys are configured, the official ``stripe`` SDK is pointed at this server
(``stripe.StripeClient(key, base_addresses={"api": "http://127.0.0.1:PORT"})``). It implements the part of
Stripe MAIS uses -- Checkout Sessions with a hosted page, refunds, Connect accounts and onboarding links,
events -- with Stripe's object shapes, errors, idempotency and webhook signatures, plus ``/_sandbox`` controls
for tests.

The account's objects are kept in SQLite under the state folder (``$MAIS_DATA_DIR/stripe-sandbox``), so a
restart or a crash loses nothing it answered (ADR 0010). Never expose it beyond the local machine.
"""

from stripe_sandbox.app import create_app
from stripe_sandbox.config import SandboxConfig, parse_config
from stripe_sandbox.signing import DEV_WEBHOOK_SECRET

__all__ = ["DEV_WEBHOOK_SECRET", "SandboxConfig", "create_app", "parse_config"]
