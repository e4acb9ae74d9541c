"""The gateway's one error table covers every reason the contract names and every gRPC status."""

from __future__ import annotations

import grpc
from mais.common.v1 import types_pb2

from gateway.errors import BY_GRPC_CODE, ERRORS


def test_every_error_reason_of_the_contract_has_an_http_answer() -> None:
    reasons = {v.name for v in types_pb2.ErrorReason.DESCRIPTOR.values if v.number != 0}
    assert sorted(reasons - ERRORS.keys()) == []


def test_a_grpc_status_maps_to_at_most_one_public_code() -> None:
    listed = [code for kind in ERRORS.values() for code in kind.grpc_codes]
    assert len(listed) == len(set(listed))
    assert grpc.StatusCode.OK not in listed
    # UNKNOWN, INTERNAL and the rest are left out on purpose: they answer INTERNAL, with its generic text.
    assert grpc.StatusCode.UNKNOWN not in BY_GRPC_CODE


def test_internal_and_unavailable_never_show_a_services_message() -> None:
    assert [code for code, kind in ERRORS.items() if not kind.shows_service_message] == [
        "INTERNAL",
        "UNAVAILABLE",
    ]
