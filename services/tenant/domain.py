"""The tenant context's rules as plain Python: what a valid tenant, key, email and password are,
how a settings change applies, and when sign-in attempts must wait. No I/O here."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mais_runtime.errors import FieldViolation, Forbidden, ValidationError
from mais_runtime.payment_policy import PaymentPolicy

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,48})[a-z0-9]$")
# Words a tenant may not take as its slug: they name parts of the platform (or would, in URLs).
RESERVED_SLUGS = frozenset(
    {
        "admin", "administrator", "api", "app", "assets", "auth", "billing", "cdn", "dashboard", "docs",
        "help", "internal", "login", "logout", "mail", "mais", "metrics", "platform", "root", "settings",
        "signin", "signup", "static", "status", "stripe", "support", "system", "tenant", "tenants",
        "webhook", "webhooks", "widget", "www",
    }
)  # fmt: skip
FONTS = (
    "system-ui",
    "Inter",
    "Lato",
    "Lora",
    "Merriweather",
    "Montserrat",
    "Open Sans",
    "Playfair Display",
    "Cormorant Garamond",
    "Libre Baskerville",
    "Poppins",
    "Raleway",
)
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
CURRENCY = re.compile(r"^[a-z]{3}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?\.[a-z0-9-]{2,63}$")
SECRET_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
KEY_RANDOM_HEX = 32
PUBLIC_KEY = re.compile(r"^pk_live_([a-z0-9][a-z0-9-]{1,48}[a-z0-9])_[0-9a-f]{32}$")
SECRET_KEY = re.compile(r"^sk_live_([a-z0-9][a-z0-9-]{1,48}[a-z0-9])_[0-9a-f]{32}$")

MAX_COMMISSION_BPS = 5000
MAX_ALLOWED_ORIGINS = 20
MAX_SECRET_BYTES = 8192
PASSWORD_MIN = 10
PASSWORD_MAX = 256
# A hold outlives its Stripe Checkout session by a minute, and a session lives at least 30 minutes,
# so a hold lasts at least 31 (booking applies max(hold_minutes, 31) too).
MIN_HOLD_MINUTES = 31
MAX_HOLD_MINUTES = 1440
# Live holds per couple (email) and per client address when the policy says 0 (see the proto).
DEFAULT_LIVE_HOLDS_PER_EMAIL = 2
DEFAULT_LIVE_HOLDS_PER_ADDRESS = 5
MAX_LIVE_HOLDS_PER_EMAIL = 10
MAX_LIVE_HOLDS_PER_ADDRESS = 100


class Role(Enum):
    """Who an admin user acts as."""

    TENANT_ADMIN = "tenant_admin"
    PLATFORM_ADMIN = "platform_admin"


class ConnectState(Enum):
    """How far the tenant's Stripe Connect onboarding got."""

    NOT_STARTED = "not_started"
    PENDING = "pending"
    ONBOARDED = "onboarded"


@dataclass(frozen=True)
class Branding:
    """How the widget looks for this tenant."""

    primary_color: str = "#1f2937"
    secondary_color: str = "#f9fafb"
    logo_url: str = ""
    font: str = "system-ui"


@dataclass(frozen=True)
class BookingPolicy:
    """When couples may book and how long a date is held while they pay."""

    min_notice_days: int = 1
    max_advance_days: int = 730
    # Stripe Checkout sessions live between 30 minutes and 24 hours; a hold a minute longer.
    hold_minutes: int = MIN_HOLD_MINUTES
    reminder_days: int = 7
    couple_cancel_days: int = 14
    # 0: the platform default (DEFAULT_LIVE_HOLDS_PER_EMAIL / _PER_ADDRESS).
    max_live_holds_per_email: int = 0
    max_live_holds_per_address: int = 0

    @property
    def effective_max_live_holds_per_email(self) -> int:
        """The live holds one couple may have at once, the default filled in."""
        return self.max_live_holds_per_email or DEFAULT_LIVE_HOLDS_PER_EMAIL

    @property
    def effective_max_live_holds_per_address(self) -> int:
        """The live holds one client address may have at once, the default filled in."""
        return self.max_live_holds_per_address or DEFAULT_LIVE_HOLDS_PER_ADDRESS


