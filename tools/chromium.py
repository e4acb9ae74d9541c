"""Debian's Chromium as the browser suites and the bench start it (never a browser a test tool downloads).

`make test` and `make bench` install the `chromium` package when /usr/bin/chromium is missing. The flags
keep a headless Chromium off the network it would otherwise call at start (updates, sync, QUIC probes) and
let it run as root in a container."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Playwright) -> Browser:
    """A headless Chromium from /usr/bin/chromium."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
    )
