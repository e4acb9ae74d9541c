"""Times between the domain (aware datetimes) and the contract (google.protobuf.Timestamp)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp


def timestamp(moment: datetime | None) -> Timestamp | None:
    """`moment` as a Timestamp; None (an unset field) for no moment."""
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def json_time(stamp: Timestamp) -> str | None:
    """A Timestamp as the REST answers spell times (RFC 3339, UTC, `Z`); None (JSON null) when unset."""
    if not stamp.seconds and not stamp.nanos:
        return None
    return str(stamp.ToJsonString())
