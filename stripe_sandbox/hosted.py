"""The sandbox's tiny hosted pages: the Checkout payment page and the Connect onboarding page.

They exist so a person can click through the booking flow in a browser; scripts post to the same form targets
(``{url}/pay``, ``{url}/cancel``) directly. Every value shown is HTML-escaped because metadata and product
names come from API callers.
"""

from __future__ import annotations

from html import escape
from typing import Any

from stripe_sandbox.amounts import format_amount

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}table{width:100%;border-collapse:collapse;margin:1rem 0} td{padding:.3rem
0;border-bottom:1px solid #eee}td.amount{text-align:right} .total
td{font-weight:bold;border-bottom:none}.badge{background:#fde68a;padding:.1rem .4rem;border-radius:.3rem}
form{display:inline-block;margin-right:.5rem}button{font-size:1rem;padding:.5rem 1.2rem;cursor:pointer}
.muted{color:#666;font-size:.9rem}
"""


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<p><span class=badge>Stripe sandbox &middot; test mode</span></p>{body}</body></html>"
    )


def checkout_page(session: dict[str, Any], line_items: list[dict[str, Any]]) -> str:
    """The payment page for a session: its items and total, with Pay and Cancel buttons while it is open."""
    sid = escape(session["id"])
    # Forms post to ``{url}/pay`` and ``{url}/cancel``, the contract scripts rely on (proxy prefix included).
    url = escape(session["url"])
    rows = "".join(
        f"<tr><td>{escape(str(item['description']))} &times; {item['quantity']}</td>"
        f"<td class=amount>{escape(format_amount(item['amount_total'], item['currency']))}</td></tr>"
        for item in line_items
    )
    total = escape(format_amount(session["amount_total"], session["currency"]))
    rows += f"<tr class=total><td>Total</td><td class=amount>{total}</td></tr>"
    status = session["status"]
    if status == "open":
        email = escape(session.get("customer_email") or "")
        actions = (
            f"<form method=post action='{url}/pay'>"
            f"<input type=hidden name=email value='{email}'>"
            f"<button type=submit id=pay>Pay {total}</button></form>"
            f"<form method=post action='{url}/cancel'>"
            "<button type=submit id=cancel>Cancel</button></form>"
            "<p class=muted>Test card 4242 4242 4242 4242 is assumed; no card details are needed.</p>"
        )
    elif status == "complete":
        actions = "<p>This checkout session has been paid.</p>"
    else:
        actions = "<p>This checkout session has expired and can no longer be paid.</p>"
    return _document("Checkout", f"<h1>Checkout</h1><p class=muted>{sid}</p><table>{rows}</table>{actions}")


def message_page(title: str, message: str) -> str:
    """A plain page carrying one message (errors, a cancelled payment, an onboarding result)."""
    return _document(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")


def onboarding_page(token: str, account: dict[str, Any]) -> str:
    """The Connect onboarding page: one button that marks the account as fully onboarded."""
    aid = escape(account["id"])
    email = escape(account.get("email") or "")
    return _document(
        "Connect onboarding",
        "<h1>Connect onboarding</h1>"
        f"<p>Account <code>{aid}</code> {email}</p>"
        # Relative to this page (/connect/onboard/<token>), so it also works behind a path prefix.
        f"<form method=post action='{escape(token)}/complete'>"
        "<button type=submit id=complete>Complete onboarding</button></form>"
        "<p class=muted>Submits test business details and bank account, enabling charges and payouts.</p>",
    )
