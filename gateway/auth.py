"""Who is calling: a public tenant key, or an admin's bearer token (or dashboard session cookie).

FastAPI dependencies used by the routes:
- `public_tenant`: `X-Tenant-Key: pk_live_<slug>_<32 hex>` → the tenant (401 TENANT_KEY_REQUIRED /
  INVALID_TENANT_KEY, 403 TENANT_INACTIVE). A malformed key is refused without any service call.
- `tenant_admin`, `platform_admin`, `any_admin`: `Authorization: Bearer <token>` → the admin
  (401 UNAUTHENTICATED, 403 FORBIDDEN for the wrong role). The bearer may also be a tenant's secret
  key (`sk_live_...`) for server-to-server calls: it acts as that tenant's admin, but not as a person
  (`signed_in_tenant_admin` and `signed_in_admin` refuse it: team, password, sign-out, key rotation).
  Which credential it is, and whether it is valid, is the tenant service's decision (VerifyToken).
- Without an Authorization header, the dashboards' `mais_admin` cookie (set by `POST /v1/auth/session`)
  carries the same token. A cookie request with an unsafe method (POST, PUT, PATCH, DELETE) must also
  send `X-CSRF-Token` (the session's `csrfToken`, an HMAC of the token: no state on any replica) and,
  when it sends an Origin, the platform's own (MAIS_PUBLIC_URL's); otherwise it is 403 CSRF_FAILED
  before the token is even verified.

The web pages resolve their tenant the same way: `tenant_of_public_key` (the widget frame's `?key=`)
and `tenant_of_slug` (`/book/{slug}`, through the tenant service's ResolveTenantSlug).

Public keys and slugs are cached briefly (AUTH_CACHE_SECONDS, bounded in size), so a rotation or a
deactivation is seen by every gateway replica within that time without a service call on every
request; a key missing from the cache is looked up once however many requests carry it at that
moment (every public route, the checkout's too). Admin
credentials are verified on every call (only refusals are cached): a signed-out token, a removed
user or a revoked secret key stops at once on every replica.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from fastapi import Request
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from opentelemetry import trace

from gateway.errors import ApiError
from gateway.web import normalise_origin
from mais_runtime.rpc_errors import from_rpc_error
from mais_runtime.telemetry import TENANT_ATTRIBUTE
from mais_runtime.tenancy import current_tenant
from mais_runtime.ttl_cache import TtlCache

log = logging.getLogger("mais.gateway")

# Where public_tenant leaves a browser origin the tenant allows, for gateway/cors.py to answer with.
ALLOWED_ORIGIN_STATE = "cors_allowed_origin"
PUBLIC_KEY = re.compile(r"^pk_live_[a-z0-9][a-z0-9-]{1,48}[a-z0-9]_[0-9a-f]{32}$")
# A tenant's slug as the tenant service accepts it; anything else names no tenant (no service call).
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
AUTH_CACHE_SECONDS = 2.0
# A public key's tenant while the tenant service's change feed is healthy (gateway/feeds.py): every
# change to the tenant or its keys drops the entry at once, so it need not be asked about every two
# seconds (at 20 tenants and two gateways that was 20 ResolvePublicKey calls a second, more than three
# per booking at the closed loop's rate). Refusals, and answers learnt while the feed is down or while
# a change was heard during the lookup, keep AUTH_CACHE_SECONDS.
KEY_FEED_CACHE_SECONDS = 30.0
# A key still in use this close to its entry's end is looked up again in the background.
KEY_REFRESH_AHEAD_SECONDS = 0.5
AUTH_CACHE_ENTRIES = 10_000
# The dashboards' session cookie (its value is the admin's token) and the header that proves a
# cookie request came from the platform's own pages.
ADMIN_COOKIE = "mais_admin"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_TOKEN_LENGTH = 4096
# Where any_admin leaves the credential it accepted and whether it came in the cookie.
_TOKEN_STATE = "admin_token"  # noqa: S105 - an attribute name, not a credential
_COOKIE_STATE = "admin_via_cookie"


@dataclass(frozen=True)
class TenantContext:
    """The tenant a public request acts for."""

    tenant_id: str
    tenant: tenant_pb.Tenant
    # The key was the tenant's live key when looked up (not one in a rotation's grace period, which
    # stops working at a time of its own that no change feed announces).
    live_key: bool = False


@dataclass(frozen=True)
class AdminContext:
    """A signed-in admin. `tenant_id` is empty for platform admins."""

    user_id: str
    email: str
    role: str  # "tenant_admin" or "platform_admin"
    tenant_id: str
    # "sign_in" (a person's token) or "secret_key" (the tenant's server-to-server key; no user).
    credential: str = "sign_in"

    @property
    def actor(self) -> str:
        """How history records name this admin."""
        if self.credential == "secret_key":
            return "tenant_admin:secret_key"
        return f"{self.role}:{self.user_id}"


@dataclass(frozen=True)
class SlugContext:
    """The tenant behind a booking page's slug (active or not) and the public key its pages carry."""

    tenant: tenant_pb.Tenant
    public_key: str


