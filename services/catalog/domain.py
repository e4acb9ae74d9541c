"""The catalog's rules as plain Python: what a valid segment, package and add-on is, how an update
mask changes one, optimistic concurrency, list paging, and how a quote is priced. No I/O here.

Field names in errors are the ones clients send (camelCase), so the gateway can show them as they are.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from mais_runtime.errors import Conflict, DomainError, FieldViolation, GrpcCode, NotFound, ValidationError
from mais_runtime.paging import decode_parts, invalid_cursor
from mais_runtime.paging import encode_cursor as encode_parts
from mais_runtime.payment_policy import PaymentPolicy
from mais_runtime.slot_terms import SlotTerms

PRICE_MAX_CENTS = 99_999_999
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")
TITLE_MAX = 200
DESCRIPTION_MAX = 5000
SORT_ORDER_LIMIT = 1_000_000
MAX_PHOTOS = 20
PHOTO_URL_MAX = 2000
PHOTO_ALT_MAX = 300
MAX_GUESTS_LIMIT = 100_000
# An add-on is offered with at most this many packages, and a public package shows at most this
# many add-ons: every list the catalog answers with is bounded.
MAX_OFFERED_PACKAGES = 100
MAX_ADD_ONS_PER_PACKAGE = 100
MAX_QUOTE_ADD_ONS = 20
CURRENCY = re.compile(r"^[a-z]{3}$")


# --- the objects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    """A picture of a package: where it is and what it shows (for screen readers)."""

    url: str
    alt: str = ""


@dataclass(frozen=True)
class SegmentDraft:
    """What an admin says about a segment (a business line)."""

    slug: str
    name: str
    description: str = ""
    sort_order: int = 0
    active: bool = True


class PackageKind(StrEnum):
    """What a couple books with a package: a whole day (a date) or a time slot (a start time)."""

    DAY = "DAY"
    SLOT = "SLOT"


@dataclass(frozen=True)
class PackageDraft:
    """What an admin says about a package. `segment_id` None: in no segment; `max_guests` 0: no limit."""

    slug: str
    title: str
    price_cents: int
    description: str = ""
    active: bool = True
    sort_order: int = 0
    photos: tuple[Photo, ...] = ()
    segment_id: str | None = None
    max_guests: int = 0
    # The currency of `price_cents`: "" on a new draft means "the tenant's currency now" (filled
    # once, at creation); afterwards it changes only when a price is sent with a new currency.
    currency: str = ""
    # The package's own payment terms; None: the tenant's apply.
    payment_policy: PaymentPolicy | None = None
    # A whole day, or a time-slot service booked by `slot` (set exactly when the kind is SLOT).
    kind: PackageKind = PackageKind.DAY
    slot: SlotTerms | None = None


@dataclass(frozen=True)
class AddOnDraft:
    """What an admin says about an add-on: its price (in `currency`, as for a package) and the
    packages it is offered with (all priced in that same currency)."""

    slug: str
    title: str
    price_cents: int
    active: bool = True
    package_ids: tuple[str, ...] = ()
    currency: str = ""


@dataclass(frozen=True)
class Stamp:
    """What the store adds to a draft: identity, optimistic-concurrency version, last change."""

    id: str
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class Segment:
    """A stored segment."""

    stamp: Stamp
    draft: SegmentDraft


@dataclass(frozen=True)
class PublicAddOn:
    """An add-on as couples see it next to a package."""

    id: str
    slug: str
    title: str
    price_cents: int
    currency: str


@dataclass(frozen=True)
class Package:
    """A stored package, priced in its own currency (stored with it, never read from the tenant
    later). `add_ons` is filled on public reads only."""

    stamp: Stamp
    draft: PackageDraft
    add_ons: tuple[PublicAddOn, ...] = ()

    @property
    def currency(self) -> str:
        """The currency of the package's price."""
        return self.draft.currency


@dataclass(frozen=True)
class AddOn:
    """A stored add-on, priced in its own currency."""

    stamp: Stamp
    draft: AddOnDraft

    @property
    def currency(self) -> str:
        """The currency of the add-on's price."""
        return self.draft.currency


# --- checks ----------------------------------------------------------------------------------


def check_slug(slug: str, field_name: str = "slug") -> list[FieldViolation]:
    """Problems with a slug: 2-64 lowercase letters, digits and single inner hyphens."""
    if not SLUG.match(slug) or "--" in slug:
        return [
            FieldViolation(
                field_name,
                "must be 2-64 lowercase letters, digits or single hyphens, starting and ending alphanumeric",
            )
        ]
    return []


