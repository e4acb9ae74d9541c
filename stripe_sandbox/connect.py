"""Connect: connected accounts, their one-time onboarding links, and onboarding itself.

An account cannot take destination charges until onboarded (through its link's hosted page, or the test
control); onboarding emits ``account.updated`` naming the account. A deleted account is gone, as on Stripe:
charges to it and links for it are refused with ``resource_missing``.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox import objects
from stripe_sandbox.errors import StripeError, missing_reference, missing_resource
from stripe_sandbox.events import AUTOMATIC, Events, RequestContext
from stripe_sandbox.forms import enum_param, metadata_param, str_param
from stripe_sandbox.store import AccountLinkRecord, SandboxStore

ACCOUNT_LINK_LIFETIME = 300
_ACCOUNT_TYPES = ("express", "standard", "custom")


class Connect:
    """The platform's connected accounts and their onboarding."""

    def __init__(self, store: SandboxStore, events: Events, *, public_url: str) -> None:
        self._store = store
        self._events = events
        self.public_url = public_url.rstrip("/")

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/accounts``: a connected account that cannot take charges until onboarded."""
        with self._store.transaction():
            account_type = enum_param(params, "type", _ACCOUNT_TYPES, default="express")
            assert account_type is not None
            country = (str_param(params, "country") or "US").upper()
            if len(country) != 2 or not country.isalpha():
                raise StripeError(
                    f"Country '{country}' is unknown. Try using a 2-character code.", param="country"
                )
            email = str_param(params, "email")
            if email is not None and "@" not in email:
                raise StripeError(f"Invalid email address: {email}", param="email")
            account = objects.account(
                created=self._store.clock.now(),
                account_type=account_type,
                country=country,
                email=email,
                metadata=metadata_param(params),
            )
            self._store.accounts[account["id"]] = account
            self._store.changed("accounts", account["id"])
            return copy.deepcopy(account)

    def record(self, account_id: str) -> dict[str, Any]:
        """The account by id (404 when unknown or deleted); callers inside a transaction may change it."""
        account = self._store.accounts.get(account_id)
        if account is None:
            raise missing_resource("account", account_id, "account")
        return account

    def get(self, account_id: str) -> dict[str, Any]:
        """``GET /v1/accounts/{id}``."""
        with self._store.transaction():
            return copy.deepcopy(self.record(account_id))

    def update(self, account_id: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``POST /v1/accounts/{id}``: email and metadata (merged; blank values remove keys, as on Stripe)."""
        with self._store.transaction():
            account = self.record(account_id)
            previous: dict[str, Any] = {}
            email = str_param(params, "email")
            if email is not None:
                previous["email"] = account["email"]
                account["email"] = email
            raw_metadata = params.get("metadata")
            if isinstance(raw_metadata, dict):
                previous["metadata"] = dict(account["metadata"])
                merged = {**account["metadata"], **metadata_param(params)}
                for key, value in raw_metadata.items():
                    if value == "":
                        merged.pop(key, None)
                account["metadata"] = merged
            self._store.changed("accounts", account_id)
            if previous:
                self._events.emit(
                    "account.updated", account, ctx, account_id=account_id, previous_attributes=previous
                )
            return copy.deepcopy(account)

    def delete(self, account_id: str) -> dict[str, Any]:
        """``DELETE /v1/accounts/{id}``: the account and its onboarding links are gone for good.

        Charges already made keep naming it (history is not rewritten); new destination charges to it and
        links for it are refused with ``resource_missing``, as on Stripe.
        """
        with self._store.transaction():
            self.record(account_id)
            del self._store.accounts[account_id]
            self._store.changed("accounts", account_id)
            for token in [t for t, link in self._store.links.items() if link.account_id == account_id]:
                del self._store.links[token]
                self._store.changed("account_links", token)
            return {"id": account_id, "object": "account", "deleted": True}

    def create_link(self, params: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/account_links``: a short-lived onboarding URL served by the sandbox itself."""
        with self._store.transaction():
            account_id = str_param(params, "account", required=True)
            assert account_id is not None
            if account_id not in self._store.accounts:
                raise missing_reference("account", account_id, "account")
            if enum_param(params, "type", ("account_onboarding", "account_update")) is None:
                raise StripeError("Missing required param: type.", code="parameter_missing", param="type")
            refresh_url = str_param(params, "refresh_url", required=True)
            return_url = str_param(params, "return_url", required=True)
            assert refresh_url is not None and return_url is not None
            now = self._store.clock.now()
            token = objects.new_id("link", 32)
            link = AccountLinkRecord(token, account_id, refresh_url, return_url, now + ACCOUNT_LINK_LIFETIME)
            self._store.links[token] = link
            self._store.changed("account_links", token)
            return {
                "object": "account_link",
                "created": now,
                "expires_at": link.expires_at,
                "url": f"{self.public_url}/connect/onboard/{token}",
            }

    def link(self, token: str) -> AccountLinkRecord | None:
        """The link behind an onboarding URL, if it exists."""
        with self._store.transaction():
            link = self._store.links.get(token)
            return None if link is None else copy.copy(link)

    def use_link(self, token: str) -> tuple[str, bool]:
        """Complete onboarding through a link: ``(redirect URL, onboarded)``.

        Like Stripe, a link works once and only until it expires; otherwise the user is sent to
        ``refresh_url`` to get a fresh one.
        """
        with self._store.transaction():
            link = self._store.links.get(token)
            if link is None:
                raise missing_resource("account_link", token)
            if link.used or self._store.clock.now() >= link.expires_at:
                return link.refresh_url, False
            link.used = True
            self._store.changed("account_links", token)
            self.onboard(link.account_id)
            return link.return_url, True

    def onboard(self, account_id: str) -> dict[str, Any]:
        """Mark an account fully onboarded and emit ``account.updated`` (a no-op when it already is)."""
        with self._store.transaction():
            account = self.record(account_id)
            if account["charges_enabled"] and account["payouts_enabled"] and account["details_submitted"]:
                return copy.deepcopy(account)
            previous = {
                "capabilities": dict(account["capabilities"]),
                "charges_enabled": account["charges_enabled"],
                "details_submitted": account["details_submitted"],
                "payouts_enabled": account["payouts_enabled"],
                "requirements": copy.deepcopy(account["requirements"]),
            }
            account["capabilities"] = {"card_payments": "active", "transfers": "active"}
            account["charges_enabled"] = True
            account["payouts_enabled"] = True
            account["details_submitted"] = True
            account["requirements"] = {"currently_due": [], "disabled_reason": None, "past_due": []}
            self._store.changed("accounts", account_id)
            self._events.emit(
                "account.updated", account, AUTOMATIC, account_id=account_id, previous_attributes=previous
            )
            return copy.deepcopy(account)