@dataclass
class AuthCaches:
    """The gateway's auth caches (one per process, on app.state)."""

    # Answers and refusals alike: a bad key or token is not asked about again for the cache's lifetime.
    keys: TtlCache[str, TenantContext | ApiError]
    tokens: TtlCache[str, AdminContext | ApiError]
    # Booking pages' slugs (answers and refusals alike, like keys).
    slugs: TtlCache[str, SlugContext | ApiError] = field(
        default_factory=lambda: TtlCache(AUTH_CACHE_SECONDS, AUTH_CACHE_ENTRIES)
    )
    # Keys being refreshed ahead of expiry, and the tasks doing it (kept referenced until done).
    refreshing: set[asyncio.Task[None]] = field(default_factory=set)
    refreshing_keys: set[str] = field(default_factory=set)
    # Public keys being looked up after a miss: the one lookup that the other requests carrying the
    # key wait for (an entry lives only while its lookup runs, so it is bounded by requests in flight).
    key_lookups: dict[str, asyncio.Future[TenantContext | ApiError | None]] = field(default_factory=dict)
    # Whether the tenant change feed is open and heard from (set by gateway/feeds.py; never without it).
    feed_healthy: Callable[[], bool] = field(default=lambda: False)
    # Tenant changes heard so far (forget_tenant, shorten_keys): a lookup that began before one stores its
    # answer for the short lifetime only, since the change may have come after the tenant service read.
    changes: int = 0
    # Whether some key entry is kept for KEY_FEED_CACHE_SECONDS (shortened when the feed is found down).
    long_lived: bool = False

    def remember_key(self, key: str, answer: TenantContext | ApiError, changes_before: int) -> None:
        """Stores a key's answer: for KEY_FEED_CACHE_SECONDS when it is the tenant's live key, the feed is
        healthy and no tenant change was heard since the lookup began; for the cache's own lifetime
        otherwise (a key in its grace period among them: its end is a time, not a change)."""
        if (
            isinstance(answer, TenantContext)
            and answer.live_key
            and self.changes == changes_before
            and self.feed_healthy()
        ):
            self.keys.put(key, answer, KEY_FEED_CACHE_SECONDS)
            self.long_lived = True
        else:
            self.keys.put(key, answer)

    def check_feed(self) -> None:
        """Long-lived key entries are only as good as the feed: once it is down (or silent past its
        lease), they keep the short lifetime at most."""
        if self.long_lived and not self.feed_healthy():
            self.shorten_keys()

    def shorten_keys(self) -> None:
        """The tenant feed was lost or has just come back (a change may have gone unheard): no cached key
        lives longer than AUTH_CACHE_SECONDS from now, as before the feed (a restarting tenant service is
        not asked about every key at once)."""
        self.changes += 1
        self.long_lived = False
        self.keys.shorten(AUTH_CACHE_SECONDS)

    def forget_tenant(self, tenant_id: str) -> None:
        """The tenant changed (its keys, its status): its cached keys and slugs are asked about again."""
        self.changes += 1
        self.keys.discard_where(
            lambda value: isinstance(value, TenantContext) and value.tenant_id == tenant_id
        )
        self.slugs.discard_where(
            lambda value: isinstance(value, SlugContext) and value.tenant.id == tenant_id
        )

    @classmethod
    def create(cls, ttl: float = AUTH_CACHE_SECONDS) -> AuthCaches:
        """Fresh caches."""
        return cls(
            TtlCache(ttl, AUTH_CACHE_ENTRIES),
            TtlCache(ttl, AUTH_CACHE_ENTRIES),
            TtlCache(ttl, AUTH_CACHE_ENTRIES),
        )


