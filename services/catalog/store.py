"""The catalog's tables, queries and transactions.

Reads and writes run in tenant transactions (row-level security sees only the tenant's rows). Every
write transaction ends with `pg_notify(CHANGES_CHANNEL, tenant_id)`: PostgreSQL delivers it to every
listening catalog process when, and only if, the transaction commits, which is what keeps the public
caches of all replicas fresh (see changes.py). Updates lock the row (SELECT ... FOR UPDATE) before
checking its version, so two concurrent edits of the same version cannot both win.
"""

# Queries are assembled only from this module's constant column lists and clauses; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from mais_runtime.db import AsyncConnection, Database, IntegrityError, RowMapping, sqlstate, text
from mais_runtime.errors import NotFound, ValidationError
from mais_runtime.payment_policy import PaymentPolicy
from mais_runtime.slot_terms import SlotTerms
from services.catalog.domain import (
    MAX_ADD_ONS_PER_PACKAGE,
    AddOn,
    AddOnDraft,
    InUse,
    Package,
    PackageDraft,
    PackageKind,
    Photo,
    Position,
    PricedItem,
    PublicAddOn,
    Segment,
    SegmentDraft,
    SlugTaken,
    Stamp,
    is_id,
)

# The channel every write notifies with the tenant id as payload.
CHANGES_CHANNEL = "mais_catalog_changes"

_SEGMENT_COLUMNS = "id, slug, name, description, sort_order, active, version, updated_at"
_PACKAGE_COLUMNS = (
    "p.id, p.slug, p.title, p.description, p.price_cents, p.currency, p.active, p.sort_order, p.photos,"
    " p.segment_id, p.max_guests, p.version, p.updated_at, p.payment_policy, p.kind, p.slot"
)
_ADD_ON_COLUMNS = "id, slug, title, price_cents, currency, active, version, updated_at"
# A package couples may see and buy: active, and in no segment or an active one.
_OFFERED = "p.active AND (p.segment_id IS NULL OR s.active)"
_WITH_SEGMENT = "packages p LEFT JOIN segments s ON s.tenant_id = p.tenant_id AND s.id = p.segment_id"


def _constraint(error: BaseException) -> str:
    """The name of the constraint a database error is about, however deep the driver wrapped it."""
    seen: BaseException | None = error
    while seen is not None:
        name = getattr(seen, "constraint_name", None)
        if isinstance(name, str):
            return name
        seen = getattr(seen, "orig", None) or seen.__cause__
    return ""


def _stamp(row: RowMapping) -> Stamp:
    return Stamp(str(row["id"]), int(row["version"]), row["updated_at"])


def _segment(row: RowMapping) -> Segment:
    return Segment(
        _stamp(row),
        SegmentDraft(row["slug"], row["name"], row["description"], row["sort_order"], row["active"]),
    )


def _photos(raw: Any) -> tuple[Photo, ...]:
    items = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return tuple(Photo(str(item.get("url", "")), str(item.get("alt", ""))) for item in items or [])


def _package(row: RowMapping, add_ons: tuple[PublicAddOn, ...] = ()) -> Package:
    draft = PackageDraft(
        slug=row["slug"],
        title=row["title"],
        price_cents=int(row["price_cents"]),
        description=row["description"],
        active=row["active"],
        sort_order=row["sort_order"],
        photos=_photos(row["photos"]),
        segment_id=str(row["segment_id"]) if row["segment_id"] else None,
        max_guests=row["max_guests"],
        currency=row["currency"],
        payment_policy=_payment_policy(row["payment_policy"]),
        kind=PackageKind(row["kind"]),
        slot=_slot_terms(row["slot"]),
    )
    return Package(_stamp(row), draft, add_ons)


def _json(raw: Any) -> Any:
    # asyncpg hands jsonb over as text.
    return json.loads(raw) if isinstance(raw, str | bytes) else raw


def _payment_policy(raw: Any) -> PaymentPolicy | None:
    # NULL: the package has no terms of its own.
    if raw is None:
        return None
    return PaymentPolicy.from_stored(_json(raw))


def _slot_terms(raw: Any) -> SlotTerms | None:
    # NULL: a whole-day package.
    if raw is None:
        return None
    return SlotTerms.from_stored(_json(raw))


