"""``python -m stripe_sandbox``: serve the sandbox with uvicorn (127.0.0.1 by default)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import uvicorn

from stripe_sandbox.app import create_app
from stripe_sandbox.config import parse_config


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags and environment, then serve until interrupted."""
    config = parse_config(argv)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("stripe_sandbox").info(
        "Stripe sandbox on %s (webhooks -> %s); state is in memory only",
        config.base_url,
        config.webhook_url or "nowhere",
    )
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        access_log=config.access_log,
        # Give in-flight requests a moment on SIGTERM, then stop; pending webhook retries are dropped.
        timeout_graceful_shutdown=3,
    )


if __name__ == "__main__":
    main()
