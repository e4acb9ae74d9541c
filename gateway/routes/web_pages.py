"""The couple's pages and the widget's files (gateway/web.py holds the build and the rules they share).

- `/widget/v1/mais.js`: the loader (`public, max-age=300`).
- `/assets/<hashed file>`: the app's JS and CSS (`public, max-age=31536000, immutable`).
- `/widget/v1/frame?key=&origin=&widget=[&return=][&session=]`: page "book", embedded; may be framed by
  the platform and the tenant's widget origins.
- `/book/{slug}`: page "book", standalone (the business's shareable link); framed as above.
- `/book/{slug}/done?session_id=[&return=]` (Stripe's success_url) and `/book/{slug}/cancelled[?return=]`
  (its cancel_url): pages "done" and "cancelled"; never framed.
- `/booking/{bookingId}?token=`: page "manage", the emails' link; never framed.
- `/admin`, `/admin/{anything}`: the dashboards (build/web/admin.html, page "admin"; the app routes
  under /admin/ itself); never framed, and they may frame the platform's own pages (the widget preview).

Every page is the one shell with its `#mais-config` JSON; every HTML answer is `Cache-Control: no-cache`
and carries the strict CSP of web.page_csp. Nothing from the request reaches a page unchecked: the host
`origin` only when the tenant lists it, a `return` URL only on the tenant's origins or the platform's,
ids only in their own shapes; anything else is left out, never an error (a page always renders).
An unknown slug or key, or a tenant that takes no bookings, is 404 with the page "unavailable".
The manage page does not check its token: the app reads the booking with it and shows a bad link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from starlette.responses import Response

from gateway import web
from gateway.auth import tenant_of_public_key, tenant_of_slug
from gateway.errors import ApiError, error_response

router = APIRouter(include_in_schema=False)

_BOOKING_ID = re.compile(r"^bk_[a-z0-9]{26}$")
_MAX_ASSET_PATH = 300
# HEAD too: checking a page's or a file's headers (curl -I) is how they are debugged.
_METHODS = ["GET", "HEAD"]


# --- files ---------------------------------------------------------------------------------------


@router.api_route("/widget/v1/mais.js", methods=_METHODS)
async def loader(request: Request) -> Response:
    """The loader a tenant's site includes."""
    return _file(request, web.LOADER_PATH, web.LOADER_CACHE_CONTROL)


@router.api_route("/assets/{path:path}", methods=_METHODS)
async def asset(request: Request, path: str) -> Response:
    """A hashed file of the app's build."""
    if len(path) > _MAX_ASSET_PATH:
        return error_response(ApiError("NOT_FOUND", "no such file"))
    return _file(request, f"assets/{path}", web.ASSET_CACHE_CONTROL)


