"""How a time-slot service is booked: its duration, buffers, start interval, lead time and resource.

One definition for everyone who handles them (as mais_runtime.payment_policy is for payment terms):
catalog checks and stores a package's terms, booking computes slots and holds by them
(services/booking/slots.py), and the gateway reads and writes them as JSON. The bounds, the proto
and the JSON spellings live here so the three never disagree.

JSON (the REST contract): `{"durationMinutes", "bufferBeforeMinutes", "bufferAfterMinutes",
"intervalMinutes", "leadTimeMinutes", "resourceId": "<id>"|null}`; a change may name any subset,
the rest stays as it was (see `changed`).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mais.catalog.v1 import catalog_service_pb2 as catalog_pb

from mais_runtime.errors import FieldViolation, ValidationError

MIN_DURATION, MAX_DURATION = 15, 720
MAX_BUFFER = 240
MIN_INTERVAL, MAX_INTERVAL = 5, 240
# 30 days: a service booked a month ahead at the earliest is already an odd one.
MAX_LEAD = 43_200

# JSON name -> field name (resourceId is handled on its own: null there means "the default").
_JSON_MINUTES = {
    "durationMinutes": "duration_minutes",
    "bufferBeforeMinutes": "buffer_before_minutes",
    "bufferAfterMinutes": "buffer_after_minutes",
    "intervalMinutes": "interval_minutes",
    "leadTimeMinutes": "lead_time_minutes",
}


@dataclass(frozen=True)
class SlotTerms:
    """How a time-slot service is booked. `resource_id` "": the tenant's default resource."""

    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    interval_minutes: int = 30
    lead_time_minutes: int = 0
    resource_id: str = ""

    def checked(self, prefix: str = "slot") -> SlotTerms:
        """These terms with a canonical resource id, or one ValidationError naming every bad field
        (`<prefix>.<field>`). Whether the resource exists is the booking service's to say."""
        problems: list[FieldViolation] = []

        def bounded(name: str, value: int, low: int, high: int) -> None:
            if not low <= value <= high:
                problems.append(
                    FieldViolation(f"{prefix}.{name}", f"must be between {low} and {high} minutes")
                )

        bounded("durationMinutes", self.duration_minutes, MIN_DURATION, MAX_DURATION)
        bounded("bufferBeforeMinutes", self.buffer_before_minutes, 0, MAX_BUFFER)
        bounded("bufferAfterMinutes", self.buffer_after_minutes, 0, MAX_BUFFER)
        bounded("intervalMinutes", self.interval_minutes, MIN_INTERVAL, MAX_INTERVAL)
        bounded("leadTimeMinutes", self.lead_time_minutes, 0, MAX_LEAD)
        resource_id = self.resource_id.strip()
        if resource_id:
            try:
                resource_id = str(uuid.UUID(resource_id))
            except ValueError:
                problems.append(FieldViolation(f"{prefix}.resourceId", "no such resource"))
        if problems:
            raise ValidationError("the slot terms are not valid", problems)
        return dataclasses.replace(self, resource_id=resource_id)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def before(self) -> timedelta:
        return timedelta(minutes=self.buffer_before_minutes)

    @property
    def after(self) -> timedelta:
        return timedelta(minutes=self.buffer_after_minutes)

    # --- proto -----------------------------------------------------------------------------------

    def to_proto(self) -> catalog_pb.SlotTerms:
        """The terms on the wire."""
        return catalog_pb.SlotTerms(
            duration_minutes=self.duration_minutes,
            buffer_before_minutes=self.buffer_before_minutes,
            buffer_after_minutes=self.buffer_after_minutes,
            interval_minutes=self.interval_minutes,
            lead_time_minutes=self.lead_time_minutes,
            resource_id=self.resource_id,
        )

    @classmethod
    def from_proto(cls, message: catalog_pb.SlotTerms) -> SlotTerms:
        """The terms off the wire, unchecked (call `checked` before trusting them)."""
        return cls(
            duration_minutes=message.duration_minutes,
            buffer_before_minutes=message.buffer_before_minutes,
            buffer_after_minutes=message.buffer_after_minutes,
            interval_minutes=message.interval_minutes,
            lead_time_minutes=message.lead_time_minutes,
            resource_id=message.resource_id,
        )

    # --- JSON (REST and storage) -----------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The REST spelling (also how catalog stores them)."""
        body: dict[str, Any] = {name: getattr(self, attr) for name, attr in _JSON_MINUTES.items()}
        body["resourceId"] = self.resource_id or None
        return body

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> SlotTerms:
        """Terms the catalog wrote with `to_json` (trusted: they were checked before they were stored)."""
        values = {attr: int(stored[name]) for name, attr in _JSON_MINUTES.items() if name in stored}
        return cls(**values, resource_id=str(stored.get("resourceId") or ""))

    def changed(self, body: dict[str, Any], prefix: str = "slot") -> SlotTerms:
        """These terms with the JSON fields `body` names changed, the rest as they were; a
        ValidationError naming the field for an unknown name or a value of the wrong type. The
        result is not checked against the bounds yet (call `checked`)."""
        values: dict[str, Any] = {}
        problems: list[FieldViolation] = []
        for name, value in body.items():
            if name == "resourceId":
                if value is not None and not isinstance(value, str):
                    problems.append(FieldViolation(f"{prefix}.resourceId", "must be a resource id or null"))
                else:
                    values["resource_id"] = value or ""
            elif name in _JSON_MINUTES:
                if type(value) is not int or abs(value) > 2**31 - 1:
                    problems.append(FieldViolation(f"{prefix}.{name}", "must be a whole number of minutes"))
                else:
                    values[_JSON_MINUTES[name]] = value
            else:
                problems.append(FieldViolation(f"{prefix}.{name}", "is not a field of the slot terms"))
        if problems:
            raise ValidationError("the slot terms are not valid", problems)
        return dataclasses.replace(self, **values)
