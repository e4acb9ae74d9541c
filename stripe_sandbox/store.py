"""What the sandbox's Stripe account keeps, and where: in memory for reading, in SQLite for keeping.

Every object (accounts and their onboarding links, checkout sessions, payment intents with their charge,
application fee and transfer, refunds, events and their webhook deliveries, idempotency keys and their
answers, the test clock's offset) lives in the dicts below and, durably, in one SQLite file under the
state folder. A change happens inside :meth:`SandboxStore.transaction`: the objects it touched are marked
with :meth:`SandboxStore.changed` and written in one SQLite transaction when the outermost one ends, before
the API call answers. The file is in WAL mode with ``synchronous=FULL``, so a SIGKILL or a power cut leaves
each call's changes there whole or not at all (ADR 0010). On start the dicts are loaded back in insertion
order, which is what Stripe's newest-first lists page over.

One re-entrant lock guards memory and file: calls are short and synchronous, async handlers call them
directly, and tests driving the state from other threads are safe too. ``path=None`` keeps an in-memory
SQLite database (unit tests): the same code, nothing on disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from stripe_sandbox.clock import Clock
from stripe_sandbox.errors import StripeError
from stripe_sandbox.idempotency import IdempotencyStore, StoredResponse

logger = logging.getLogger("stripe_sandbox.store")

STATE_FILE = "stripe-sandbox.sqlite3"
_LOCK_FILE = "stripe-sandbox.lock"
_SCHEMA_VERSION = "1"

# Webhook delivery states of an event (one endpoint at most).
DELIVERY_PENDING = "pending"
DELIVERY_DELIVERED = "delivered"
DELIVERY_FAILED = "failed"


@dataclass
class SessionRecord:
    """A checkout session plus what Stripe keeps about it but does not show on the object."""

    obj: dict[str, Any]
    line_items: list[dict[str, Any]]
    application_fee_amount: int | None
    destination: str | None
    pi_metadata: dict[str, str]
    pi_description: str | None


@dataclass
class ChargeRecord:
    """A charge with its payment intent, application fee and transfer.

    The two ``*_basis`` totals are the refunded amounts that asked for the fee back / the transfer reversed.
    Fee refunds and reversals are computed from these running totals (``round(total * basis / amount)`` minus
    what was already given back), so partial refunds add up exactly to the full fee when the whole charge is
    refunded.
    """

    obj: dict[str, Any]
    payment_intent: dict[str, Any]
    fee: dict[str, Any] | None
    transfer: dict[str, Any] | None
    fee_refund_basis: int = 0
    reversal_basis: int = 0


@dataclass
class AccountLinkRecord:
    """A one-time onboarding link for a connected account."""

    token: str
    account_id: str
    refresh_url: str
    return_url: str
    expires_at: int
    used: bool = False


# One table per kind of object: (table, key column). Bodies are JSON; rowid keeps the insertion order.
_TABLES = (
    "accounts",
    "account_links",
    "checkout_sessions",
    "charges",
    "refunds",
    "events",
    "webhook_deliveries",
    "idempotency_keys",
    "sandbox",
)


class StateFolderInUse(RuntimeError):
    """Another sandbox process already keeps its state in this folder."""


class SandboxStore:
    """The sandbox's objects, loaded from and written through to one SQLite file."""

    def __init__(self, path: Path | None, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.idempotency = IdempotencyStore(on_change=lambda key: self.changed("idempotency_keys", key))
        self.accounts: dict[str, dict[str, Any]] = {}
        self.links: dict[str, AccountLinkRecord] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self.charges: dict[str, ChargeRecord] = {}
        self.charge_by_payment_intent: dict[str, str] = {}
        self.charge_by_fee: dict[str, str] = {}
        self.charge_by_transfer: dict[str, str] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.deliveries: dict[str, str] = {}
        self._dirty: dict[str, set[Any]] = {table: set() for table in _TABLES}
        self._depth = 0
        self._folder_lock: IO[str] | None = None
        self._db = self._open(path)
        self._load()

    # ------------------------------------------------------------ transactions

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock; at the outermost exit, write what changed in one SQLite transaction.

        A :class:`StripeError` is an answer, not a failure: changes made before it (an overdue session
        expired on the way) are kept, as on Stripe. Any other exception rolls memory back to the file.
        """
        with self.lock:
            self._depth += 1
            try:
                yield
            except StripeError:
                if self._depth == 1:
                    self._commit()
                raise
            except BaseException:
                if self._depth == 1:
                    self._rollback()
                raise
            else:
                if self._depth == 1:
                    self._commit()
            finally:
                self._depth -= 1

    def changed(self, table: str, key: Any) -> None:
        """Mark one object as changed (or deleted, when it is no longer in memory) in this transaction."""
        self._dirty[table].add(key)

    def close(self) -> None:
        """Close the file and release the folder."""
        with self.lock:
            self._db.close()
            if self._folder_lock is not None:
                self._folder_lock.close()
                self._folder_lock = None

    # ------------------------------------------------------------------ file

    def _open(self, path: Path | None) -> sqlite3.Connection:
        if path is None:
            target = ":memory:"
        else:
            path.mkdir(parents=True, exist_ok=True)
            self._folder_lock = _lock_folder(path)
            target = str(path / STATE_FILE)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per API call.
        db = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("BEGIN IMMEDIATE")
        for table in _TABLES:
            if table == "idempotency_keys":
                db.execute(
                    "CREATE TABLE IF NOT EXISTS idempotency_keys "
                    "(scope TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (scope, key))"
                )
            else:
                db.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        db.execute(
            "INSERT INTO sandbox (id, body) VALUES ('schema_version', ?) ON CONFLICT (id) DO NOTHING",
            (json.dumps(_SCHEMA_VERSION),),
        )
        db.execute("COMMIT")
        return db

    def _rows(self, table: str) -> list[tuple[str, Any]]:
        rows = self._db.execute(f"SELECT id, body FROM {table} ORDER BY rowid").fetchall()  # noqa: S608
        return [(str(key), json.loads(body)) for key, body in rows]

    def _load(self) -> None:
        self.accounts = dict(self._rows("accounts"))
        self.links = {key: AccountLinkRecord(**body) for key, body in self._rows("account_links")}
        self.sessions = {key: SessionRecord(**body) for key, body in self._rows("checkout_sessions")}
        self.charges = {key: ChargeRecord(**body) for key, body in self._rows("charges")}
        self.charge_by_payment_intent = {r.payment_intent["id"]: k for k, r in self.charges.items()}
        self.charge_by_fee = {r.fee["id"]: k for k, r in self.charges.items() if r.fee is not None}
        self.charge_by_transfer = {
            r.transfer["id"]: k for k, r in self.charges.items() if r.transfer is not None
        }
        self.refunds = dict(self._rows("refunds"))
        self.events = dict(self._rows("events"))
        self.deliveries = {key: str(status) for key, status in self._rows("webhook_deliveries")}
        meta = dict(self._rows("sandbox"))
        self.clock.restore(int(meta.get("clock_offset", 0)))
        self.idempotency.clear()
        rows = self._db.execute("SELECT scope, key, body FROM idempotency_keys ORDER BY rowid").fetchall()
        for scope, key, body in rows:
            self.idempotency.restore((scope, key), StoredResponse(**json.loads(body)))

    def _body(self, table: str, key: Any) -> Any | None:
        """The JSON-ready form of one object, or None when it was deleted."""
        if table == "checkout_sessions":
            session = self.sessions.get(key)
            return None if session is None else asdict(session)
        if table == "charges":
            charge = self.charges.get(key)
            return None if charge is None else asdict(charge)
        if table == "account_links":
            link = self.links.get(key)
            return None if link is None else asdict(link)
        if table == "idempotency_keys":
            entry = self.idempotency.get(key)
            return None if entry is None else asdict(entry)
        if table == "sandbox":
            return self.clock.offset if key == "clock_offset" else None
        source: dict[str, Any] = {  # type: ignore[assignment]  # the four plain-JSON tables
            "accounts": self.accounts,
            "refunds": self.refunds,
            "events": self.events,
            "webhook_deliveries": self.deliveries,
        }[table]
        return source.get(key)

    def _commit(self) -> None:
        if not any(self._dirty.values()):
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for table, keys in self._dirty.items():
                for key in keys:
                    self._write(table, key, self._body(table, key))
            self._db.execute("COMMIT")
        except BaseException:
            logger.exception("could not write the sandbox's state; memory is reloaded from the file")
            self._rollback()
            raise
        finally:
            for keys in self._dirty.values():
                keys.clear()

    def _write(self, table: str, key: Any, body: Any | None) -> None:
        if table == "idempotency_keys":
            scope, idem_key = key
            if body is None:
                self._db.execute(
                    "DELETE FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, idem_key)
                )
            else:
                self._db.execute(
                    "INSERT INTO idempotency_keys (scope, key, body) VALUES (?, ?, ?) "
                    "ON CONFLICT (scope, key) DO UPDATE SET body = excluded.body",
                    (scope, idem_key, json.dumps(body)),
                )
        elif body is None:
            self._db.execute(f"DELETE FROM {table} WHERE id = ?", (key,))  # noqa: S608
        else:
            # ON CONFLICT ... UPDATE keeps the rowid, so the object keeps its place in lists.
            self._db.execute(
                f"INSERT INTO {table} (id, body) VALUES (?, ?) "  # noqa: S608
                "ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (key, json.dumps(body)),
            )

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        for keys in self._dirty.values():
            keys.clear()
        self._load()

    def integrity(self) -> str:
        """SQLite's own check of the file (``"ok"`` when sound)."""
        with self.lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])


def _lock_folder(path: Path) -> IO[str]:
    """An exclusive lock on the folder for this process's life: two sandboxes on one file would each keep
    a stale copy in memory and overwrite the other's objects."""
    handle = (path / _LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise StateFolderInUse(f"another Stripe sandbox keeps its state in {path}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