def _file(request: Request, path: str, cache_control: str) -> Response:
    build: web.WebBuild = request.app.state.web
    if not build.present:
        return _missing_build()
    found = build.file(path)
    if found is None:
        return error_response(ApiError("NOT_FOUND", "no such file"))
    gzipped = found.gzipped is not None and web.accepts_gzip(request.headers.get("accept-encoding", ""))
    # One validator per representation: a cache must never answer a gzip request with the plain one.
    etag = found.etag[:-1] + '-gzip"' if gzipped else found.etag
    headers = {"Cache-Control": cache_control, "ETag": etag, "Vary": "Accept-Encoding"}
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    if gzipped:
        assert found.gzipped is not None
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, media_type=found.content_type, headers=headers)
    return Response(found.body, media_type=found.content_type, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


# --- pages ---------------------------------------------------------------------------------------


@router.api_route("/widget/v1/frame", methods=_METHODS)
async def widget_frame(request: Request) -> Response:
    """The booking app inside the loader's iframe on a tenant's site."""
    if not request.app.state.web.present:
        return _missing_build()
    query = request.query_params
    try:
        found = await tenant_of_public_key(request, query.get("key", "").strip())
    except ApiError as refused:
        if refused.code not in ("INVALID_TENANT_KEY", "TENANT_INACTIVE"):
            raise
        # The key names no tenant we may show (or one that takes no bookings): only the platform
        # itself may frame the answer.
        return _unavailable(request, embedded=True, frame_ancestors=())
    tenant = found.tenant
    config: dict[str, Any] = {
        "page": "book",
        "embedded": True,
        # The key the host page embedded (in its rotation grace or live): the one credential it gave.
        "publicKey": query.get("key", "").strip(),
        "slug": tenant.slug,
    }
    parent = web.allowed_parent_origin(query.get("origin", ""), tenant.allowed_origins)
    if parent:
        config["parentOrigin"] = parent
    widget_id = query.get("widget", "")
    if web.WIDGET_ID.match(widget_id):
        config["widgetId"] = widget_id
    _add_return_url(request, config, tenant, query.get("return", ""))
    session = query.get("session", "")
    if web.SESSION_ID.match(session):
        config["sessionId"] = session
    return _page(request, config, frame_ancestors=tenant.allowed_origins)


async def _standalone(
    request: Request, slug: str, page: str, *, framable: bool
) -> Response | tuple[tenant_pb.Tenant, dict[str, Any]]:
    """The tenant of a `/book/{slug}...` page and the page's base config, or the answer instead of it:
    503 without a build, the unavailable page for an unknown or inactive business (framable like the
    page it stands for)."""
    if not request.app.state.web.present:
        return _missing_build()
    tenant, public_key = await _bookable(request, slug)
    if tenant is None:
        return _unavailable(request, embedded=False, frame_ancestors=() if framable else None)
    return tenant, {"page": page, "embedded": False, "publicKey": public_key, "slug": tenant.slug}


@router.api_route("/book/{slug}", methods=_METHODS)
async def book(request: Request, slug: str) -> Response:
    """The booking app standalone: the business's shareable link."""
    found = await _standalone(request, slug, "book", framable=True)
    if isinstance(found, Response):
        return found
    tenant, config = found
    return _page(request, config, frame_ancestors=tenant.allowed_origins)


@router.api_route("/book/{slug}/done", methods=_METHODS)
async def done(request: Request, slug: str) -> Response:
    """Where Stripe sends the couple after paying (success_url)."""
    found = await _standalone(request, slug, "done", framable=False)
    if isinstance(found, Response):
        return found
    tenant, config = found
    session = request.query_params.get("session_id", "")
    if web.SESSION_ID.match(session):
        config["sessionId"] = session
    _add_return_url(request, config, tenant, request.query_params.get("return", ""))
    return _page(request, config, frame_ancestors=None)


@router.api_route("/book/{slug}/cancelled", methods=_METHODS)
async def cancelled(request: Request, slug: str) -> Response:
    """Where Stripe sends the couple who went back without paying (cancel_url)."""
    found = await _standalone(request, slug, "cancelled", framable=False)
    if isinstance(found, Response):
        return found
    tenant, config = found
    _add_return_url(request, config, tenant, request.query_params.get("return", ""))
    return _page(request, config, frame_ancestors=None)


@router.api_route("/booking/{booking_id}", methods=_METHODS)
async def manage(request: Request, booking_id: str) -> Response:
    """The couple's own booking, from their emails' link (the app reads `?token=` itself)."""
    if not request.app.state.web.present:
        return _missing_build()
    config: dict[str, Any] = {"page": "manage", "embedded": False}
    if not _BOOKING_ID.match(booking_id):
        # No booking has this id: the app shows the link as not working, and so does the status.
        return _page(request, config, frame_ancestors=None, status_code=404)
    config["bookingId"] = booking_id
    return _page(request, config, frame_ancestors=None)


@router.api_route("/admin", methods=_METHODS)
@router.api_route("/admin/{path:path}", methods=_METHODS)
async def admin(request: Request, path: str = "") -> Response:
    """The dashboards' one shell for every path under /admin/ (the app routes with the History API);
    it carries no admin data, which the app reads with the session cookie."""
    build: web.WebBuild = request.app.state.web
    if not build.admin_present:
        return _missing_build()
    assert build.admin_shell is not None
    return Response(
        build.admin_shell.render({"page": "admin"}),
        media_type="text/html",
        headers={"Content-Security-Policy": web.ADMIN_PAGE_CSP, "Cache-Control": web.PAGE_CACHE_CONTROL},
    )


async def _bookable(request: Request, slug: str) -> tuple[tenant_pb.Tenant | None, str]:
    """(tenant, its newest public key) of a slug, or (None, "") when no active tenant has it."""
    try:
        found = await tenant_of_slug(request, slug)
    except ApiError as refused:
        if refused.code != "NOT_FOUND":
            raise
        return None, ""
    if not found.tenant.active:
        return None, ""
    return found.tenant, found.public_key


def _add_return_url(request: Request, config: dict[str, Any], tenant: tenant_pb.Tenant, url: str) -> None:
    allowed = web.allowed_return_url(url, tenant.allowed_origins, request.app.state.settings.public_url)
    if allowed:
        config["returnUrl"] = allowed


def _page(
    request: Request,
    config: dict[str, Any],
    *,
    frame_ancestors: Iterable[str] | None,
    status_code: int = 200,
) -> Response:
    build: web.WebBuild = request.app.state.web
    assert build.shell is not None
    return Response(
        build.shell.render(config),
        status_code=status_code,
        media_type="text/html",
        headers={
            "Content-Security-Policy": web.page_csp(frame_ancestors),
            "Cache-Control": web.PAGE_CACHE_CONTROL,
        },
    )


def _unavailable(request: Request, *, embedded: bool, frame_ancestors: Iterable[str] | None) -> Response:
    return _page(
        request,
        {"page": "unavailable", "embedded": embedded},
        frame_ancestors=frame_ancestors,
        status_code=404,
    )


def _missing_build() -> Response:
    return Response(
        web.MISSING_BUILD_PAGE,
        status_code=503,
        media_type="text/html",
        headers={"Content-Security-Policy": web.MISSING_BUILD_CSP, "Retry-After": "5"},
    )