def check_price(price_cents: int, field_name: str = "priceCents") -> list[FieldViolation]:
    """Problems with a price: whole cents from 0 to 99,999,999."""
    if not 0 <= price_cents <= PRICE_MAX_CENTS:
        return [FieldViolation(field_name, f"must be between 0 and {PRICE_MAX_CENTS} cents")]
    return []


def _price_currency(currency: str) -> list[FieldViolation]:
    """Problems with the currency of a price (lower case ISO 4217, like Stripe); "" on a new draft
    means the tenant's, filled in at creation."""
    if currency and not CURRENCY.match(currency):
        return [FieldViolation("currency", "must be a three-letter currency code such as usd")]
    return []


def _normal_currency(currency: str) -> str:
    return currency.strip().lower()


def _text(value: str, field_name: str, *, required: bool, limit: int) -> list[FieldViolation]:
    if required and not value:
        return [FieldViolation(field_name, "is required")]
    if len(value) > limit:
        return [FieldViolation(field_name, f"must be at most {limit} characters")]
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        return [FieldViolation(field_name, "must not contain control characters")]
    return []


def _one_line(value: str, field_name: str, *, limit: int) -> list[FieldViolation]:
    problems = _text(value, field_name, required=True, limit=limit)
    if not problems and ("\n" in value or "\t" in value):
        problems.append(FieldViolation(field_name, "must be one line"))
    return problems


def _sort_order(value: int) -> list[FieldViolation]:
    if not -SORT_ORDER_LIMIT <= value <= SORT_ORDER_LIMIT:
        return [FieldViolation("sortOrder", f"must be between {-SORT_ORDER_LIMIT} and {SORT_ORDER_LIMIT}")]
    return []