def _mark_tenant(tenant_id: str) -> None:
    if tenant_id:
        trace.get_current_span().set_attribute(TENANT_ATTRIBUTE, tenant_id)
        current_tenant.set(tenant_id)


async def public_tenant(request: Request) -> TenantContext:
    """The tenant named by the request's public key."""
    key = request.headers.get("x-tenant-key", "").strip()
    if not key:
        raise ApiError("TENANT_KEY_REQUIRED", "X-Tenant-Key header is required")
    tenant = await tenant_of_public_key(request, key)
    _check_browser_origin(request, tenant)
    return tenant


async def tenant_of_public_key(request: Request, key: str) -> TenantContext:
    """The active tenant of a public key, from the short-lived cache every public route shares (the
    widget's frame page too, whose key comes in its URL): 401 INVALID_TENANT_KEY (a malformed key
    without any service call), 403 TENANT_INACTIVE."""
    if not PUBLIC_KEY.match(key):
        raise ApiError("INVALID_TENANT_KEY", "X-Tenant-Key is not a valid public key")
    caches: AuthCaches = request.app.state.auth_caches
    caches.check_feed()
    cached = caches.keys.get(key)
    if cached is None:
        cached = await _resolve_key_once(request, caches, key)
    elif caches.keys.expiring(key, KEY_REFRESH_AHEAD_SECONDS):
        _refresh_key_ahead(request, caches, key)
    if isinstance(cached, ApiError):
        raise cached.fresh()
    _mark_tenant(cached.tenant_id)
    return cached


async def tenant_of_slug(request: Request, slug: str) -> SlugContext:
    """The tenant of a slug (`/book/{slug}`), cached like public keys (answers and refusals alike);
    404 NOT_FOUND for a slug no tenant has. An inactive tenant is returned: the page says so."""
    if not SLUG.match(slug):
        # Checked before the cache, so that no malformed (and possibly huge) slug takes a place in it.
        raise ApiError("NOT_FOUND", "no business has this address")
    caches: AuthCaches = request.app.state.auth_caches
    cached = caches.slugs.get(slug)
    if cached is None:
        cached = await _resolve_slug(request, slug)
        caches.slugs.put(slug, cached)
    if isinstance(cached, ApiError):
        raise cached.fresh()
    _mark_tenant(cached.tenant.id)
    return cached