@dataclass(frozen=True)
class Tenant:
    """One business on the platform."""

    id: str
    slug: str
    name: str
    active: bool = True
    commission_bps: int = 1000
    stripe_account_id: str = ""
    connect_state: ConnectState = ConnectState.NOT_STARTED
    branding: Branding = field(default_factory=Branding)
    allowed_origins: tuple[str, ...] = ()
    timezone: str = "UTC"
    policy: BookingPolicy = field(default_factory=BookingPolicy)
    currency: str = "usd"
    created_at: datetime | None = None
    version: int = 1
    # Reply-To of every email sent for the tenant (its first admin's address at creation).
    contact_email: str = ""
    # Deposit and balance terms of every package without its own (the default: pay in full).
    payment_policy: PaymentPolicy = field(default_factory=PaymentPolicy)

    @property
    def commission_percent(self) -> str:
        """The commission as a decimal percent without trailing zeros ("12.5", "10")."""
        return format((Decimal(self.commission_bps) / 100).normalize(), "f")


# --- tenants ---------------------------------------------------------------------------------


def check_slug(slug: str, field_name: str = "slug") -> str:
    """The slug if it is 3-50 lowercase letters, digits and inner hyphens, and not reserved."""
    if not SLUG.match(slug):
        raise ValidationError.of(
            field_name, "must be 3-50 lowercase letters, digits or hyphens, starting and ending alphanumeric"
        )
    if "--" in slug:
        raise ValidationError.of(field_name, "must not contain two hyphens in a row")
    if slug in RESERVED_SLUGS:
        raise ValidationError.of(field_name, "is a reserved word")
    return slug


def commission_bps_from_text(percent: str, field_name: str = "commissionPercent") -> int:
    """A commission percent as the client wrote it ("12.5") in basis points (0-50, two decimals)."""
    try:
        value = Decimal(percent.strip())
    except (InvalidOperation, ValueError):
        raise ValidationError.of(field_name, "must be a number between 0 and 50") from None
    if not value.is_finite() or len(percent) > 32:
        raise ValidationError.of(field_name, "must be a number between 0 and 50")
    return commission_bps_from_percent(value, field_name)


def commission_bps_from_percent(percent: Decimal, field_name: str = "commissionPercent") -> int:
    """A commission percent with at most two decimals (0-50) in basis points."""
    if not Decimal(0) <= percent <= Decimal(MAX_COMMISSION_BPS) / 100:
        raise ValidationError.of(field_name, "must be between 0 and 50 percent")
    bps = percent * 100
    if bps != bps.to_integral_value():
        raise ValidationError.of(field_name, "must have at most two decimals")
    return check_commission_bps(int(bps), field_name)


def check_commission_bps(bps: int, field_name: str = "commission_bps") -> int:
    """Commission in basis points, 0-5000 (0-50 %)."""
    if not 0 <= bps <= MAX_COMMISSION_BPS:
        raise ValidationError.of(field_name, "must be between 0 and 50 percent")
    return bps


def check_timezone(name: str, field_name: str = "timezone") -> str:
    """An IANA time zone name such as Europe/Paris."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValidationError.of(field_name, "must be an IANA time zone such as America/New_York")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError.of(field_name, "must be an IANA time zone such as America/New_York") from None
    return name


def check_origin(origin: str, field_name: str) -> str:
    """A widget origin `https://host[:port]` (http only for localhost), lower-cased, no path."""
    value = origin.strip().lower()
    parts = urlsplit(value)
    local = parts.hostname in ("localhost", "127.0.0.1")
    ok = (
        parts.scheme in ("https", "http")
        and (parts.scheme == "https" or local)
        and bool(parts.hostname)
        and "*" not in value
        and not parts.path
        and not parts.query
        and not parts.fragment
        and not parts.username
        and len(value) <= 253
    )
    try:
        _ = parts.port
    except ValueError:
        ok = False
    if not ok:
        raise ValidationError.of(
            field_name, "must be an origin like https://example.com (http only for localhost)"
        )
    return value


def check_branding(branding: Branding) -> Branding:
    """Colours as #rgb/#rrggbb, an https logo URL or none, a font from the allowlist."""
    problems = []
    for name, value in (
        ("branding.primaryColor", branding.primary_color),
        ("branding.secondaryColor", branding.secondary_color),
    ):
        if not COLOR.match(value):
            problems.append(FieldViolation(name, "must be a colour like #1a2b3c"))
    if branding.logo_url:
        parts = urlsplit(branding.logo_url)
        if parts.scheme != "https" or not parts.hostname or len(branding.logo_url) > 500:
            problems.append(
                FieldViolation("branding.logoUrl", "must be an https URL of at most 500 characters")
            )
    if branding.font not in FONTS:
        problems.append(FieldViolation("branding.font", f"must be one of: {', '.join(FONTS)}"))
    if problems:
        raise ValidationError("branding is not valid", problems)
    return replace(branding, primary_color=branding.primary_color.lower(),
                   secondary_color=branding.secondary_color.lower())  # fmt: skip