def _add_on(row: RowMapping, package_ids: Sequence[str]) -> AddOn:
    draft = AddOnDraft(
        row["slug"], row["title"], int(row["price_cents"]), row["active"], tuple(package_ids), row["currency"]
    )
    return AddOn(_stamp(row), draft)


def _after(position: Position | None, prefix: str = "") -> str:
    if position is None:
        return ""
    return f" AND ({prefix}sort_order, {prefix}slug) > (:after_order, :after_slug)"


def _after_params(position: Position | None) -> dict[str, Any]:
    if position is None:
        return {}
    return {"after_order": position.sort_order, "after_slug": position.slug}


def _page(items: list[Any], limit: int, position_of: Any) -> tuple[list[Any], Position | None]:
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, position_of(items[-1])


def _package_position(package: Package) -> Position:
    return Position(package.draft.sort_order, package.draft.slug)


class CatalogReads:
    """Queries inside one tenant transaction."""

    def __init__(self, conn: AsyncConnection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    async def _rows(self, sql: str, **params: Any) -> list[RowMapping]:
        result = await self.conn.execute(text(sql), {"tenant_id": self.tenant_id, **params})
        return list(result.mappings())

    async def _exec(self, sql: str, **params: Any) -> None:
        await self.conn.execute(text(sql), {"tenant_id": self.tenant_id, **params})

    # --- segments ----------------------------------------------------------------------------

    async def segments(self, limit: int, after: Position | None) -> tuple[list[Segment], Position | None]:
        """A page of segments in (sort order, slug) order, and where the next page starts."""
        rows = await self._rows(
            f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE tenant_id = :tenant_id{_after(after)}"
            " ORDER BY sort_order, slug LIMIT :limit",
            limit=limit + 1,
            **_after_params(after),
        )
        return _page([_segment(r) for r in rows], limit, lambda s: Position(s.draft.sort_order, s.draft.slug))

    async def segment(self, segment_id: str, *, for_update: bool = False) -> Segment:
        """One segment, or NotFound."""
        lock = " FOR UPDATE" if for_update else ""
        rows = await self._rows(
            f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE tenant_id = :tenant_id AND id = :id{lock}",
            id=segment_id,
        )
        if not rows:
            raise NotFound("segment")
        return _segment(rows[0])

    async def segment_exists(self, segment_id: str) -> bool:
        """True when the tenant has this segment."""
        rows = await self._rows(
            "SELECT 1 FROM segments WHERE tenant_id = :tenant_id AND id = :id", id=segment_id
        )
        return bool(rows)

    # --- packages ----------------------------------------------------------------------------

    async def packages(self, limit: int, after: Position | None) -> tuple[list[Package], Position | None]:
        """A page of packages, active or not, in (sort order, slug) order."""
        rows = await self._rows(
            f"SELECT {_PACKAGE_COLUMNS} FROM packages p WHERE p.tenant_id = :tenant_id{_after(after, 'p.')}"
            " ORDER BY p.sort_order, p.slug LIMIT :limit",
            limit=limit + 1,
            **_after_params(after),
        )
        return _page([_package(r) for r in rows], limit, _package_position)

    async def package(self, package_id: str, *, for_update: bool = False) -> Package:
        """One package, active or not, or NotFound."""
        lock = " FOR UPDATE" if for_update else ""
        rows = await self._rows(
            f"SELECT {_PACKAGE_COLUMNS} FROM packages p WHERE p.tenant_id = :tenant_id AND p.id = :id{lock}",
            id=package_id,
        )
        if not rows:
            raise NotFound("package")
        return _package(rows[0])

    async def package_currencies(self, package_ids: Sequence[str]) -> dict[str, str]:
        """The currency of each of these ids that is one of the tenant's packages."""
        if not package_ids:
            return {}
        rows = await self._rows(
            "SELECT id, currency FROM packages"
            " WHERE tenant_id = :tenant_id AND id = ANY(CAST(:ids AS uuid[]))",
            ids=list(package_ids),
        )
        return {str(r["id"]): r["currency"] for r in rows}

    async def add_on_currencies(self, package_id: str) -> set[str]:
        """The currencies of the add-ons (active or not) offered with a package."""
        rows = await self._rows(
            "SELECT DISTINCT currency FROM add_on_packages WHERE tenant_id = :tenant_id AND package_id = :id",
            id=package_id,
        )
        return {r["currency"] for r in rows}

    # --- public ------------------------------------------------------------------------------

    async def offered_packages(
        self, limit: int, after: Position | None
    ) -> tuple[list[Package], Position | None]:
        """A page of the packages couples may see, each with its active add-ons."""
        rows = await self._rows(
            f"SELECT {_PACKAGE_COLUMNS} FROM {_WITH_SEGMENT}"
            f" WHERE p.tenant_id = :tenant_id AND {_OFFERED}{_after(after, 'p.')}"
            " ORDER BY p.sort_order, p.slug LIMIT :limit",
            limit=limit + 1,
            **_after_params(after),
        )
        page, position = _page(rows, limit, lambda r: Position(r["sort_order"], r["slug"]))
        add_ons = await self._offered_add_ons([str(r["id"]) for r in page])
        return [_package(r, add_ons.get(str(r["id"]), ())) for r in page], position

    async def offered_segments(self, segment_ids: list[str]) -> list[Segment]:
        """The active segments among `segment_ids`, in (sort order, slug) order."""
        if not segment_ids:
            return []
        rows = await self._rows(
            f"SELECT {_SEGMENT_COLUMNS} FROM segments"
            " WHERE tenant_id = :tenant_id AND active AND id = ANY(:ids) ORDER BY sort_order, slug",
            ids=segment_ids,
        )
        return [_segment(r) for r in rows]

    async def offered_package(self, slug: str) -> Package | None:
        """The offered package with this slug, with its active add-ons; None when there is none."""
        rows = await self._rows(
            f"SELECT {_PACKAGE_COLUMNS} FROM {_WITH_SEGMENT}"
            f" WHERE p.tenant_id = :tenant_id AND p.slug = :slug AND {_OFFERED}",
            slug=slug,
        )
        if not rows:
            return None
        row = rows[0]
        add_ons = await self._offered_add_ons([str(row["id"])])
        return _package(row, add_ons.get(str(row["id"]), ()))

    async def _offered_add_ons(self, packages: list[str]) -> dict[str, tuple[PublicAddOn, ...]]:
        # An add-on offered with a package is priced in the package's currency (add_on_packages'
        # foreign keys carry the currency of both sides), so no filter on currency is needed here.
        if not packages:
            return {}
        rows = await self._rows(
            "SELECT pkg.id AS package_id, a.id, a.slug, a.title, a.price_cents, a.currency"
            " FROM unnest(CAST(:ids AS uuid[])) AS pkg(id) CROSS JOIN LATERAL ("
            "   SELECT a.id, a.slug, a.title, a.price_cents, a.currency"
            "   FROM add_on_packages ap JOIN add_ons a ON a.tenant_id = ap.tenant_id AND a.id = ap.add_on_id"
            "   WHERE ap.tenant_id = :tenant_id AND ap.package_id = pkg.id AND a.active"
            "   ORDER BY a.slug LIMIT :per_package) a",
            ids=packages,
            per_package=MAX_ADD_ONS_PER_PACKAGE,
        )
        found: dict[str, list[PublicAddOn]] = {}
        for r in rows:
            found.setdefault(str(r["package_id"]), []).append(
                PublicAddOn(str(r["id"]), r["slug"], r["title"], int(r["price_cents"]), r["currency"])
            )
        return {package_id: tuple(items) for package_id, items in found.items()}

    # --- add-ons -----------------------------------------------------------------------------

    async def add_ons(self, limit: int, after: Position | None) -> tuple[list[AddOn], Position | None]:
        """A page of add-ons, active or not, by slug (add-ons have no sort order: position 0)."""
        where = " AND slug > :after_slug" if after is not None else ""
        rows = await self._rows(
            f"SELECT {_ADD_ON_COLUMNS} FROM add_ons WHERE tenant_id = :tenant_id{where}"
            " ORDER BY slug LIMIT :limit",
            limit=limit + 1,
            **({"after_slug": after.slug} if after is not None else {}),
        )
        page, position = _page(rows, limit, lambda r: Position(0, r["slug"]))
        offers = await self._offers([str(r["id"]) for r in page])
        return [_add_on(r, offers.get(str(r["id"]), [])) for r in page], position

    async def add_on(self, add_on_id: str, *, for_update: bool = False) -> AddOn:
        """One add-on with the packages it is offered with, or NotFound."""
        lock = " FOR UPDATE" if for_update else ""
        rows = await self._rows(
            f"SELECT {_ADD_ON_COLUMNS} FROM add_ons WHERE tenant_id = :tenant_id AND id = :id{lock}",
            id=add_on_id,
        )
        if not rows:
            raise NotFound("add-on")
        offers = await self._offers([add_on_id])
        return _add_on(rows[0], offers.get(add_on_id, []))

    async def _offers(self, add_on_ids: list[str]) -> dict[str, list[str]]:
        if not add_on_ids:
            return {}
        rows = await self._rows(
            "SELECT add_on_id, package_id FROM add_on_packages"
            " WHERE tenant_id = :tenant_id AND add_on_id = ANY(CAST(:ids AS uuid[]))"
            " ORDER BY add_on_id, package_id",
            ids=add_on_ids,
        )
        found: dict[str, list[str]] = {}
        for r in rows:
            found.setdefault(str(r["add_on_id"]), []).append(str(r["package_id"]))
        return found

    # --- quotes ------------------------------------------------------------------------------

    async def priced_items(
        self, package_id: str, add_on_ids: Sequence[str]
    ) -> tuple[PricedItem | None, dict[str, PricedItem]]:
        """The package and the add-ons a quote names, as they are now (the tenant's rows only)."""
        rows = await self._rows(
            "SELECT p.id, p.slug, p.title, p.price_cents, p.currency, p.version, p.payment_policy,"
            f" p.kind, p.slot, {_OFFERED} AS offered"
            f" FROM {_WITH_SEGMENT} WHERE p.tenant_id = :tenant_id AND p.id = :id",
            id=package_id,
        )
        package = None
        if rows:
            r = rows[0]
            package = PricedItem(
                str(r["id"]),
                r["slug"],
                r["title"],
                int(r["price_cents"]),
                r["currency"],
                r["version"],
                bool(r["offered"]),
                payment_policy=_payment_policy(r["payment_policy"]),
                kind=PackageKind(r["kind"]),
                slot=_slot_terms(r["slot"]),
            )
        wellformed = [a for a in add_on_ids if is_id(a)]
        add_ons: dict[str, PricedItem] = {}
        if wellformed:
            rows = await self._rows(
                "SELECT a.id, a.slug, a.title, a.price_cents, a.currency, a.version, a.active,"
                " coalesce(array_agg(ap.package_id) FILTER (WHERE ap.package_id IS NOT NULL), '{}')"
                " AS package_ids"
                " FROM add_ons a LEFT JOIN add_on_packages ap ON ap.tenant_id = a.tenant_id"
                " AND ap.add_on_id = a.id AND ap.package_id = :package_id"
                " WHERE a.tenant_id = :tenant_id AND a.id = ANY(CAST(:ids AS uuid[])) GROUP BY a.id",
                ids=wellformed,
                package_id=package_id,
            )
            for r in rows:
                add_ons[str(r["id"])] = PricedItem(
                    str(r["id"]),
                    r["slug"],
                    r["title"],
                    int(r["price_cents"]),
                    r["currency"],
                    r["version"],
                    r["active"],
                    frozenset(str(p) for p in r["package_ids"]),
                )
        return package, add_ons


class CatalogWrites(CatalogReads):
    """Changes inside one tenant transaction; the transaction notifies CHANGES_CHANNEL at commit."""

    async def _one(self, sql: str, **params: Any) -> RowMapping:
        rows = await self._rows(sql, **params)
        return rows[0]

    async def insert_segment(self, draft: SegmentDraft) -> Segment:
        """Adds a segment; SlugTaken when the slug is the tenant's already."""
        async with _guard("segment", draft.slug):
            row = await self._one(
                "INSERT INTO segments (id, tenant_id, slug, name, description, sort_order, active)"
                " VALUES (:id, :tenant_id, :slug, :name, :description, :sort_order, :active)"
                f" RETURNING {_SEGMENT_COLUMNS}",
                id=str(uuid.uuid4()),
                **_segment_params(draft),
            )
        return _segment(row)

    async def save_segment(self, segment_id: str, draft: SegmentDraft) -> Segment:
        """Writes a locked segment back with the next version."""
        async with _guard("segment", draft.slug):
            row = await self._one(
                "UPDATE segments SET slug = :slug, name = :name, description = :description,"
                " sort_order = :sort_order, active = :active, version = version + 1, updated_at = now()"
                f" WHERE tenant_id = :tenant_id AND id = :id RETURNING {_SEGMENT_COLUMNS}",
                id=segment_id,
                **_segment_params(draft),
            )
        return _segment(row)

    async def delete_segment(self, segment_id: str) -> None:
        """Removes a segment; InUse while packages belong to it, NotFound when there is none."""
        try:
            rows = await self._rows(
                "DELETE FROM segments WHERE tenant_id = :tenant_id AND id = :id RETURNING id", id=segment_id
            )
        except IntegrityError as error:
            if _constraint(error) == "packages_segment_fk":
                raise InUse("packages belong to this segment; move them to another segment first") from None
            raise
        if not rows:
            raise NotFound("segment")

    async def insert_package(self, draft: PackageDraft) -> Package:
        """Adds a package; SlugTaken when the slug is the tenant's already."""
        async with _guard("package", draft.slug):
            row = await self._one(
                "INSERT INTO packages AS p (id, tenant_id, slug, title, description, price_cents, currency,"
                " active, sort_order, photos, segment_id, max_guests, payment_policy, kind, slot)"
                " VALUES (:id, :tenant_id, :slug, :title, :description, :price_cents, :currency, :active,"
                " :sort_order, CAST(:photos AS jsonb), :segment_id, :max_guests,"
                " CAST(:payment_policy AS jsonb), :kind, CAST(:slot AS jsonb))"
                f" RETURNING {_PACKAGE_COLUMNS}",
                id=str(uuid.uuid4()),
                **_package_params(draft),
            )
        return _package(row)

    async def save_package(self, package_id: str, draft: PackageDraft) -> Package:
        """Writes a locked package back with the next version (its currency as the draft says: the
        stored one unless the change named a new one)."""
        async with _guard("package", draft.slug):
            row = await self._one(
                "UPDATE packages AS p SET slug = :slug, title = :title, description = :description,"
                " price_cents = :price_cents, currency = :currency, active = :active,"
                " sort_order = :sort_order, photos = CAST(:photos AS jsonb), segment_id = :segment_id,"
                " max_guests = :max_guests, payment_policy = CAST(:payment_policy AS jsonb),"
                " kind = :kind, slot = CAST(:slot AS jsonb),"
                " version = p.version + 1, updated_at = now()"
                f" WHERE p.tenant_id = :tenant_id AND p.id = :id RETURNING {_PACKAGE_COLUMNS}",
                id=package_id,
                **_package_params(draft),
            )
        return _package(row)

    async def delete_package(self, package_id: str) -> None:
        """Removes a package and the offers of add-ons with it (those add-ons get a new version)."""
        await self._exec(
            "UPDATE add_ons SET version = version + 1, updated_at = now() WHERE tenant_id = :tenant_id"
            " AND id IN (SELECT add_on_id FROM add_on_packages WHERE tenant_id = :tenant_id"
            " AND package_id = :id)",
            id=package_id,
        )
        rows = await self._rows(
            "DELETE FROM packages WHERE tenant_id = :tenant_id AND id = :id RETURNING id", id=package_id
        )
        if not rows:
            raise NotFound("package")

    async def insert_add_on(self, draft: AddOnDraft) -> AddOn:
        """Adds an add-on and its offers; SlugTaken when the slug is the tenant's already."""
        add_on_id = str(uuid.uuid4())
        async with _guard("add-on", draft.slug):
            await self._exec(
                "INSERT INTO add_ons (id, tenant_id, slug, title, price_cents, currency, active)"
                " VALUES (:id, :tenant_id, :slug, :title, :price_cents, :currency, :active)",
                id=add_on_id,
                **_add_on_params(draft),
            )
        await self._offer(add_on_id, draft)
        return await self.add_on(add_on_id)

    async def save_add_on(self, add_on_id: str, draft: AddOnDraft) -> AddOn:
        """Writes a locked add-on back with the next version, replacing its offers."""
        # The offers go first: they carry the add-on's currency, which may be about to change.
        await self._exec(
            "DELETE FROM add_on_packages WHERE tenant_id = :tenant_id AND add_on_id = :id", id=add_on_id
        )
        async with _guard("add-on", draft.slug):
            await self._exec(
                "UPDATE add_ons SET slug = :slug, title = :title, price_cents = :price_cents,"
                " currency = :currency, active = :active, version = version + 1, updated_at = now()"
                " WHERE tenant_id = :tenant_id AND id = :id",
                id=add_on_id,
                **_add_on_params(draft),
            )
        await self._offer(add_on_id, draft)
        return await self.add_on(add_on_id)

    async def _offer(self, add_on_id: str, draft: AddOnDraft) -> None:
        if not draft.package_ids:
            return
        try:
            await self._exec(
                "INSERT INTO add_on_packages (tenant_id, add_on_id, package_id, currency)"
                " SELECT :tenant_id, :id, unnest(CAST(:package_ids AS uuid[])), :currency",
                id=add_on_id,
                package_ids=list(draft.package_ids),
                currency=draft.currency,
            )
        except IntegrityError as error:
            # A package deleted (or never the tenant's), or re-priced in another currency, between
            # the check and this insert.
            name = _constraint(error)
            if name == "add_on_packages_package_fk":
                raise ValidationError.of("packageIds", "names a package that does not exist") from None
            if name == "add_on_packages_package_currency_fk":
                raise ValidationError.of(
                    "packageIds", f"names a package not priced in {draft.currency}, the add-on's currency"
                ) from None
            raise

    async def delete_add_on(self, add_on_id: str) -> None:
        """Removes an add-on (its offers go with it); NotFound when there is none."""
        rows = await self._rows(
            "DELETE FROM add_ons WHERE tenant_id = :tenant_id AND id = :id RETURNING id", id=add_on_id
        )
        if not rows:
            raise NotFound("add-on")


def _segment_params(draft: SegmentDraft) -> dict[str, Any]:
    return {
        "slug": draft.slug,
        "name": draft.name,
        "description": draft.description,
        "sort_order": draft.sort_order,
        "active": draft.active,
    }


def _package_params(draft: PackageDraft) -> dict[str, Any]:
    return {
        "slug": draft.slug,
        "title": draft.title,
        "description": draft.description,
        "price_cents": draft.price_cents,
        "active": draft.active,
        "sort_order": draft.sort_order,
        "photos": json.dumps([{"url": p.url, "alt": p.alt} for p in draft.photos]),
        "segment_id": draft.segment_id,
        "max_guests": draft.max_guests,
        "currency": draft.currency,
        "payment_policy": json.dumps(draft.payment_policy.to_json()) if draft.payment_policy else None,
        "kind": draft.kind.value,
        "slot": json.dumps(draft.slot.to_json()) if draft.slot else None,
    }


def _add_on_params(draft: AddOnDraft) -> dict[str, Any]:
    return {
        "slug": draft.slug,
        "title": draft.title,
        "price_cents": draft.price_cents,
        "active": draft.active,
        "currency": draft.currency,
    }


@asynccontextmanager
async def _guard(what: str, slug: str) -> AsyncIterator[None]:
    """Turns a constraint violation the client caused into its answer (the transaction is rolled back
    either way): a taken slug, or a segment deleted between the check and the write."""
    try:
        yield
    except IntegrityError as error:
        name = _constraint(error)
        if sqlstate(error) == "23505" and name.endswith("_slug_unique"):
            raise SlugTaken(what, slug) from None
        if name == "packages_segment_fk":
            raise ValidationError.of("segmentId", "no such segment") from None
        if name == "add_on_packages_package_currency_fk":
            # An add-on was offered with the package between the check and this write.
            raise ValidationError.of(
                "currency", "add-ons in the package's old currency are offered with it; try again"
            ) from None
        raise


class CatalogStore:
    """Opens the catalog's tenant transactions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @asynccontextmanager
    async def reading(self, tenant_id: str) -> AsyncIterator[CatalogReads]:
        """A read-only view of one tenant's catalog."""
        async with self._db.tenant_transaction(tenant_id) as conn:
            yield CatalogReads(conn, tenant_id)

    @asynccontextmanager
    async def writing(self, tenant_id: str) -> AsyncIterator[CatalogWrites]:
        """A write transaction for one tenant's catalog that tells every replica at commit."""
        async with self._db.tenant_transaction(tenant_id) as conn:
            yield CatalogWrites(conn, tenant_id)
            await conn.execute(
                text("SELECT pg_notify(:channel, :tenant_id)"),
                {"channel": CHANGES_CHANNEL, "tenant_id": tenant_id},
            )