def is_id(value: str) -> bool:
    """True when `value` is a well-formed catalog id (a UUID)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def parse_id(value: str, what: str) -> str:
    """The canonical form of an id naming an object; a malformed id names nothing (NotFound)."""
    if not is_id(value):
        raise NotFound(what)
    return str(uuid.UUID(value))


def _photos(photos: Sequence[Photo]) -> tuple[tuple[Photo, ...], list[FieldViolation]]:
    problems: list[FieldViolation] = []
    if len(photos) > MAX_PHOTOS:
        return tuple(photos), [FieldViolation("photos", f"at most {MAX_PHOTOS} photos")]
    cleaned = []
    for n, photo in enumerate(photos):
        url, alt = photo.url.strip(), photo.alt.strip()
        where = f"photos[{n}]"
        if not re.match(r"^https?://[^\s/?#]+[^\s]*$", url):
            problems.append(FieldViolation(f"{where}.url", "must be an absolute http(s) URL"))
        elif len(url) > PHOTO_URL_MAX:
            problems.append(FieldViolation(f"{where}.url", f"must be at most {PHOTO_URL_MAX} characters"))
        problems += _text(alt, f"{where}.alt", required=False, limit=PHOTO_ALT_MAX)
        cleaned.append(Photo(url, alt))
    return tuple(cleaned), problems


def _raise(problems: list[FieldViolation], what: str) -> None:
    if problems:
        raise ValidationError(f"the {what} is not valid", problems)


def check_segment(draft: SegmentDraft) -> SegmentDraft:
    """The draft, trimmed, or ValidationError naming every bad field."""
    draft = replace(
        draft, slug=draft.slug.strip(), name=draft.name.strip(), description=draft.description.strip()
    )
    problems = check_slug(draft.slug)
    problems += _one_line(draft.name, "name", limit=TITLE_MAX)
    problems += _text(draft.description, "description", required=False, limit=DESCRIPTION_MAX)
    problems += _sort_order(draft.sort_order)
    _raise(problems, "segment")
    return draft


def check_package(draft: PackageDraft) -> PackageDraft:
    """The draft, trimmed and with canonical ids, or ValidationError naming every bad field."""
    photos, problems = _photos(draft.photos)
    segment_id = draft.segment_id or None
    draft = replace(
        draft,
        slug=draft.slug.strip(),
        title=draft.title.strip(),
        description=draft.description.strip(),
        photos=photos,
        currency=_normal_currency(draft.currency),
    )
    problems = check_slug(draft.slug) + problems
    problems += _one_line(draft.title, "title", limit=TITLE_MAX)
    problems += _text(draft.description, "description", required=False, limit=DESCRIPTION_MAX)
    problems += check_price(draft.price_cents)
    if draft.active and draft.price_cents == 0:
        # A published package at 0 would sell a date for nothing; a draft at 0 is fine.
        problems.append(
            FieldViolation(
                "priceCents", "a package on offer needs a price; keep it inactive until it has one"
            )
        )
    problems += _price_currency(draft.currency)
    problems += _sort_order(draft.sort_order)
    if not 0 <= draft.max_guests <= MAX_GUESTS_LIMIT:
        problems.append(FieldViolation("maxGuests", f"must be between 1 and {MAX_GUESTS_LIMIT}, or none"))
    if draft.payment_policy is not None:
        try:
            draft.payment_policy.checked("paymentPolicy")
        except ValidationError as invalid:
            problems += invalid.fields
    slot, slot_problems = _slot_terms(draft.kind, draft.slot)
    problems += slot_problems
    draft = replace(draft, slot=slot)
    if segment_id is not None:
        if is_id(segment_id):
            segment_id = str(uuid.UUID(segment_id))
        else:
            problems.append(FieldViolation("segmentId", "no such segment"))
    _raise(problems, "package")
    return replace(draft, segment_id=segment_id)


def _slot_terms(kind: PackageKind, slot: SlotTerms | None) -> tuple[SlotTerms | None, list[FieldViolation]]:
    """A time-slot service needs its terms (checked, canonical resource id); a whole day has none."""
    if kind is PackageKind.DAY:
        if slot is not None:
            return slot, [FieldViolation("slot", "a whole-day package has no slot terms; set kind SLOT")]
        return None, []
    if slot is None:
        return None, [FieldViolation("slot", "is required for a time-slot package")]
    try:
        return slot.checked("slot"), []
    except ValidationError as invalid:
        return slot, list(invalid.fields)


def check_kind_change(current: PackageKind, new: PackageKind, live_bookings: int) -> None:
    """A package's kind changes only while no live booking was sold with it: a booking of a date
    cannot become one of a slot (or back) behind the couple's back."""
    if new is not current and live_bookings:
        raise InUse(
            f"{live_bookings} live booking(s) were sold with this package as a"
            f" {'whole-day' if current is PackageKind.DAY else 'time-slot'} package; its kind cannot change"
            " until they are over (make a new package instead)"
        )


def check_add_on(draft: AddOnDraft) -> AddOnDraft:
    """The draft, trimmed and with canonical package ids, or ValidationError naming every bad field."""
    draft = replace(
        draft, slug=draft.slug.strip(), title=draft.title.strip(), currency=_normal_currency(draft.currency)
    )
    problems = check_slug(draft.slug)
    problems += _one_line(draft.title, "title", limit=TITLE_MAX)
    problems += check_price(draft.price_cents)
    problems += _price_currency(draft.currency)
    package_ids: list[str] = []
    if len(draft.package_ids) > MAX_OFFERED_PACKAGES:
        problems.append(FieldViolation("packageIds", f"at most {MAX_OFFERED_PACKAGES} packages"))
    else:
        for n, package_id in enumerate(draft.package_ids):
            if not is_id(package_id):
                problems.append(FieldViolation(f"packageIds[{n}]", "no such package"))
                continue
            canonical = str(uuid.UUID(package_id))
            if canonical in package_ids:
                problems.append(FieldViolation(f"packageIds[{n}]", "is listed twice"))
            package_ids.append(canonical)
    _raise(problems, "add-on")
    return replace(draft, package_ids=tuple(package_ids))


def check_offers(add_on: AddOnDraft, package_currencies: Mapping[str, str]) -> list[FieldViolation]:
    """Problems with the packages an add-on is offered with, given the currency of each of the
    tenant's packages it names: unknown packages, and packages priced in another currency (a
    package and its add-ons share one currency, so a quote never mixes two)."""
    problems = []
    for n, package_id in enumerate(add_on.package_ids):
        currency = package_currencies.get(package_id)
        if currency is None:
            problems.append(FieldViolation(f"packageIds[{n}]", "no such package"))
        elif currency != add_on.currency:
            problems.append(
                FieldViolation(
                    f"packageIds[{n}]",
                    f"is priced in {currency}, the add-on in {add_on.currency}: a package and its add-ons"
                    " share one currency",
                )
            )
    return problems