async def _resolve_slug(request: Request, slug: str) -> SlugContext | ApiError:
    try:
        answer = await request.app.state.clients.tenant.ResolveTenantSlug(
            tenant_pb.ResolveTenantSlugRequest(slug=slug)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            return ApiError("NOT_FOUND", "no business has this address")
        raise
    return SlugContext(answer.tenant, answer.public_key)


def _check_browser_origin(request: Request, ctx: TenantContext) -> None:
    """A browser's request must come from an origin its tenant listed (or from our own); a request
    with no Origin is not a browser's cross-origin call and is not concerned."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    own = request.app.state.settings.public_url.rstrip("/").lower()
    if origin.lower() in ctx.tenant.allowed_origins or origin.lower() == own:
        setattr(request.state, ALLOWED_ORIGIN_STATE, origin)
        return
    raise ApiError("ORIGIN_NOT_ALLOWED", "this business does not allow calls from this origin")


def _refresh_key_ahead(request: Request, caches: AuthCaches, key: str) -> None:
    """Asks the tenant service about a busy key again shortly before its entry runs out, while the
    entry still answers: requests never wait for the lookup, and a rotation or deactivation is still
    seen within one cache lifetime. One refresh per key at a time; a failed one lets the entry expire."""
    if key in caches.refreshing_keys:
        return

    async def refresh() -> None:
        changes = caches.changes
        try:
            caches.remember_key(key, await _resolve_key(request, key), changes)
        except grpc.aio.AioRpcError as error:
            log.warning("public key refresh failed", extra={"code": error.code().name})
        finally:
            caches.refreshing_keys.discard(key)

    caches.refreshing_keys.add(key)
    task = asyncio.get_running_loop().create_task(refresh())
    caches.refreshing.add(task)
    task.add_done_callback(caches.refreshing.discard)


async def _resolve_key_once(request: Request, caches: AuthCaches, key: str) -> TenantContext | ApiError:
    """A key missing from the cache, looked up once however many requests carry it at that moment
    (a burst of checkouts for one business, a burst of widget reads): the first request asks the
    tenant service and stores the answer; the others wait for it. If that lookup fails (or its request
    is cancelled), each waiter asks for itself, so one failure is not shared by every request."""
    pending = caches.key_lookups.get(key)
    if pending is not None:
        shared = await asyncio.shield(pending)
        if shared is not None:
            return shared
        changes = caches.changes
        own = await _resolve_key(request, key)
        caches.remember_key(key, own, changes)
        return own
    done: asyncio.Future[TenantContext | ApiError | None] = asyncio.get_running_loop().create_future()
    caches.key_lookups[key] = done
    answer: TenantContext | ApiError | None = None
    changes = caches.changes
    try:
        answer = await _resolve_key(request, key)
        caches.remember_key(key, answer, changes)
        return answer
    finally:
        if caches.key_lookups.get(key) is done:
            del caches.key_lookups[key]
        done.set_result(answer)


async def _resolve_key(request: Request, key: str) -> TenantContext | ApiError:
    try:
        answer = await request.app.state.clients.tenant.ResolvePublicKey(
            tenant_pb.ResolvePublicKeyRequest(public_key=key)
        )
    except grpc.aio.AioRpcError as error:
        remote = from_rpc_error(error)
        if remote.reason == "TENANT_INACTIVE":
            return ApiError("TENANT_INACTIVE", "this business is not accepting bookings")
        if remote.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            return ApiError("INVALID_TENANT_KEY", "unknown public key")
        raise
    caches: AuthCaches = request.app.state.auth_caches
    if not caches.feed_healthy():
        return TenantContext(answer.tenant.id, answer.tenant)
    # Whether it is the live key: the slug's newest working key is the live one (every rotation
    # issues a new live pair in the same transaction as it retires the old one).
    try:
        slug = await request.app.state.clients.tenant.ResolveTenantSlug(
            tenant_pb.ResolveTenantSlugRequest(slug=answer.tenant.slug)
        )
    except grpc.aio.AioRpcError:
        return TenantContext(answer.tenant.id, answer.tenant)
    live = slug.tenant.id == answer.tenant.id and hmac.compare_digest(slug.public_key, key)
    return TenantContext(answer.tenant.id, answer.tenant, live_key=live)


async def any_admin(request: Request) -> AdminContext:
    """Any signed-in admin: the bearer token, else the session cookie (with the CSRF rules above)."""
    token, via_cookie = _credential(request)
    if len(token) > MAX_TOKEN_LENGTH:
        raise ApiError("UNAUTHENTICATED", "token is not valid")
    if via_cookie:
        _check_csrf(request, token)
    caches: AuthCaches = request.app.state.auth_caches
    cache_key = hashlib.sha256(token.encode()).hexdigest()
    refused = caches.tokens.get(cache_key)
    if isinstance(refused, ApiError):
        raise refused.fresh()
    answer = await _verify_token(request, token)
    if isinstance(answer, ApiError):
        caches.tokens.put(cache_key, answer)
        raise answer.fresh()
    setattr(request.state, _TOKEN_STATE, token)
    setattr(request.state, _COOKIE_STATE, via_cookie)
    _mark_tenant(answer.tenant_id)
    return answer


def _credential(request: Request) -> tuple[str, bool]:
    """(token, whether it came in the cookie). An Authorization header, when sent, alone decides."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError("UNAUTHENTICATED", "Authorization: Bearer <token> is required")
        return token.strip(), False
    cookie = request.cookies.get(ADMIN_COOKIE, "").strip()
    if not cookie:
        raise ApiError("UNAUTHENTICATED", "Authorization: Bearer <token> or a signed-in session is required")
    return cookie, True


def _check_csrf(request: Request, token: str) -> None:
    """A cookie request that changes something must carry the session's CSRF token and, when it names
    its origin, come from the platform's own (a page elsewhere can make a browser send the cookie, but
    can neither read the token nor send custom headers without a CORS preflight we never answer)."""
    if request.method.upper() not in UNSAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and origin.strip().lower() != own_origin(request.app.state.settings.public_url):
        raise ApiError("CSRF_FAILED", "this change must come from the platform's own pages")
    expected = csrf_token(request.app.state.settings.internal_token, token)
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode()):
        raise ApiError("CSRF_FAILED", "X-CSRF-Token is missing or does not match this session")


