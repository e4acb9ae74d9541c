"""The built web front end (`make web` → build/web) as the gateway serves it: read once into memory, the
JavaScript and CSS gzipped once, the one HTML shell rendered per page with its configuration.

Files change only when the front end is rebuilt, and a restart picks the new build up; a missing build
(no index.html) is looked for again at most once a second, so `make web` on a running stack is enough.

The pieces every page shares live here too: the page's Content-Security-Policy (a strict one for
scripts and styles, `frame-ancestors` from the tenant's widget origins on the pages that may be framed),
and which URLs may be a page's `returnUrl` or `parentOrigin` (only origins the tenant listed, or the
platform's own), so that nothing a link carries is reflected into a page unchecked.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

log = logging.getLogger("mais.gateway")

# The loader's URL path, relative to the build folder.
LOADER_PATH = "widget/v1/mais.js"
# How long a browser may keep the loader before asking again (it names the app's hashed files, which
# change with every build; a short life lets a new build reach every host page within minutes).
LOADER_CACHE_CONTROL = "public, max-age=300"
# Hashed file names: a file's name changes whenever its content does.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
PAGE_CACHE_CONTROL = "no-cache"
# Compressed only where it pays (text); images and fonts are already compressed.
_COMPRESSIBLE = frozenset({".js", ".mjs", ".css", ".svg", ".json", ".map", ".txt"})
_CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
}
MISSING_RETRY_SECONDS = 1.0

_BASE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors "
)
# The dashboards: the couple's pages' policy, plus frames of the platform itself (the live widget
# preview is /widget/v1/frame), and never framed by anyone.
ADMIN_PAGE_CSP = _BASE_CSP.replace("frame-ancestors ", "frame-src 'self'; frame-ancestors 'none'")
# The dashboards' shell, relative to the build folder (a second entry of the same Vite build).
ADMIN_SHELL_PATH = "admin.html"
# An origin as it may stand in a CSP source list (tenant origins are checked when stored; this keeps
# anything else out of the header whatever the store holds).
_CSP_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")
WIDGET_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Stripe's Checkout Session ids: cs_test_… / cs_live_… (letters, digits, underscores).
SESSION_ID = re.compile(r"^cs_[A-Za-z0-9_]{1,250}$")
MAX_RETURN_URL = 2000
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class StaticFile:
    """One built file in memory: its bytes, their gzip (when worth it) and a strong validator."""

    body: bytes
    content_type: str
    etag: str
    gzipped: bytes | None = None

    @classmethod
    def of(cls, body: bytes, suffix: str) -> StaticFile:
        """The file with its content type, ETag (a hash of the bytes) and gzip form."""
        # mtime 0: the same bytes compress to the same bytes on every replica.
        gzipped = gzip.compress(body, compresslevel=9, mtime=0) if suffix in _COMPRESSIBLE else None
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(body, _CONTENT_TYPES.get(suffix, "application/octet-stream"), etag, gzipped)


class Shell:
    """build/web/index.html, split where each page's configuration goes (just before `</head>`)."""

    def __init__(self, html: bytes) -> None:
        cut = html.lower().rfind(b"</head>")
        if cut < 0:
            cut = 0
        self._before, self._after = html[:cut], html[cut:]

    def render(self, config: Mapping[str, Any]) -> bytes:
        """The shell with `<script type="application/json" id="mais-config">` carrying `config`."""
        return b"".join(
            (
                self._before,
                b'<script type="application/json" id="mais-config">',
                config_json(config),
                b"</script>",
                self._after,
            )
        )


def config_json(config: Mapping[str, Any]) -> bytes:
    """JSON that cannot end its script element or open a comment: `<`, `>` and `&` as \\u escapes
    (and the two line separators, which some parsers treat as line ends)."""
    raw = orjson.dumps(config)
    for char, escape in (
        (b"<", b"\\u003c"),
        (b">", b"\\u003e"),
        (b"&", b"\\u0026"),
        ("\u2028".encode(), b"\\u2028"),
        ("\u2029".encode(), b"\\u2029"),
    ):
        raw = raw.replace(char, escape)
    return raw