def check_package_currency(currency: str, add_on_currencies: set[str]) -> None:
    """A package may change currency only when no add-on of another currency is offered with it."""
    others = sorted(add_on_currencies - {currency})
    if others:
        raise ValidationError.of(
            "currency",
            f"add-ons priced in {', '.join(others)} are offered with this package; re-price them or stop"
            " offering them with it first",
        )


def check_currency(currency: str) -> str:
    """The tenant's currency, as the catalog stores it (lower case, like Stripe)."""
    value = currency.strip().lower()
    if not CURRENCY.match(value):
        raise DomainError(
            "the tenant has no valid currency", "FAILED_PRECONDITION", GrpcCode.FAILED_PRECONDITION
        )
    return value


# --- updates and optimistic concurrency -------------------------------------------------------

D = TypeVar("D", SegmentDraft, PackageDraft, AddOnDraft)


def apply_update(current: D, change: D, mask: Sequence[str]) -> D:
    """`current` with the fields named in `mask` (proto field names) taken from `change`; every
    field the mask leaves out keeps its value. A currency changes only together with the price it
    is the currency of: the catalog never converts a price, so a new currency alone would re-price
    the item by accident."""
    if not mask:
        raise ValidationError.of("update_mask", "names no field to change")
    names = {f.name for f in fields(current)}
    updates: dict[str, Any] = {}
    for path in mask:
        if path not in names:
            raise ValidationError.of("update_mask", f"{path} is not a field that can be changed")
        updates[path] = getattr(change, path)
    if "currency" in updates:
        new = _normal_currency(updates["currency"])
        if not new:
            raise ValidationError.of("currency", "is required when named")
        if new != getattr(current, "currency", "") and "price_cents" not in updates:
            raise ValidationError.of(
                "priceCents",
                "is required with a new currency: a price is never converted to another currency",
            )
    return replace(current, **updates)


class VersionConflict(Conflict):
    """The object changed since the version the caller read."""

    def __init__(self, what: str, current: int) -> None:
        super().__init__(
            f"the {what} was changed by someone else (now version {current}); read it again",
            reason="VERSION_CONFLICT",
            metadata={"current_version": str(current)},
        )


def check_version(what: str, expected: int, current: int) -> None:
    """Optimistic concurrency: `expected` 0 means the caller did not say which version it read."""
    if expected < 0:
        raise ValidationError.of("version", "must be positive")
    if expected and expected != current:
        raise VersionConflict(what, current)


class SlugTaken(Conflict):
    """Another object of the same kind of this tenant has the slug."""

    def __init__(self, what: str, slug: str) -> None:
        super().__init__(f"the tenant already has a {what} with slug {slug}", reason="SLUG_TAKEN")
        self.fields.append(FieldViolation("slug", "is taken"))


class InUse(Conflict):
    """The object is still referred to; deactivate it instead, or move what refers to it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="IN_USE")


# --- paging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a page starts in (sort order, slug) order; slugs are unique per tenant and kind."""

    sort_order: int
    slug: str


def encode_cursor(position: Position) -> str:
    """An opaque page token."""
    return encode_parts(position.sort_order, position.slug)


def decode_cursor(token: str) -> Position | None:
    """The position of a page token made by encode_cursor; None for no token; ValidationError if forged."""
    parts = decode_parts(token, 2)
    if parts is None:
        return None
    if type(parts[0]) is not int or not isinstance(parts[1], str) or abs(parts[0]) > SORT_ORDER_LIMIT:
        raise invalid_cursor()
    return Position(parts[0], parts[1])


# --- quotes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedItem:
    """A package or add-on as a quote needs it. `offered`: a package couples may buy (active and in
    an active segment or none) / an active add-on. `package_ids`: the packages an add-on goes with."""

    id: str
    slug: str
    title: str
    price_cents: int
    currency: str
    version: int
    offered: bool
    package_ids: frozenset[str] = frozenset()
    # A package's own payment terms (None: the tenant's); never set on an add-on.
    payment_policy: PaymentPolicy | None = None
    # A package's kind and slot terms; an add-on is neither.
    kind: PackageKind = PackageKind.DAY
    slot: SlotTerms | None = None


