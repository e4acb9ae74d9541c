"""The catalog's rules: price bounds, slugs, packages and add-ons, update masks, versions, page
tokens, and how a quote is priced or refused."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from mais_runtime.errors import DomainError, NotFound, ValidationError
from mais_runtime.slot_terms import SlotTerms
from services.catalog.domain import (
    AddOnDraft,
    InUse,
    PackageDraft,
    PackageKind,
    Photo,
    Position,
    PricedItem,
    QuoteRequest,
    SegmentDraft,
    VersionConflict,
    apply_update,
    check_add_on,
    check_kind_change,
    check_offers,
    check_package,
    check_package_currency,
    check_quote_request,
    check_segment,
    check_version,
    decode_cursor,
    encode_cursor,
    parse_id,
    price_quote,
)

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def ident() -> str:
    return str(uuid.uuid4())


def fields_of(error: DomainError) -> list[str]:
    return [f.field for f in error.fields]


def package(**changes: object) -> PackageDraft:
    values: dict[str, object] = {
        "slug": "garden-party",
        "title": "Garden party",
        "price_cents": 150000,
        "currency": "usd",
    }
    values.update(changes)
    return PackageDraft(**values)  # type: ignore[arg-type]


# --- prices and slugs ----------------------------------------------------------------------------


def add_on(price: int = 5000, **changes: object) -> AddOnDraft:
    values: dict[str, object] = {
        "slug": "flowers",
        "title": "Flowers",
        "price_cents": price,
        "currency": "usd",
    }
    values.update(changes)
    return AddOnDraft(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("price", [0, 1, 99_999_999])
def test_prices_from_zero_to_99_999_999_cents_are_accepted(price: int) -> None:
    assert check_package(package(price_cents=price, active=price > 0)).price_cents == price
    assert check_add_on(add_on(price)).price_cents == price


def test_a_package_on_offer_at_zero_cents_is_refused_naming_price_cents() -> None:
    with pytest.raises(ValidationError) as caught:
        check_package(package(price_cents=0, active=True))
    assert fields_of(caught.value) == ["priceCents"]
    assert check_package(package(price_cents=0, active=False)).price_cents == 0


def test_activating_a_zero_cent_draft_or_pricing_an_active_package_at_zero_is_refused() -> None:
    draft = check_package(package(price_cents=0, active=False))
    with pytest.raises(ValidationError) as caught:
        check_package(apply_update(draft, package(active=True), ["active"]))
    assert fields_of(caught.value) == ["priceCents"]
    on_offer = check_package(package())
    with pytest.raises(ValidationError) as caught:
        check_package(apply_update(on_offer, package(price_cents=0), ["price_cents"]))
    assert fields_of(caught.value) == ["priceCents"]


def test_a_price_needs_a_well_formed_currency_and_keeps_it_in_lower_case() -> None:
    assert check_package(package(currency=" EUR ")).currency == "eur"
    assert check_add_on(add_on(currency="JPY")).currency == "jpy"
    assert check_package(package(currency="")).currency == ""  # a new draft: the tenant's, at creation
    for bad in ("euro", "e1r", "u$d"):
        with pytest.raises(ValidationError) as caught:
            check_package(package(currency=bad))
        assert fields_of(caught.value) == ["currency"]
        with pytest.raises(ValidationError) as caught:
            check_add_on(add_on(currency=bad))
        assert fields_of(caught.value) == ["currency"]


def test_an_update_cannot_blank_a_currency() -> None:
    current = check_package(package(currency="usd"))
    with pytest.raises(ValidationError) as caught:
        apply_update(current, package(currency=" ", price_cents=1), ["currency", "price_cents"])
    assert fields_of(caught.value) == ["currency"]


def test_an_update_that_leaves_the_currency_out_keeps_it() -> None:
    current = check_package(package(currency="usd"))
    updated = apply_update(current, package(title="New", currency="eur"), ["title"])
    assert (updated.title, updated.currency, updated.price_cents) == ("New", "usd", 150000)


def test_a_new_currency_without_a_new_price_is_refused_naming_price_cents() -> None:
    current = check_package(package(currency="usd"))
    with pytest.raises(ValidationError) as caught:
        apply_update(current, package(currency="eur"), ["currency"])
    assert fields_of(caught.value) == ["priceCents"]
    with pytest.raises(ValidationError):
        apply_update(check_add_on(add_on()), add_on(currency="eur"), ["currency"])
    repriced = apply_update(current, package(price_cents=140000, currency="eur"), ["currency", "price_cents"])
    assert (repriced.price_cents, repriced.currency) == (140000, "eur")
    # Naming the currency it already has changes nothing, so needs no price.
    assert apply_update(current, package(currency="USD"), ["currency"]).price_cents == 150000


def test_an_add_on_is_offered_only_with_packages_of_its_own_currency() -> None:
    usd, eur, unknown = ident(), ident(), ident()
    problems = check_offers(add_on(package_ids=(usd, eur, unknown)), {usd: "usd", eur: "eur"})
    assert [p.field for p in problems] == ["packageIds[1]", "packageIds[2]"]
    assert "eur" in problems[0].message and "no such package" in problems[1].message


def test_a_package_with_add_ons_of_its_currency_cannot_change_currency() -> None:
    check_package_currency("eur", set())
    check_package_currency("eur", {"eur"})
    with pytest.raises(ValidationError) as caught:
        check_package_currency("eur", {"usd"})
    assert fields_of(caught.value) == ["currency"]


@pytest.mark.parametrize("price", [-1, 100_000_000, -(2**40)])
def test_prices_outside_the_bounds_are_refused_naming_price_cents(price: int) -> None:
    with pytest.raises(ValidationError) as caught:
        check_package(package(price_cents=price))
    assert fields_of(caught.value) == ["priceCents"]
    with pytest.raises(ValidationError) as caught:
        check_add_on(add_on(price))
    assert fields_of(caught.value) == ["priceCents"]


@pytest.mark.parametrize("slug", ["ab", "garden-party", "a1-b2-c3", "x" * 64, "2024-special"])
def test_slugs_of_lowercase_letters_digits_and_single_hyphens_are_accepted(slug: str) -> None:
    assert check_package(package(slug=slug)).slug == slug


@pytest.mark.parametrize(
    "slug",
    ["", "a", "Garden", "garden party", "-garden", "garden-", "gar--den", "x" * 65, "jardín", "a_b", "a/b"],
)
def test_other_slugs_are_refused_naming_slug(slug: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_package(package(slug=slug))
    assert fields_of(caught.value) == ["slug"]
    with pytest.raises(ValidationError):
        check_segment(SegmentDraft(slug, "Weddings"))
    with pytest.raises(ValidationError):
        check_add_on(add_on(100, slug=slug))


def test_surrounding_spaces_are_trimmed_but_a_blank_title_is_refused() -> None:
    assert check_package(package(slug=" garden ", title="  Garden  ")).title == "Garden"
    with pytest.raises(ValidationError) as caught:
        check_package(package(title="   "))
    assert fields_of(caught.value) == ["title"]


def test_every_bad_field_of_a_package_is_named_in_one_answer() -> None:
    bad = package(
        slug="Bad Slug",
        title="",
        price_cents=-5,
        sort_order=10**9,
        max_guests=-1,
        segment_id="not-an-id",
        photos=(Photo("ftp://example.com/a.jpg"), Photo("https://example.com/b.jpg", "x" * 301)),
    )
    with pytest.raises(ValidationError) as caught:
        check_package(bad)
    assert sorted(fields_of(caught.value)) == sorted(
        [
            "slug",
            "title",
            "priceCents",
            "sortOrder",
            "maxGuests",
            "segmentId",
            "photos[0].url",
            "photos[1].alt",
        ]
    )


def test_a_package_keeps_at_most_twenty_photos() -> None:
    photos = tuple(Photo(f"https://img.example.com/{n}.jpg", f"photo {n}") for n in range(21))
    with pytest.raises(ValidationError) as caught:
        check_package(package(photos=photos))
    assert fields_of(caught.value) == ["photos"]
    assert len(check_package(package(photos=photos[:20])).photos) == 20


def test_an_add_on_names_each_malformed_or_repeated_package() -> None:
    first = ident()
    with pytest.raises(ValidationError) as caught:
        check_add_on(add_on(100, package_ids=(first, "nope", first.upper())))
    assert fields_of(caught.value) == ["packageIds[1]", "packageIds[2]"]


def test_an_add_on_is_offered_with_at_most_a_hundred_packages() -> None:
    with pytest.raises(ValidationError) as caught:
        check_add_on(add_on(100, package_ids=tuple(ident() for _ in range(101))))
    assert fields_of(caught.value) == ["packageIds"]


def test_a_malformed_id_in_a_path_names_nothing() -> None:
    with pytest.raises(NotFound):
        parse_id("../../etc", "package")
    same = ident()
    assert parse_id(same.upper(), "package") == same


# --- updates and versions ------------------------------------------------------------------------


def test_an_update_changes_only_the_fields_in_its_mask() -> None:
    current = check_package(package(description="Lovely", sort_order=3))
    change = PackageDraft(slug="", title="", price_cents=175000, description="")
    updated = apply_update(current, change, ["price_cents"])
    assert updated == PackageDraft(
        slug="garden-party",
        title="Garden party",
        price_cents=175000,
        description="Lovely",
        sort_order=3,
        currency="usd",
    )


def test_an_update_naming_no_field_or_an_unknown_one_is_refused() -> None:
    current = check_package(package())
    with pytest.raises(ValidationError):
        apply_update(current, current, [])
    with pytest.raises(ValidationError) as caught:
        apply_update(current, current, ["version"])
    assert fields_of(caught.value) == ["update_mask"]


def test_a_stale_version_is_a_version_conflict_carrying_the_current_one() -> None:
    check_version("package", 4, 4)
    check_version("package", 0, 4)  # the caller did not say: last write wins
    with pytest.raises(VersionConflict) as caught:
        check_version("package", 3, 4)
    assert caught.value.reason == "VERSION_CONFLICT"
    assert caught.value.metadata == {"current_version": "4"}


# --- pages ---------------------------------------------------------------------------------------


def test_a_page_token_round_trips_and_a_forged_one_is_refused() -> None:
    position = Position(-3, "garden-party")
    assert decode_cursor(encode_cursor(position)) == position
    assert decode_cursor("") is None
    for forged in ["%%%", "bm90IGpzb24", encode_cursor(position)[:-3], "WyJhIiwgImIiXQ"]:
        with pytest.raises(ValidationError) as caught:
            decode_cursor(forged)
        assert fields_of(caught.value) == ["cursor"]


# --- quotes --------------------------------------------------------------------------------------


def priced_package(**changes: object) -> PricedItem:
    values: dict[str, object] = {
        "id": ident(),
        "slug": "garden-party",
        "title": "Garden party",
        "price_cents": 150000,
        "currency": "usd",
        "version": 3,
        "offered": True,
    }
    values.update(changes)
    return PricedItem(**values)  # type: ignore[arg-type]


def priced_add_on(package_id: str, **changes: object) -> PricedItem:
    values: dict[str, object] = {
        "id": ident(),
        "slug": "flowers",
        "title": "Flowers",
        "price_cents": 25000,
        "currency": "usd",
        "version": 1,
        "offered": True,
        "package_ids": frozenset({package_id}),
    }
    values.update(changes)
    return PricedItem(**values)  # type: ignore[arg-type]


def test_a_quote_lists_the_package_then_the_add_ons_and_adds_them_up() -> None:
    pkg = priced_package()
    flowers = priced_add_on(pkg.id)
    drone = priced_add_on(pkg.id, slug="drone", title="Drone", price_cents=40000)
    request = check_quote_request(pkg.id, [drone.id, flowers.id])
    quote = price_quote(request, pkg, {flowers.id: flowers, drone.id: drone}, NOW)
    assert [(line.kind, line.slug, line.price_cents) for line in quote.lines] == [
        ("package", "garden-party", 150000),
        ("add_on", "drone", 40000),
        ("add_on", "flowers", 25000),
    ]
    assert (quote.total_cents, quote.currency, quote.package_id, quote.quoted_at) == (
        215000,
        "usd",
        pkg.id,
        NOW,
    )


def test_a_price_change_gives_the_quote_another_hash() -> None:
    pkg = priced_package()
    request = QuoteRequest(pkg.id)
    before = price_quote(request, pkg, {}, NOW)
    assert price_quote(request, pkg, {}, NOW).hash == before.hash
    repriced = priced_package(id=pkg.id, price_cents=160000, version=4)
    assert price_quote(request, repriced, {}, NOW).hash != before.hash
    # Even a change that keeps the price is visible through the version.
    assert price_quote(request, priced_package(id=pkg.id, version=4), {}, NOW).hash != before.hash


@pytest.mark.parametrize("offered", [None, False])
def test_an_unknown_or_unoffered_package_is_not_found_naming_package_id(offered: bool | None) -> None:
    pkg = None if offered is None else priced_package(offered=offered)
    with pytest.raises(DomainError) as caught:
        price_quote(QuoteRequest(ident()), pkg, {}, NOW)
    assert caught.value.reason == "NOT_FOUND"
    assert fields_of(caught.value) == ["packageId"]


def test_a_quote_names_every_unknown_inactive_or_not_offered_add_on() -> None:
    pkg = priced_package()
    good = priced_add_on(pkg.id)
    inactive = priced_add_on(pkg.id, offered=False)
    elsewhere = priced_add_on(ident())
    unknown = ident()  # e.g. another tenant's add-on: the store does not see it
    request = check_quote_request(pkg.id, [good.id, unknown, inactive.id, elsewhere.id, "junk"])
    with pytest.raises(ValidationError) as caught:
        price_quote(request, pkg, {a.id: a for a in (good, inactive, elsewhere)}, NOW)
    assert fields_of(caught.value) == ["addOnIds[1]", "addOnIds[2]", "addOnIds[3]", "addOnIds[4]"]
    messages = [f.message for f in caught.value.fields]
    assert unknown in messages[0] and "not found" in messages[0]
    assert inactive.id in messages[1] and "not available" in messages[1]
    assert elsewhere.id in messages[2] and "not offered with this package" in messages[2]


def test_an_add_on_priced_in_another_currency_is_refused() -> None:
    pkg = priced_package()
    euro = priced_add_on(pkg.id, currency="eur")
    with pytest.raises(ValidationError) as caught:
        price_quote(QuoteRequest(pkg.id, (euro.id,)), pkg, {euro.id: euro}, NOW)
    assert fields_of(caught.value) == ["addOnIds[0]"]


def test_more_than_twenty_add_ons_are_refused() -> None:
    check_quote_request(ident(), [ident() for _ in range(20)])
    with pytest.raises(ValidationError) as caught:
        check_quote_request(ident(), [ident() for _ in range(21)])
    assert fields_of(caught.value) == ["addOnIds"]


def test_a_repeated_add_on_is_refused_naming_each_repeat() -> None:
    repeated = ident()
    with pytest.raises(ValidationError) as caught:
        check_quote_request(ident(), [repeated, ident(), repeated.upper(), repeated])
    assert fields_of(caught.value) == ["addOnIds[2]", "addOnIds[3]"]


def test_a_quote_without_a_package_is_refused_and_a_malformed_one_is_not_found() -> None:
    with pytest.raises(ValidationError) as missing:
        check_quote_request("", [])
    assert fields_of(missing.value) == ["packageId"]
    with pytest.raises(DomainError) as malformed:
        check_quote_request("pkg_garden", [])
    assert (malformed.value.reason, fields_of(malformed.value)) == ("NOT_FOUND", ["packageId"])


# --- time slots ------------------------------------------------------------------------------


def test_a_time_slot_package_needs_checked_terms_and_a_whole_day_has_none() -> None:
    base = PackageDraft(slug="ceremony", title="Ceremony", price_cents=90000)
    resource = str(uuid.uuid4())
    checked = check_package(
        replace(
            base,
            kind=PackageKind.SLOT,
            slot=SlotTerms(duration_minutes=90, resource_id=f" {resource.upper()} "),
        )
    )
    assert checked.slot == SlotTerms(duration_minutes=90, resource_id=resource)
    assert check_package(base).slot is None

    for kind, slot in ((PackageKind.SLOT, None), (PackageKind.DAY, SlotTerms(duration_minutes=90))):
        with pytest.raises(ValidationError) as refused:
            check_package(replace(base, kind=kind, slot=slot))
        assert [f.field for f in refused.value.fields] == ["slot"]
    with pytest.raises(ValidationError) as refused:
        check_package(
            replace(
                base, title="", kind=PackageKind.SLOT, slot=SlotTerms(duration_minutes=0, resource_id="x")
            )
        )
    assert {f.field for f in refused.value.fields} == {"title", "slot.durationMinutes", "slot.resourceId"}


def test_a_kind_changes_only_without_live_bookings() -> None:
    check_kind_change(PackageKind.DAY, PackageKind.SLOT, 0)
    check_kind_change(PackageKind.DAY, PackageKind.DAY, 3)
    with pytest.raises(InUse) as refused:
        check_kind_change(PackageKind.SLOT, PackageKind.DAY, 2)
    assert refused.value.reason == "IN_USE"
    assert "2 live booking(s)" in str(refused.value)


def test_a_quote_carries_the_packages_kind_and_slot_terms() -> None:
    terms = SlotTerms(duration_minutes=60, interval_minutes=15)
    package = PricedItem(ident(), "shoot", "Shoot", 50000, "eur", 1, True, kind=PackageKind.SLOT, slot=terms)
    quote = price_quote(QuoteRequest(package.id), package, {}, NOW)
    assert (quote.kind, quote.slot) == (PackageKind.SLOT, terms)


def test_slot_terms_change_by_json_field_and_refuse_unknown_or_mistyped_fields() -> None:
    terms = SlotTerms(duration_minutes=90).changed({"bufferAfterMinutes": 30, "resourceId": None})
    assert terms == SlotTerms(duration_minutes=90, buffer_after_minutes=30)
    assert SlotTerms.from_stored(terms.to_json()) == terms
    assert SlotTerms.from_proto(terms.to_proto()) == terms
    with pytest.raises(ValidationError) as refused:
        SlotTerms(duration_minutes=90).changed({"durationMinutes": "90", "colour": "red", "resourceId": 7})
    assert {f.field for f in refused.value.fields} == {
        "slot.durationMinutes",
        "slot.colour",
        "slot.resourceId",
    }