def check_policy(policy: BookingPolicy) -> BookingPolicy:
    """Bounds that keep availability and holds sensible."""
    rules = (
        ("policy.minNoticeDays", policy.min_notice_days, 0, 365),
        ("policy.maxAdvanceDays", policy.max_advance_days, 1, 1095),
        ("policy.holdMinutes", policy.hold_minutes, MIN_HOLD_MINUTES, MAX_HOLD_MINUTES),
        ("policy.reminderDays", policy.reminder_days, 0, 60),
        ("policy.coupleCancelDays", policy.couple_cancel_days, 0, 365),
        ("policy.maxLiveHoldsPerEmail", policy.max_live_holds_per_email, 0, MAX_LIVE_HOLDS_PER_EMAIL),
        ("policy.maxLiveHoldsPerAddress", policy.max_live_holds_per_address, 0, MAX_LIVE_HOLDS_PER_ADDRESS),
    )
    why = {
        "policy.holdMinutes": " (a hold outlives its Stripe Checkout session, at least 30 minutes)",
        "policy.maxLiveHoldsPerEmail": f" (0: the default, {DEFAULT_LIVE_HOLDS_PER_EMAIL})",
        "policy.maxLiveHoldsPerAddress": f" (0: the default, {DEFAULT_LIVE_HOLDS_PER_ADDRESS})",
    }
    problems = [
        FieldViolation(name, f"must be between {low} and {high}{why.get(name, '')}")
        for name, value, low, high in rules
        if not low <= value <= high
    ]
    if not problems and policy.max_advance_days <= policy.min_notice_days:
        problems.append(FieldViolation("policy.maxAdvanceDays", "must be more than minNoticeDays"))
    if problems:
        raise ValidationError("booking policy is not valid", problems)
    return policy


def check_name(name: str) -> str:
    """A display name, 1-100 characters after trimming."""
    value = " ".join(name.split())
    if not 1 <= len(value) <= 100:
        raise ValidationError.of("name", "must be 1-100 characters")
    return value


MAX_SEARCH = 100


def check_search(query: str, field_name: str = "q") -> str:
    """A tenant search: trimmed, at most 100 characters ("" lists every tenant)."""
    value = query.strip()
    if len(value) > MAX_SEARCH:
        raise ValidationError.of(field_name, f"must be at most {MAX_SEARCH} characters")
    return value