@dataclass(frozen=True)
class QuoteLine:
    """One priced line of a quote."""

    kind: str  # "package" or "add_on"
    id: str
    slug: str
    title: str
    price_cents: int
    version: int


@dataclass(frozen=True)
class Quote:
    """What the couple is charged, as a snapshot the booking keeps."""

    package_id: str
    lines: tuple[QuoteLine, ...]
    total_cents: int
    currency: str
    hash: str
    quoted_at: datetime
    # The package's own payment terms when it has them (None: the tenant's apply).
    payment_policy: PaymentPolicy | None = None
    # What the couple books: a date, or a slot by these terms (the hold takes them from here).
    kind: PackageKind = PackageKind.DAY
    slot: SlotTerms | None = None


@dataclass(frozen=True)
class QuoteRequest:
    """A quote request whose shape is valid: a well-formed package id and distinct add-on ids."""

    package_id: str
    add_on_ids: tuple[str, ...] = field(default=())


def _package_not_found() -> DomainError:
    return DomainError(
        "package not found", "NOT_FOUND", GrpcCode.NOT_FOUND, [FieldViolation("packageId", "no such package")]
    )


def check_quote_request(package_id: str, add_on_ids: Sequence[str]) -> QuoteRequest:
    """Refuses a quote request by its shape alone: no package, more than 20 add-ons, duplicates.
    Malformed add-on ids are kept: they are reported with the unknown ones, in one answer."""
    if not package_id:
        raise ValidationError.of("packageId", "is required")
    if not is_id(package_id):
        raise _package_not_found()
    if len(add_on_ids) > MAX_QUOTE_ADD_ONS:
        raise ValidationError.of("addOnIds", f"at most {MAX_QUOTE_ADD_ONS} add-ons per booking")
    seen: set[str] = set()
    problems: list[FieldViolation] = []
    canonical: list[str] = []
    for n, add_on_id in enumerate(add_on_ids):
        key = str(uuid.UUID(add_on_id)) if is_id(add_on_id) else add_on_id
        if key in seen:
            problems.append(FieldViolation(f"addOnIds[{n}]", f"add-on {add_on_id} is listed twice"))
        seen.add(key)
        canonical.append(key)
    _raise(problems, "quote request")
    return QuoteRequest(str(uuid.UUID(package_id)), tuple(canonical))


def price_quote(
    request: QuoteRequest, package: PricedItem | None, add_ons: Mapping[str, PricedItem], quoted_at: datetime
) -> Quote:
    """Prices the request from what the store found (the tenant's own rows only), or refuses it
    naming every offending add-on. Another tenant's add-on is simply unknown here."""
    if package is None or not package.offered:
        raise _package_not_found()
    problems: list[FieldViolation] = []
    lines = [
        QuoteLine("package", package.id, package.slug, package.title, package.price_cents, package.version)
    ]
    for n, add_on_id in enumerate(request.add_on_ids):
        where = f"addOnIds[{n}]"
        add_on = add_ons.get(add_on_id)
        if add_on is None:
            problems.append(FieldViolation(where, f"add-on {add_on_id} not found"))
        elif not add_on.offered:
            problems.append(FieldViolation(where, f"add-on {add_on_id} is not available"))
        elif package.id not in add_on.package_ids:
            problems.append(FieldViolation(where, f"add-on {add_on_id} is not offered with this package"))
        elif add_on.currency != package.currency:
            problems.append(
                FieldViolation(
                    where, f"add-on {add_on_id} is priced in {add_on.currency}, not {package.currency}"
                )
            )
        else:
            lines.append(
                QuoteLine("add_on", add_on.id, add_on.slug, add_on.title, add_on.price_cents, add_on.version)
            )
    if problems:
        raise ValidationError("some add-ons cannot be booked with this package", problems)
    return Quote(
        package_id=package.id,
        lines=tuple(lines),
        total_cents=sum(line.price_cents for line in lines),
        currency=package.currency,
        hash=quote_hash(package.currency, lines),
        quoted_at=quoted_at,
        payment_policy=package.payment_policy,
        kind=package.kind,
        slot=package.slot,
    )


def quote_hash(currency: str, lines: Sequence[QuoteLine]) -> str:
    """A fingerprint of what was priced (kinds, ids, versions, prices, currency): any later change
    of a price, or of anything else that bumps a version, gives another hash."""
    canonical = json.dumps(
        [currency, [[line.kind, line.id, line.version, line.price_cents] for line in lines]],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
