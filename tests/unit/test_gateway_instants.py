"""The gateway's reading of a slot's start: RFC 3339 with its offset, and nothing looser."""

from __future__ import annotations

import pytest

from gateway.errors import ApiError
from gateway.instants import instant


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2027-06-12T10:00:00Z", 1_812_794_400),
        ("2027-06-12T12:00:00+02:00", 1_812_794_400),
        ("2027-06-12t10:00:00z", 1_812_794_400),
        ("2027-06-12T10:00:00.5Z", 1_812_794_400),
    ],
)
def test_rfc_3339_instants_with_an_offset_are_read(text: str, seconds: int) -> None:
    stamp = instant(text, "startsAt")
    assert stamp is not None and stamp.seconds == seconds


@pytest.mark.parametrize(
    "text",
    [
        "2027-06-12T10:00:00Z\x00",
        "2027-06-12T10:00Z",
        "2027-06-12T10Z",
        "2027-06-12T10:00:00+0100",
        "2027-06-12T10:00:00,5Z",
        "2027-06-12T10:00:00",
        "2027-06-12 10:00:00Z",
        "2027-06-12T10:00:00+24:00",
        "\uff12027-06-12T10:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ApiError) as refused:
        instant(text, "startsAt")
    assert [v.field for v in refused.value.fields] == ["startsAt"]
