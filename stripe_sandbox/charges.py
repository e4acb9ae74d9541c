"""Payment intents and their charge, the platform's application fee and the transfer to the destination.

The sandbox creates them together when a Checkout Session is paid (card payments always succeed in test
mode); they are then read by id, refunded (``refunds.py``) and expanded.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox import objects
from stripe_sandbox.errors import missing_reference, missing_resource
from stripe_sandbox.store import ChargeRecord, SandboxStore, SessionRecord


class Charges:
    """The account's payment intents, charges, application fees and transfers."""

    def __init__(self, store: SandboxStore) -> None:
        self._store = store

    def create_for_session(self, record: SessionRecord, billing_email: str) -> str:
        """The succeeded payment intent of a paid session, with its charge, fee and transfer; its id.

        Called inside the paying transaction, so the session completes together with its charge.
        """
        now = self._store.clock.now()
        session = record.obj
        amount = session["amount_total"]
        currency = session["currency"]
        charge_id = objects.new_id("ch")
        fee_id = objects.new_id("fee") if record.application_fee_amount is not None else None
        transfer_id = objects.new_id("tr") if record.destination is not None else None
        intent = objects.payment_intent(
            created=now,
            amount=amount,
            currency=currency,
            application_fee_amount=record.application_fee_amount,
            destination=record.destination,
            charge_id=charge_id,
            metadata=dict(record.pi_metadata),
            description=record.pi_description,
        )
        charge = objects.charge(
            charge_id=charge_id,
            created=now,
            amount=amount,
            currency=currency,
            payment_intent_id=intent["id"],
            application_fee_id=fee_id,
            application_fee_amount=record.application_fee_amount,
            destination=record.destination,
            transfer_id=transfer_id,
            metadata=dict(record.pi_metadata),
            billing_email=billing_email,
        )
        fee = None
        if (
            fee_id is not None
            and record.destination is not None
            and record.application_fee_amount is not None
        ):
            fee = objects.application_fee(
                fee_id=fee_id,
                created=now,
                amount=record.application_fee_amount,
                currency=currency,
                charge_id=charge_id,
                account=record.destination,
            )
            self._store.charge_by_fee[fee_id] = charge_id
        transfer = None
        if transfer_id is not None and record.destination is not None:
            # A destination charge moves the amount minus the platform's fee to the connected account.
            transfer = objects.transfer(
                transfer_id=transfer_id,
                created=now,
                amount=amount - (record.application_fee_amount or 0),
                currency=currency,
                destination=record.destination,
                charge_id=charge_id,
            )
            self._store.charge_by_transfer[transfer_id] = charge_id
        self._store.charges[charge_id] = ChargeRecord(
            obj=charge, payment_intent=intent, fee=fee, transfer=transfer
        )
        self._store.charge_by_payment_intent[intent["id"]] = charge_id
        self._store.changed("charges", charge_id)
        return str(intent["id"])

    def charge(self, charge_id: str, *, param: str | None = None) -> ChargeRecord:
        """The charge by id: 404 when addressed in the URL, 400 when named by request parameter ``param``."""
        record = self._store.charges.get(charge_id)
        if record is None:
            if param is not None:
                raise missing_reference("charge", charge_id, param)
            raise missing_resource("charge", charge_id, "charge")
        return record

    def for_intent(self, intent_id: str, *, param: str | None = None) -> ChargeRecord:
        """The charge of a payment intent (404 or 400 as :meth:`charge`)."""
        charge_id = self._store.charge_by_payment_intent.get(intent_id)
        if charge_id is None:
            if param is not None:
                raise missing_reference("payment_intent", intent_id, param)
            raise missing_resource("payment_intent", intent_id, "intent")
        return self._store.charges[charge_id]

    def get_payment_intent(self, intent_id: str) -> dict[str, Any]:
        """``GET /v1/payment_intents/{id}``."""
        with self._store.transaction():
            return copy.deepcopy(self.for_intent(intent_id).payment_intent)

    def get_charge(self, charge_id: str) -> dict[str, Any]:
        """``GET /v1/charges/{id}``."""
        with self._store.transaction():
            return copy.deepcopy(self.charge(charge_id).obj)

    def get_application_fee(self, fee_id: str) -> dict[str, Any]:
        """``GET /v1/application_fees/{id}``."""
        with self._store.transaction():
            charge_id = self._store.charge_by_fee.get(fee_id)
            if charge_id is None:
                raise missing_resource("application_fee", fee_id)
            return copy.deepcopy(self._store.charges[charge_id].fee)  # type: ignore[arg-type]

    def get_transfer(self, transfer_id: str) -> dict[str, Any]:
        """``GET /v1/transfers/{id}``."""
        with self._store.transaction():
            charge_id = self._store.charge_by_transfer.get(transfer_id)
            if charge_id is None:
                raise missing_resource("transfer", transfer_id)
            return copy.deepcopy(self._store.charges[charge_id].transfer)  # type: ignore[arg-type]
