"""``python -m stripe_sandbox``: serve the sandbox with uvicorn (127.0.0.1 by default)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import uvicorn

from stripe_sandbox.app import create_app
from stripe_sandbox.config import parse_config
from stripe_sandbox.store import StateFolderInUse


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags and environment, then serve until interrupted."""
    config = parse_config(argv)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("stripe_sandbox").info(
        "Stripe sandbox on %s (webhooks -> %s); state kept in %s",
        config.base_url,
        config.webhook_url or "nowhere",
        config.state_dir or "memory only",
    )
    try:
        app = create_app(config)
    except StateFolderInUse as error:
        raise SystemExit(str(error)) from None
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        access_log=config.access_log,
        # Give in-flight requests a moment on SIGTERM, then stop; pending deliveries resume on the next start.
        timeout_graceful_shutdown=3,
        # Idle keep-alive connections are kept longer than their clients keep them (httpx: 5 s), so the
        # client, which reuses a connection, is the side that closes it: a request never lands on one the
        # server is closing at that moment (a reset the caller may not retry).
        timeout_keep_alive=75,
    )


if __name__ == "__main__":
    main()