def like_pattern(query: str) -> str:
    """An ILIKE pattern matching `query` anywhere, its `%`, `_` and `\\` taken literally."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def check_currency(currency: str) -> str:
    """A lower-case ISO 4217 code as Stripe spells it."""
    value = currency.strip().lower()
    if not CURRENCY.match(value):
        raise ValidationError.of("currency", "must be a three-letter currency code such as usd")
    return value


def check_tenant(tenant: Tenant) -> Tenant:
    """The whole tenant validated and normalised."""
    origins = [check_origin(o, f"allowedOrigins[{n}]") for n, o in enumerate(tenant.allowed_origins)]
    if len(origins) > MAX_ALLOWED_ORIGINS:
        raise ValidationError.of("allowedOrigins", f"at most {MAX_ALLOWED_ORIGINS} origins")
    return replace(
        tenant,
        slug=check_slug(tenant.slug),
        name=check_name(tenant.name),
        commission_bps=check_commission_bps(tenant.commission_bps, "commissionPercent"),
        branding=check_branding(tenant.branding),
        allowed_origins=tuple(dict.fromkeys(origins)),
        timezone=check_timezone(tenant.timezone),
        policy=check_policy(tenant.policy),
        currency=check_currency(tenant.currency),
        contact_email=normalise_email(tenant.contact_email, "contactEmail"),
    )


# Fields of a tenant a change may name, and who may change them.
TENANT_FIELDS = frozenset(
    {
        "name",
        "branding",
        "allowed_origins",
        "timezone",
        "policy",
        "currency",
        "contact_email",
        "payment_policy",
    }
)
PLATFORM_FIELDS = frozenset({"active", "commission_bps", "commission_percent"})
BRANDING_FIELDS = frozenset({"primary_color", "secondary_color", "logo_url", "font"})
POLICY_FIELDS = frozenset(
    {
        "min_notice_days",
        "max_advance_days",
        "hold_minutes",
        "reminder_days",
        "couple_cancel_days",
        "max_live_holds_per_email",
        "max_live_holds_per_address",
    }
)


def apply_update(
    current: Tenant, change: Tenant, mask: list[str], role: Role, commission_percent: str = ""
) -> Tenant:
    """The tenant after the fields named in `mask` (top level or `branding.x` / `policy.x`; the
    payment policy only whole, as `payment_policy`) are taken from `change`; platform-owned fields
    need the platform role. `commission_percent` is the percent as the client wrote it, used when
    the mask names it. Validates the result."""
    if not mask:
        raise ValidationError.of("update_mask", "names no field")
    updated = current
    for path in mask:
        top, _, sub = path.partition(".")
        if top in PLATFORM_FIELDS and role is not Role.PLATFORM_ADMIN:
            raise Forbidden(f"only a platform admin may change {top}")
        if top not in TENANT_FIELDS | PLATFORM_FIELDS:
            raise ValidationError.of("update_mask", f"{path} cannot be changed")
        if top == "commission_percent" and not sub:
            updated = replace(updated, commission_bps=commission_bps_from_text(commission_percent))
        elif sub and top == "branding" and sub in BRANDING_FIELDS:
            updated = replace(
                updated, branding=replace(updated.branding, **{sub: getattr(change.branding, sub)})
            )
        elif sub and top == "policy" and sub in POLICY_FIELDS:
            updated = replace(updated, policy=replace(updated.policy, **{sub: getattr(change.policy, sub)}))
        elif sub:
            raise ValidationError.of("update_mask", f"{path} cannot be changed")
        elif top == "payment_policy":
            # Checked here, not in check_tenant: terms stored under older bounds must not block an
            # unrelated change (the terms themselves are only ever replaced whole).
            updated = replace(updated, payment_policy=change.payment_policy.checked("paymentPolicy"))
        else:
            updated = replace(updated, **{top: getattr(change, top)})
    return check_tenant(updated)


# --- keys ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    """A freshly issued pair; the secret key is shown once and only its hash is kept."""

    public_key: str
    secret_key: str


def new_key_pair(slug: str) -> KeyPair:
    """`pk_live_<slug>_<32 hex>` and `sk_live_<slug>_<32 hex>` from the OS's random source."""
    return KeyPair(
        f"pk_live_{slug}_{secrets.token_hex(KEY_RANDOM_HEX // 2)}",
        f"sk_live_{slug}_{secrets.token_hex(KEY_RANDOM_HEX // 2)}",
    )


def is_public_key(value: str) -> bool:
    """True when `value` has the public key format (no lookup)."""
    return bool(PUBLIC_KEY.match(value))


def is_secret_key(value: str) -> bool:
    """True when `value` has the secret key format (no lookup)."""
    return bool(SECRET_KEY.match(value))


def check_grace(seconds: int, maximum: int) -> int:
    """A rotation grace period: 0 (revoke the old key now) up to `maximum` seconds."""
    if not 0 <= seconds <= maximum:
        raise ValidationError.of("graceSeconds", f"must be between 0 and {maximum}")
    return seconds