class WebBuild:
    """What `make web` built, held in memory for the process's life."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.shell: Shell | None = None
        self.admin_shell: Shell | None = None
        self.files: dict[str, StaticFile] = {}
        self._looked_at = 0.0
        self._admin_looked_at = 0.0
        self._load()

    @property
    def present(self) -> bool:
        """Whether a whole build was found (the shell and the loader); otherwise pages answer 503."""
        self._retry_if_missing()
        return self.shell is not None

    @property
    def admin_present(self) -> bool:
        """Whether the dashboards' shell was built too (looked for again like a missing build)."""
        if not self.present:
            return False
        if self.admin_shell is None and time.monotonic() - self._admin_looked_at >= MISSING_RETRY_SECONDS:
            self._load()
        return self.admin_shell is not None

    def file(self, path: str) -> StaticFile | None:
        """A built file by its URL path relative to the build (`assets/…`, `widget/v1/mais.js`)."""
        self._retry_if_missing()
        return self.files.get(path)

    def _retry_if_missing(self) -> None:
        if self.shell is None and time.monotonic() - self._looked_at >= MISSING_RETRY_SECONDS:
            self._load()

    def _load(self) -> None:
        self._looked_at = time.monotonic()
        index = self.root / "index.html"
        # `npm run build` writes the app (index.html first) and then the loader: a build without its
        # loader is still being written, so it is not taken (and looked for again a second later).
        if not (self.root / LOADER_PATH).is_file():
            return
        try:
            html = index.read_bytes()
        except OSError:
            return
        files: dict[str, StaticFile] = {}
        for path in _servable(self.root):
            relative = path.relative_to(self.root).as_posix()
            files[relative] = StaticFile.of(path.read_bytes(), path.suffix.lower())
        self.files = files
        self._admin_looked_at = time.monotonic()
        try:
            self.admin_shell = Shell((self.root / ADMIN_SHELL_PATH).read_bytes())
        except OSError:
            self.admin_shell = None
        self.shell = Shell(html)
        log.info("web build loaded", extra={"files": len(files)})


def _servable(root: Path) -> Iterable[Path]:
    assets = root / "assets"
    if assets.is_dir():
        yield from (p for p in sorted(assets.rglob("*")) if p.is_file())
    loader = root / LOADER_PATH
    if loader.is_file():
        yield loader


def page_csp(frame_ancestors: Iterable[str] | None) -> str:
    """The CSP of an HTML page. `frame_ancestors` None: the page may not be framed at all ('none');
    otherwise the platform itself and these origins may frame it (the tenant's widget origins)."""
    if frame_ancestors is None:
        return _BASE_CSP + "'none'"
    allowed = ["'self'"]
    for origin in frame_ancestors:
        normalised = normalise_origin(origin)
        if normalised and _CSP_ORIGIN.match(normalised) and normalised not in allowed:
            allowed.append(normalised)
    return _BASE_CSP + " ".join(allowed)


def normalise_origin(value: str) -> str | None:
    """`scheme://host[:port]` lower-cased with a default port left out, or None when `value` is not
    an http(s) origin or URL (userinfo, no host, a bad port)."""
    if not value or len(value) > MAX_RETURN_URL or any(c.isspace() or ord(c) < 0x20 for c in value):
        return None
    try:
        parts = urlsplit(value)  # "http://[::1" and NFKC-changing netlocs raise
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def allowed_parent_origin(origin: str, tenant_origins: Iterable[str]) -> str | None:
    """The host page's origin when the tenant listed it (as the loader reports it: `location.origin`);
    None otherwise, and then the app posts no message at all."""
    normalised = normalise_origin(origin)
    if normalised is None or normalised != origin.lower():
        return None
    listed = {normalise_origin(o) for o in tenant_origins}
    return origin.lower() if normalised in listed else None


def allowed_return_url(url: str, tenant_origins: Iterable[str], public_url: str) -> str | None:
    """`url` when it is an absolute http(s) URL on one of the tenant's widget origins or on the
    platform's own; None otherwise (a link can never send a couple somewhere the tenant did not list)."""
    origin = normalise_origin(url)
    if origin is None:
        return None
    allowed = {normalise_origin(o) for o in tenant_origins} | {normalise_origin(public_url)}
    return url if origin in allowed else None


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (not refused with q=0)."""
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = params.strip().lower()
            return not re.fullmatch(r"q=0(\.0{0,3})?", quality.replace(" ", ""))
    return False


MISSING_BUILD_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Booking pages not built</title></head>
<body><h1>The booking pages are not built</h1>
<p>The gateway serves the web front end from its build folder, and there is no build there yet.
Run <code>make web</code> in the repository (it builds <code>web/</code> into <code>build/web</code>),
then reload this page.</p></body></html>
"""
MISSING_BUILD_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