@functools.lru_cache(maxsize=8)
def own_origin(public_url: str) -> str:
    """The platform's own origin (MAIS_PUBLIC_URL's), as browsers send it in Origin."""
    return normalise_origin(public_url.strip()) or ""


@functools.lru_cache(maxsize=8)
def _csrf_key(internal_token: str) -> bytes:
    # Derived, so that the internal credential itself never keys anything a browser sees.
    return hmac.new(internal_token.encode(), b"mais gateway csrf key v1", hashlib.sha256).digest()


def csrf_token(internal_token: str, token: str) -> str:
    """base64url(HMAC-SHA256(key, "csrf:" + token)), key derived from the internal token setting: every
    gateway replica computes the same value, with nothing stored."""
    mac = hmac.new(_csrf_key(internal_token), b"csrf:" + token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def came_with_cookie(request: Request) -> bool:
    """Whether any_admin accepted this request's session cookie (not a bearer token)."""
    return bool(getattr(request.state, _COOKIE_STATE, False))


async def _verify_token(request: Request, token: str) -> AdminContext | ApiError:
    try:
        who = await request.app.state.clients.tenant.VerifyToken(tenant_pb.VerifyTokenRequest(token=token))
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT):
            return ApiError("UNAUTHENTICATED", "token is not valid")
        raise
    role = "platform_admin" if who.role == tenant_pb.ROLE_PLATFORM_ADMIN else "tenant_admin"
    credential = "secret_key" if who.credential == tenant_pb.CREDENTIAL_KIND_SECRET_KEY else "sign_in"
    return AdminContext(who.user_id, who.email, role, who.tenant_id, credential)


def bearer_token(request: Request) -> str:
    """The credential (bearer token or session cookie) of a request that any_admin already accepted."""
    accepted = getattr(request.state, _TOKEN_STATE, None)
    if isinstance(accepted, str):
        return accepted
    return request.headers.get("authorization", "").partition(" ")[2].strip()


async def tenant_admin(request: Request) -> AdminContext:
    """An admin of one tenant; the tenant comes from the token, never from the request."""
    admin = await any_admin(request)
    if admin.role != "tenant_admin" or not admin.tenant_id:
        raise ApiError("FORBIDDEN", "this route is for a tenant's admins")
    return admin


async def signed_in_tenant_admin(request: Request) -> AdminContext:
    """A tenant admin signed in as a person (the tenant's secret key is refused)."""
    admin = await tenant_admin(request)
    if admin.credential != "sign_in":
        raise ApiError("FORBIDDEN", "this route needs a person's sign-in, not the secret key")
    return admin


async def signed_in_admin(request: Request) -> AdminContext:
    """Any admin signed in as a person (the tenant's secret key is refused)."""
    admin = await any_admin(request)
    if admin.credential != "sign_in":
        raise ApiError("FORBIDDEN", "this route needs a person's sign-in, not the secret key")
    return admin


async def platform_admin(request: Request) -> AdminContext:
    """A platform administrator."""
    admin = await any_admin(request)
    if admin.role != "platform_admin":
        raise ApiError("FORBIDDEN", "this route is for platform administrators")
    return admin


def client_ip(request: Request) -> str:
    """The caller's address. Envoy runs with use_remote_address and trusts no hops, so the last
    X-Forwarded-For entry is the one Envoy appended itself; earlier entries are the client's word."""
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",") if hop.strip()]
    if hops:
        return hops[-1][:64]
    return request.client.host if request.client else "unknown"
