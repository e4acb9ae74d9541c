"""The payments service's default return pages: where Stripe sends a couple whose checkout named no
pages (an internal caller's), and where sessions opened before the business's own return pages
(`/book/{slug}/done` and `/cancelled`, routes/web_pages.py) still point, for up to their 24 hours. Two
small static pages, so that paying never ends on an error. They reflect nothing from the request."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}</style>
</head><body><h1>{title}</h1><p>{text}</p></body></html>
"""
# Static pages: no script, no outside resource, no framing.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
}


@router.get("/checkout/success")
async def checkout_success() -> HTMLResponse:
    """After paying."""
    return HTMLResponse(
        _PAGE.format(
            title="Thank you!",
            text="Your payment went through. Your booking is being confirmed, and an email with its "
            "details and your personal link is on its way.",
        ),
        headers=_HEADERS,
    )


@router.get("/checkout/cancelled")
async def checkout_cancelled() -> HTMLResponse:
    """After going back from the payment page without paying."""
    return HTMLResponse(
        _PAGE.format(
            title="Payment not completed",
            text="Nothing was charged. Your date stays held for you for a short while; when the hold "
            "runs out, the date is free again for anyone to book.",
        ),
        headers=_HEADERS,
    )
