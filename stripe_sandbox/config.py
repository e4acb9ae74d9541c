"""Sandbox settings: command-line flags with environment fallbacks.

``--port`` / ``STRIPE_SANDBOX_PORT``, ``--webhook-url`` / ``STRIPE_WEBHOOK_URL`` and ``--webhook-secret`` /
``STRIPE_WEBHOOK_SECRET`` are the ones the dev stack uses, with ``--state-dir`` (``STRIPE_SANDBOX_STATE_DIR``,
default ``$MAIS_DATA_DIR/stripe-sandbox``) where the account's objects are kept. The secret defaults to a
fixed dev value so a gateway started without configuration still verifies the sandbox's signatures. The
server binds 127.0.0.1 unless told otherwise: it accepts any ``sk_test_`` key and has unauthenticated test
controls.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stripe_sandbox.signing import DEV_WEBHOOK_SECRET

DEFAULT_PORT = 12111


@dataclass(frozen=True)
class SandboxConfig:
    """Everything needed to build and serve the sandbox."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    webhook_url: str | None = None
    webhook_secret: str = DEV_WEBHOOK_SECRET
    public_url: str | None = None
    retry_scale: float = 1.0
    max_attempts: int = 8
    delivery_timeout: float = 10.0
    expiry_interval: float = 1.0
    require_onboarded_destination: bool = False
    log_level: str = "info"
    access_log: bool = False
    # Where the account's objects are kept (one SQLite file); None keeps them in memory only (unit tests).
    state_dir: Path | None = None

    @property
    def base_url(self) -> str:
        """The address clients use, which is also the origin of hosted-page URLs."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_sandbox",
        description="Local Stripe API sandbox for MAIS (state kept in SQLite under --state-dir).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=int(env.get("STRIPE_SANDBOX_PORT") or DEFAULT_PORT), help="listen port"
    )
    parser.add_argument(
        "--webhook-url", default=env.get("STRIPE_WEBHOOK_URL") or None, help="endpoint that receives events"
    )
    parser.add_argument(
        "--webhook-secret",
        default=env.get("STRIPE_WEBHOOK_SECRET") or DEV_WEBHOOK_SECRET,
        help="whsec_... secret used to sign deliveries",
    )
    parser.add_argument(
        "--public-url",
        default=env.get("STRIPE_SANDBOX_PUBLIC_URL") or None,
        help="origin used in hosted-page URLs (default http://HOST:PORT)",
    )
    parser.add_argument(
        "--retry-scale",
        type=float,
        default=float(env.get("STRIPE_SANDBOX_RETRY_SCALE") or 1.0),
        help="multiplier on the retry schedule 1s, 2s, 4s... (e.g. 0.05 in tests)",
    )
    parser.add_argument("--max-attempts", type=int, default=8, help="delivery attempts per event")
    parser.add_argument("--delivery-timeout", type=float, default=10.0, help="seconds per delivery request")
    parser.add_argument("--expiry-interval", type=float, default=1.0, help="seconds between expiry sweeps")
    parser.add_argument(
        "--require-onboarded-destination",
        action="store_true",
        help="refuse destination charges to accounts without an active transfers capability (as Stripe)",
    )
    parser.add_argument(
        "--state-dir",
        default=env.get("STRIPE_SANDBOX_STATE_DIR")
        or str(Path(env.get("MAIS_DATA_DIR") or ".data") / "stripe-sandbox"),
        help="folder of the durable state (default $MAIS_DATA_DIR/stripe-sandbox, MAIS_DATA_DIR=.data)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request")
    return parser


def parse_config(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> SandboxConfig:
    """Build the config from command-line arguments, falling back to the environment."""
    args = _parser(os.environ if env is None else env).parse_args(argv)
    if not args.webhook_secret.startswith("whsec_"):
        raise SystemExit("--webhook-secret must start with whsec_")
    if args.max_attempts < 1:
        raise SystemExit("--max-attempts must be at least 1")
    if args.retry_scale < 0 or args.delivery_timeout <= 0 or args.expiry_interval <= 0:
        raise SystemExit("--retry-scale must be >= 0; --delivery-timeout and --expiry-interval must be > 0")
    return SandboxConfig(
        host=args.host,
        port=args.port,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        public_url=args.public_url,
        retry_scale=args.retry_scale,
        max_attempts=args.max_attempts,
        delivery_timeout=args.delivery_timeout,
        expiry_interval=args.expiry_interval,
        require_onboarded_destination=args.require_onboarded_destination,
        log_level=args.log_level,
        access_log=args.access_log,
        state_dir=Path(args.state_dir),
    )
