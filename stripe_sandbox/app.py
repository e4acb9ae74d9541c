"""The sandbox's HTTP surface: Stripe's ``/v1`` API, the hosted pages and the ``/_sandbox`` test controls.

``/v1`` routes behave like Stripe's: bearer (or basic) auth with any ``sk_test_`` key, form-encoded
parameters, ``Idempotency-Key`` on POST, JSON objects or Stripe-shaped errors, a ``Request-Id`` header. The
hosted pages (``/pay/{session}``, ``/connect/onboard/{token}``) are what a browser sees. ``/_sandbox`` takes
and returns JSON and needs no key: it is for tests and scripts on this machine only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mais_runtime.background import every
from stripe_sandbox import hosted, objects
from stripe_sandbox.config import SandboxConfig
from stripe_sandbox.delivery import Deliverer, DeliverySettings
from stripe_sandbox.errors import StripeError
from stripe_sandbox.forms import list_param, parse_form
from stripe_sandbox.idempotency import fingerprint
from stripe_sandbox.state import RequestContext, SandboxState

logger = logging.getLogger("stripe_sandbox")

_MAX_DELIVER_TIMES = 100
_MAX_DELIVER_DELAY_MS = 60_000


@dataclass(frozen=True)
class ApiCall:
    """One decoded ``/v1`` request as the handlers see it."""

    path: dict[str, str]
    params: dict[str, Any]
    ctx: RequestContext


ApiHandler = Callable[[ApiCall], dict[str, Any]]


# ----------------------------------------------------------------------------- helpers


def _redact(key: str) -> str:
    if len(key) <= 12:
        return "*" * len(key)
    return f"{key[:8]}{'*' * (len(key) - 12)}{key[-4:]}"


def authenticate(authorization: str | None) -> str:
    """The API key from an ``Authorization`` header, or a 401 exactly where Stripe would answer one."""
    if not authorization:
        raise StripeError(
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#"
            "authentication for details, or we can help at https://support.stripe.com/.",
            status=401,
        )
    scheme, _, value = authorization.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = value.strip()
    elif scheme.lower() == "basic":
        # ``curl -u sk_test_...:`` sends the key as the basic-auth user name.
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            key = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
    if not key.startswith("sk_test_") or len(key) == len("sk_test_"):
        raise StripeError(f"Invalid API Key provided: {_redact(key)}", status=401)
    return key


def _json(body: dict[str, Any], status: int, request_id: str, *, replayed: bool = False) -> JSONResponse:
    headers = {"Request-Id": request_id, "Stripe-Version": objects.API_VERSION}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=status, headers=headers)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise StripeError("The request body must be JSON.") from None
    if not isinstance(body, dict):
        raise StripeError("The request body must be a JSON object.")
    return body


def _int_field(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StripeError(f"`{name}` must be an integer between {low} and {high}.", param=name)
    return value


def _bool_field(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise StripeError(f"`{name}` must be a boolean.", param=name)
    return value


async def _expire_due_sessions(state: SandboxState) -> None:
    """One sweep: expire overdue open sessions, as Stripe does at ``expires_at`` (also after a restart)."""
    expired = state.checkout.expire_due()
    if expired:
        logger.info("expired %d checkout session(s)", expired)


# ------------------------------------------------------------------------------ the app


class SandboxApp:
    """Binds the HTTP routes to one state and one deliverer."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState(
            public_url=config.base_url,
            state_dir=config.state_dir,
            require_onboarded_destination=config.require_onboarded_destination,
        )
        self.deliverer = Deliverer(
            self.state,
            DeliverySettings(
                url=config.webhook_url,
                secret=config.webhook_secret,
                timeout_seconds=config.delivery_timeout,
                max_attempts=config.max_attempts,
                retry_scale=config.retry_scale,
            ),
        )

    # ------------------------------------------------------------------- /v1

    def api(self, path: str, method: str, handler: ApiHandler) -> Route:
        """A Stripe API route: auth, form decoding, idempotency and error rendering around ``handler``."""

        async def endpoint(request: Request) -> Response:
            return await self._dispatch(request, handler)

        return Route(path, endpoint, methods=[method])

    async def _dispatch(self, request: Request, handler: ApiHandler) -> Response:
        request_id = objects.new_id("req", 14)
        try:
            api_key = authenticate(request.headers.get("authorization"))
            is_post = request.method == "POST"
            params = parse_form(await request.body() if is_post else request.url.query)
            key = request.headers.get("idempotency-key") if is_post else None
            ctx = RequestContext(request_id=request_id, idempotency_key=key)
            request_fp = fingerprint(request.method, request.url.path, params) if key else ""
            # One transaction across lookup, execution and remember: concurrent retries with one key get one
            # object, and the key's answer is kept with the objects it names (a crash keeps both or neither).
            with self.state.transaction():
                if key:
                    stored = self.state.idempotency.lookup(api_key, key, request_fp, self.state.clock.now())
                    if stored is not None:
                        return _json(stored.body, stored.status, request_id, replayed=True)
                body = handler(ApiCall(dict(request.path_params), params, ctx))
                expand = list_param(params, "expand")
                if expand:
                    body = self.state.expansion.expand(body, expand)
                if key:
                    self.state.idempotency.remember(
                        api_key, key, request_fp, 200, body, self.state.clock.now()
                    )
            return _json(body, 200, request_id)
        except StripeError as exc:
            return _json(exc.to_body(), exc.status, request_id)

    async def unrecognized(self, request: Request) -> Response:
        """Stripe's 404 for an API path it does not know (after checking the key, as Stripe does)."""
        request_id = objects.new_id("req", 14)
        try:
            authenticate(request.headers.get("authorization"))
            raise StripeError(
                f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                status=404,
            )
        except StripeError as exc:
            return _json(exc.to_body(), exc.status, request_id)

    def api_routes(self) -> list[Route]:
        """Every ``/v1`` route the sandbox implements."""
        s = self.state
        checkout, refunds, connect, charges, events = s.checkout, s.refunds, s.connect, s.charges, s.events
        return [
            self.api("/v1/checkout/sessions", "POST", lambda c: checkout.create(c.params, c.ctx)),
            self.api("/v1/checkout/sessions", "GET", lambda c: checkout.list_page(c.params)),
            self.api("/v1/checkout/sessions/{session}", "GET", lambda c: checkout.get(c.path["session"])),
            self.api(
                "/v1/checkout/sessions/{session}/expire",
                "POST",
                lambda c: checkout.expire(c.path["session"], c.ctx),
            ),
            self.api(
                "/v1/checkout/sessions/{session}/line_items",
                "GET",
                lambda c: checkout.line_items(c.path["session"], c.params),
            ),
            self.api("/v1/refunds", "POST", lambda c: refunds.create(c.params, c.ctx)),
            self.api("/v1/refunds", "GET", lambda c: refunds.list_page(c.params)),
            self.api("/v1/refunds/{refund}", "GET", lambda c: refunds.get(c.path["refund"])),
            self.api("/v1/accounts", "POST", lambda c: connect.create(c.params)),
            self.api("/v1/accounts/{account}", "GET", lambda c: connect.get(c.path["account"])),
            self.api(
                "/v1/accounts/{account}", "POST", lambda c: connect.update(c.path["account"], c.params, c.ctx)
            ),
            self.api("/v1/accounts/{account}", "DELETE", lambda c: connect.delete(c.path["account"])),
            self.api("/v1/account_links", "POST", lambda c: connect.create_link(c.params)),
            self.api("/v1/events", "GET", lambda c: events.list_page(c.params)),
            self.api("/v1/events/{id}", "GET", lambda c: events.get(c.path["id"])),
            self.api(
                "/v1/payment_intents/{intent}", "GET", lambda c: charges.get_payment_intent(c.path["intent"])
            ),
            self.api("/v1/charges/{charge}", "GET", lambda c: charges.get_charge(c.path["charge"])),
            self.api("/v1/application_fees/{id}", "GET", lambda c: charges.get_application_fee(c.path["id"])),
            self.api(
                "/v1/application_fees/{id}/refunds",
                "POST",
                lambda c: refunds.create_fee_refund(c.path["id"], c.params, c.ctx),
            ),
            self.api(
                "/v1/application_fees/{id}/refunds",
                "GET",
                lambda c: refunds.list_fee_refunds(c.path["id"], c.params),
            ),
            self.api("/v1/transfers/{transfer}", "GET", lambda c: charges.get_transfer(c.path["transfer"])),
            Route("/v1/{rest:path}", self.unrecognized, methods=["GET", "POST", "DELETE", "PUT", "PATCH"]),
        ]

    # ---------------------------------------------------------- hosted pages

    async def checkout_page(self, request: Request) -> Response:
        """``GET /pay/{session}``: the hosted payment page."""
        try:
            session, items = self.state.checkout.session_view(request.path_params["session"])
        except StripeError as exc:
            return HTMLResponse(hosted.message_page("Not found", exc.message), status_code=exc.status)
        return HTMLResponse(hosted.checkout_page(session, items))

    async def checkout_pay(self, request: Request) -> Response:
        """``POST /pay/{session}/pay``: pay, then redirect to ``success_url`` (JSON for scripts)."""
        session_id = request.path_params["session"]
        email = parse_form(await request.body()).get("email") if not _wants_json(request) else None
        try:
            session = self.state.checkout.pay(session_id, email if isinstance(email, str) else None)
        except StripeError as exc:
            if _wants_json(request):
                return JSONResponse(exc.to_body(), status_code=exc.status)
            return HTMLResponse(
                hosted.message_page("Payment not possible", exc.message), status_code=exc.status
            )
        # Stripe fills the {CHECKOUT_SESSION_ID} template variable in success_url.
        redirect = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
        if _wants_json(request):
            return JSONResponse({"status": "complete", "redirect_url": redirect, "session": session})
        return RedirectResponse(redirect, status_code=303)

    async def checkout_cancel(self, request: Request) -> Response:
        """``POST /pay/{session}/cancel``: the customer goes back; the session stays as it is."""
        try:
            session = self.state.checkout.get(request.path_params["session"])
        except StripeError as exc:
            if _wants_json(request):
                return JSONResponse(exc.to_body(), status_code=exc.status)
            return HTMLResponse(hosted.message_page("Not found", exc.message), status_code=exc.status)
        cancel_url = session["cancel_url"]
        if _wants_json(request):
            return JSONResponse({"status": session["status"], "redirect_url": cancel_url, "session": session})
        if cancel_url:
            return RedirectResponse(cancel_url, status_code=303)
        return HTMLResponse(hosted.message_page("Payment cancelled", "You can close this page."))

    async def onboarding_page(self, request: Request) -> Response:
        """``GET /connect/onboard/{token}``: the hosted onboarding page of an account link."""
        token = request.path_params["token"]
        link = self.state.connect.link(token)
        if link is None:
            return HTMLResponse(hosted.message_page("Not found", "This onboarding link does not exist."), 404)
        if link.used or self.state.clock.now() >= link.expires_at:
            return RedirectResponse(link.refresh_url, status_code=303)
        account = self.state.connect.get(link.account_id)
        return HTMLResponse(hosted.onboarding_page(token, account))

    async def onboarding_complete(self, request: Request) -> Response:
        """``POST /connect/onboard/{token}/complete``: finish onboarding and return to the platform."""
        try:
            redirect, onboarded = self.state.connect.use_link(request.path_params["token"])
        except StripeError as exc:
            if _wants_json(request):
                return JSONResponse(exc.to_body(), status_code=exc.status)
            return HTMLResponse(hosted.message_page("Not found", exc.message), status_code=exc.status)
        if _wants_json(request):
            return JSONResponse({"onboarded": onboarded, "redirect_url": redirect})
        return RedirectResponse(redirect, status_code=303)

    # -------------------------------------------------------- test controls

    def control(self, path: str, method: str, handler: Callable[[Request], Awaitable[Response]]) -> Route:
        """A ``/_sandbox`` route; errors come back in the same ``{"error": {...}}`` shape as the API's."""

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except StripeError as exc:
                return JSONResponse(exc.to_body(), status_code=exc.status)

        return Route(path, endpoint, methods=[method])

    async def control_pay(self, request: Request) -> Response:
        """Pay a session as the hosted form would (JSON answer)."""
        body = await _json_body(request)
        email = body.get("email") if isinstance(body.get("email"), str) else None
        session = self.state.checkout.pay(request.path_params["session"], email)
        redirect = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        return JSONResponse({"status": "complete", "redirect_url": redirect, "session": session})

    async def control_expire_now(self, request: Request) -> Response:
        """Expire an open session immediately, whatever its ``expires_at``."""
        session = self.state.checkout.expire(request.path_params["session"], RequestContext())
        return JSONResponse({"status": "expired", "session": session})

    async def control_onboard(self, request: Request) -> Response:
        """Mark an account onboarded (emits ``account.updated``)."""
        return JSONResponse(self.state.connect.onboard(request.path_params["account"]))

    async def control_deliver(self, request: Request) -> Response:
        """Re-deliver an event N times, sequentially or concurrently, optionally late."""
        body = await _json_body(request)
        times = _int_field(body, "times", 1, 1, _MAX_DELIVER_TIMES)
        delay_ms = _int_field(body, "delay_ms", 0, 0, _MAX_DELIVER_DELAY_MS)
        concurrent = _bool_field(body, "concurrent", False)
        wait = _bool_field(body, "wait", True)
        event_id = request.path_params["event"]
        attempts = await self.deliverer.deliver_now(
            event_id, times=times, concurrent=concurrent, delay_ms=delay_ms, wait=wait
        )
        if attempts is None:
            return JSONResponse({"event": event_id, "scheduled": times}, status_code=202)
        return JSONResponse({"event": event_id, "attempts": attempts})

    async def control_deliveries(self, request: Request) -> Response:
        """The delivery-attempt log, oldest first (``?event_id=`` and ``?limit=`` filter it)."""
        try:
            limit = int(request.query_params.get("limit", "1000"))
        except ValueError:
            raise StripeError("`limit` must be an integer.", param="limit") from None
        records = self.deliverer.deliveries(event_id=request.query_params.get("event_id"), limit=limit)
        return JSONResponse({"deliveries": records})

    async def control_webhook(self, request: Request) -> Response:
        """Change the endpoint URL (``null`` disables delivery) and optionally the signing secret."""
        body = await _json_body(request)
        if "url" not in body:
            raise StripeError("`url` is required (a URL, or null to stop delivering).", param="url")
        url = body["url"]
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise StripeError("`url` must be an http(s) URL or null.", param="url")
        secret = body.get("secret")
        if secret is not None and (not isinstance(secret, str) or not secret.startswith("whsec_")):
            raise StripeError("`secret` must start with whsec_.", param="secret")
        return JSONResponse(self.deliverer.set_endpoint(url, secret))

    async def control_webhook_get(self, request: Request) -> Response:
        """The current delivery settings (the secret is never shown)."""
        return JSONResponse(self.deliverer.describe())

    async def control_hold(self, request: Request) -> Response:
        """Queue new events instead of delivering them."""
        return JSONResponse(self.deliverer.hold())

    async def control_release(self, request: Request) -> Response:
        """Stop holding; deliver queued events not yet acknowledged (``{"deliver": false}`` drops them)."""
        body = await _json_body(request)
        released = self.deliverer.release(deliver=_bool_field(body, "deliver", True))
        return JSONResponse({"released": released})

    async def control_clock(self, request: Request) -> Response:
        """Move the sandbox clock forward (``{"seconds": n}``) so sessions and links can expire in tests."""
        body = await _json_body(request)
        seconds = _int_field(body, "seconds", 0, 0, 365 * 24 * 3600)
        now = self.state.advance_clock(seconds)
        return JSONResponse({"now": now, "offset": self.state.clock.offset})

    async def health(self, request: Request) -> Response:
        """Liveness plus a summary of the sandbox's state."""
        return JSONResponse(
            {
                "status": "ok",
                "now": self.state.clock.now(),
                "clock_offset": self.state.clock.offset,
                "base_url": self.config.base_url,
                "delivery": self.deliverer.describe(),
                "objects": self.state.counts(),
            }
        )

    def routes(self) -> list[Route]:
        """All routes: hosted pages, test controls, then the API (its catch-all last)."""
        c = self.control
        return [
            Route("/pay/{session}", self.checkout_page, methods=["GET"]),
            Route("/pay/{session}/pay", self.checkout_pay, methods=["POST"]),
            Route("/pay/{session}/cancel", self.checkout_cancel, methods=["POST"]),
            Route("/connect/onboard/{token}", self.onboarding_page, methods=["GET"]),
            Route("/connect/onboard/{token}/complete", self.onboarding_complete, methods=["POST"]),
            c("/_sandbox/health", "GET", self.health),
            c("/_sandbox/sessions/{session}/pay", "POST", self.control_pay),
            c("/_sandbox/sessions/{session}/expire_now", "POST", self.control_expire_now),
            c("/_sandbox/accounts/{account}/onboard", "POST", self.control_onboard),
            c("/_sandbox/events/{event}/deliver", "POST", self.control_deliver),
            c("/_sandbox/deliveries", "GET", self.control_deliveries),
            c("/_sandbox/webhook", "POST", self.control_webhook),
            c("/_sandbox/webhook", "GET", self.control_webhook_get),
            c("/_sandbox/hold_deliveries", "POST", self.control_hold),
            c("/_sandbox/release_deliveries", "POST", self.control_release),
            c("/_sandbox/clock/advance", "POST", self.control_clock),
            *self.api_routes(),
        ]

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Start webhook delivery and the expiry sweeper with the server; stop both with it."""
        await self.deliverer.start()
        sweep = every(
            self.config.expiry_interval,
            lambda: _expire_due_sessions(self.state),
            name="checkout session expiry",
        )
        stop = asyncio.Event()
        sweeper = asyncio.create_task(sweep(stop))
        try:
            yield
        finally:
            stop.set()
            await sweeper
            await self.deliverer.stop()
            self.state.close()


def create_app(config: SandboxConfig) -> Starlette:
    """The ASGI application; ``app.state.sandbox`` holds the :class:`SandboxApp` (state, deliverer)."""
    sandbox = SandboxApp(config)
    app = Starlette(routes=sandbox.routes(), lifespan=sandbox.lifespan)
    app.state.sandbox = sandbox
    return app