def check_secret(name: str, value: str) -> tuple[str, str]:
    """A tenant secret's name (`calendar.token` style) and a value of at most 8 KiB."""
    if not SECRET_NAME.match(name):
        raise ValidationError.of("name", "must be 1-64 lowercase letters, digits, dots, dashes, underscores")
    if not value or len(value.encode()) > MAX_SECRET_BYTES:
        raise ValidationError.of("value", f"must be 1-{MAX_SECRET_BYTES} bytes")
    return name, value


# --- people ----------------------------------------------------------------------------------


def normalise_email(email: str, field_name: str = "email") -> str:
    """An address trimmed and lower-cased; it must look like an address."""
    value = email.strip().lower()
    if len(value) > 254 or not EMAIL.match(value):
        raise ValidationError.of(field_name, "must be an email address")
    return value


def check_password(password: str, email: str = "", field_name: str = "password") -> str:
    """At least 10 characters (at most 256), with a letter and a non-letter, and not the email."""
    problem = ""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        problem = f"must be {PASSWORD_MIN}-{PASSWORD_MAX} characters"
    elif not any(c.isalpha() for c in password) or all(c.isalpha() for c in password):
        problem = "must contain a letter and a digit or symbol"
    elif email and password.strip().lower() == email.strip().lower():
        problem = "must not be the email address"
    if problem:
        raise ValidationError.of(field_name, problem)
    return password


def generate_password() -> str:
    """A random password that meets the rules (shown once to whoever created the admin)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "-".join("".join(secrets.choice(alphabet) for _ in range(6)) for _ in range(3))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


# --- sign-in limiting -------------------------------------------------------------------------


@dataclass(frozen=True)
class FailureHistory:
    """The failed sign-ins that bear on one attempt, as the database saw them."""

    # Failures of this account from this client address inside the pair window.
    pair: list[datetime]
    # Failures of any account from this client address inside the pair window.
    address: list[datetime]
    # Failures of this account from any address inside the account window.
    account: list[datetime]
    # Whether this account signed in successfully from this address before (a known address).
    known_address: bool


@dataclass(frozen=True)
class SignInLimits:
    """The usual scheme (ADR 0014): a tight limit per (account, client address) pair, a loose limit per
    address so that one address cannot spray many accounts, and a slow account-wide limit with
    exponential backoff against a guesser who changes addresses. An account's own known addresses
    skip the address and account limits, so an attacker elsewhere cannot lock its owner out; only
    the pair limit applies to everyone. A password reset clears the account's failures."""

    pair_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    address_failures: int = 50
    account_failures: int = 10
    account_window: timedelta = timedelta(hours=24)
    backoff_base: timedelta = timedelta(minutes=1)
    backoff_max: timedelta = timedelta(hours=1)

    def retry_after(self, history: FailureHistory, now: datetime) -> int:
        """Seconds until another attempt is allowed (0 when one is allowed now). Refused attempts
        are not failures, so waiting always helps."""
        waits = [_sliding_wait(history.pair, self.pair_failures, self.window, now)]
        if not history.known_address:
            waits.append(_sliding_wait(history.address, self.address_failures, self.window, now))
            waits.append(self._account_wait(history.account, now))
        return max(waits)

    def _account_wait(self, failures: list[datetime], now: datetime) -> int:
        recent = sorted(t for t in failures if t > now - self.account_window)
        over = len(recent) - self.account_failures
        if over < 0:
            return 0
        # Each failure past the threshold doubles the lock, up to the cap: a distributed guesser
        # gets a few dozen tries a day, the owner's known addresses none of the wait.
        lock = min(self.backoff_base * (2 ** min(over, 30)), self.backoff_max)
        return _seconds_until(recent[-1] + lock, now)


def _sliding_wait(failures: list[datetime], limit: int, window: timedelta, now: datetime) -> int:
    recent = sorted(t for t in failures if t > now - window)
    if len(recent) < limit:
        return 0
    # Allowed again once enough of the oldest failures have left the window.
    return _seconds_until(recent[len(recent) - limit] + window, now)


def _seconds_until(moment: datetime, now: datetime) -> int:
    seconds = (moment - now).total_seconds()
    return max(1, int(seconds + 0.999)) if seconds > 0 else 0
