"""A booking's stored quote answered as a QuoteSnapshot: the parse kept per quote (apart from its stamp)
gives exactly what json_format.ParseDict gives, for every booking's own stamp, and the same errors."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb

from services.booking import api


def _document(quoted_at: str | None, total: int = 120_000) -> dict[str, Any]:
    document: dict[str, Any] = {
        "packageId": "pk_garden",
        "lines": [
            {"kind": "package", "refId": "pk_garden", "title": "Garden day", "amountCents": str(total)},
        ],
        "totalCents": str(total),
        "currency": "usd",
        "hash": "h1",
        "paymentPolicy": {"depositPercent": 30},
        "someFieldFromLater": 1,
    }
    if quoted_at is not None:
        document["quotedAt"] = quoted_at
    return document


def _expected(document: dict[str, Any]) -> catalog_pb.QuoteSnapshot:
    return json_format.ParseDict(document, catalog_pb.QuoteSnapshot(), ignore_unknown_fields=True)


@pytest.mark.parametrize("stamps", [["2026-05-01T10:00:00Z", "2027-01-02T03:04:05.678Z", None]])
def test_each_answer_is_what_parse_dict_gives_with_its_own_stamp(stamps: list[str | None]) -> None:
    api._QUOTE_MESSAGES.clear()
    for stamp in stamps * 2:  # the first of each is parsed, the others come from the kept parse
        document = _document(stamp)
        answer = api._quote_snapshot(document)
        assert answer == _expected(document)
        assert answer.SerializeToString(deterministic=True) == _expected(document).SerializeToString(
            deterministic=True
        )
    assert len(api._QUOTE_MESSAGES) == 1, "one parse kept for one quote whatever its stamp"
    assert api._quote_snapshot(_document("2026-05-01T10:00:00Z", total=99)).total_cents == 99


def test_a_bad_stamp_is_refused_as_parse_dict_refuses_it() -> None:
    api._QUOTE_MESSAGES.clear()
    api._quote_snapshot(_document("2026-05-01T10:00:00Z"))
    with pytest.raises(json_format.ParseError):
        api._quote_snapshot(_document("not a time"))


def test_the_kept_parses_are_bounded() -> None:
    api._QUOTE_MESSAGES.clear()
    for n in range(api._QUOTE_MESSAGES_MAX + 10):
        api._quote_snapshot(_document(None, total=1_000 + n))
    assert len(api._QUOTE_MESSAGES) == api._QUOTE_MESSAGES_MAX
