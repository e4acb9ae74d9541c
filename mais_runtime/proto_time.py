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
