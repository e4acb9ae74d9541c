"""List pages shared by every service: page sizes and opaque cursors (mais_runtime/paging.py)."""

from __future__ import annotations

import pytest

from mais_runtime.errors import ValidationError
from mais_runtime.paging import decode_cursor, decode_parts, encode_cursor, page_size


@pytest.mark.parametrize(("asked", "size"), [(0, 50), (1, 1), (100, 100)])
def test_page_sizes_default_to_50_and_stay_within_1_to_100(asked: int, size: int) -> None:
    assert page_size(asked) == size


@pytest.mark.parametrize("asked", [-1, 101, 2**31 - 1])
def test_page_sizes_outside_1_to_100_are_refused_naming_limit(asked: int) -> None:
    with pytest.raises(ValidationError) as error:
        page_size(asked)
    assert error.value.fields[0].field == "limit"


def test_cursors_round_trip() -> None:
    token = encode_cursor("2030-01-01T00:00:00+00:00", "id-1")
    assert "=" not in token
    assert decode_cursor(token, 2) == ["2030-01-01T00:00:00+00:00", "id-1"]
    assert decode_parts(encode_cursor(7, "slug"), 2) == [7, "slug"]
    assert decode_cursor("", 2) is None


@pytest.mark.parametrize(
    "forged",
    [
        "%%%",
        "!!!",
        "e30",  # {}
        "bm90IGpzb24",  # not json
        encode_cursor("only-one"),
        encode_cursor(1, "x"),  # a number where a string belongs
        "A" * 401,
    ],
)
def test_foreign_cursors_are_refused_naming_cursor(forged: str) -> None:
    with pytest.raises(ValidationError) as error:
        decode_cursor(forged, 2)
    assert error.value.fields[0].field == "cursor"
