"""The Stripe SDK's HTTP client with a client span around every request it sends, so a trace shows
each call to Stripe (and each retry) with its duration and answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

from mais_runtime.telemetry import http_client_span, record_http_status


class TracedStripeHttp(stripe.HTTPXClient):
    """`stripe.HTTPXClient` whose every async request is one CLIENT span (`stripe POST /v1/...`)."""

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """One HTTP request to Stripe inside its span."""
        with http_client_span("stripe", method, url) as span:
            content, status, answer_headers = await super().request_async(method, url, headers, post_data)
            record_http_status(span, status)
            return content, status, answer_headers
