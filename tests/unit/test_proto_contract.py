"""The contract's house style, checked on every proto under protos/ (docs/adr/0019).

Each rule is one test over the descriptors generated from protos/ (`make proto`), so a new proto file
or RPC is checked without anyone listing it here. The few known gaps are listed below with the reason
they are left; a gap that gets fixed must leave the list too (the list only shrinks).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

from google.protobuf.descriptor import (
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    FileDescriptor,
    MethodDescriptor,
)
from google.protobuf.descriptor_pb2 import MethodOptions
from mais.common.v1 import options_pb2

from mais_runtime.channels import READ_VERBS

PROTOS = Path(__file__).resolve().parents[2] / "protos"

# Verbs of RPCs that change nothing. Every other RPC is a mutation and must say how a retry is kept
# from acting twice: a `string request_id` in its request (AIP-155), or `option idempotency_level =
# IDEMPOTENT;` when repeating it changes nothing more (it names its effect: a delete, an update to
# given values, a confirmation by payment session, a cumulative amount).

# Violations left on purpose, each with why. Keys are "<rule>: <full name>".
KNOWN_GAPS = {
    "request_id: mais.payments.v1.PaymentsService.StartCheckout": (
        "carries the Idempotency-Key header as `idempotency_key` (same role, the REST name)"
    ),
    "request_id: mais.catalog.v1.CatalogService.CreateSegment": (
        "a retry answers SLUG_TAKEN instead of the created segment; needs a request ledger in catalog"
    ),
    "request_id: mais.catalog.v1.CatalogService.CreatePackage": "as CreateSegment",
    "request_id: mais.catalog.v1.CatalogService.CreateAddOn": "as CreateSegment",
    "request_id: mais.booking.v1.BookingService.CreateBlackout": (
        "a retry answers CONFLICT (one blackout per date) instead of the created blackout"
    ),
    "request_id: mais.tenant.v1.TenantService.CreateTenant": (
        "a retry answers SLUG_TAKEN; platform admins create tenants by hand"
    ),
    "request_id: mais.tenant.v1.TenantService.RotateApiKeys": (
        "a retried rotation rotates again; the tenant part of issue 12 reworks rotation"
    ),
    "request_id: mais.tenant.v1.TenantService.SignIn": (
        "a retry issues a second token; both are valid, both expire, neither changes the account"
    ),
    "request_id: mais.tenant.v1.TenantService.ChangePassword": (
        "a retry after success is refused on the now-changed current password and changes nothing"
    ),
    "request_id: mais.tenant.v1.TenantService.RequestPasswordReset": (
        "a retry may send a second link; both are single-use and the newest one wins"
    ),
    "string status: mais.booking.v1.HistoryEntry.from_status": (
        "booking's history is reworked by the booking part of issue 12; BookingStatus comes with it"
    ),
    "string status: mais.booking.v1.HistoryEntry.to_status": "as from_status",
}


def _files() -> list[FileDescriptor]:
    files = []
    for path in sorted(PROTOS.rglob("*.proto")):
        module = ".".join(path.relative_to(PROTOS).with_suffix("").parts) + "_pb2"
        files.append(importlib.import_module(module).DESCRIPTOR)
    return files


FILES = _files()


def _methods() -> Iterator[MethodDescriptor]:
    for file in FILES:
        for service in file.services_by_name.values():
            yield from service.methods


def _messages(descriptors: list[Descriptor]) -> Iterator[Descriptor]:
    for message in descriptors:
        if message.GetOptions().map_entry:
            continue
        yield message
        yield from _messages(list(message.nested_types))


def _all_messages() -> Iterator[Descriptor]:
    for file in FILES:
        yield from _messages(list(file.message_types_by_name.values()))


def _all_enums() -> Iterator[EnumDescriptor]:
    for file in FILES:
        yield from file.enum_types_by_name.values()
    for message in _all_messages():
        yield from message.enum_types


def _platform_scoped(method: MethodDescriptor) -> bool:
    return method.GetOptions().Extensions[options_pb2.scope] == options_pb2.RPC_SCOPE_PLATFORM


def _check(rule: str, found: set[str]) -> None:
    known = {key for key in KNOWN_GAPS if key.startswith(rule + ": ")}
    new = sorted(found - known)
    fixed = sorted(known - found)
    assert not new, f"{rule} violations: {new}"
    assert not fixed, f"fixed, so remove from KNOWN_GAPS: {fixed}"


def test_every_proto_under_protos_is_checked() -> None:
    names = {file.name for file in FILES}
    assert "mais/booking/v1/booking_service.proto" in names
    assert sum(1 for _ in _methods()) > 50


def test_a_tenant_scoped_request_starts_with_tenant_id() -> None:
    found = set()
    for method in _methods():
        if _platform_scoped(method):
            continue
        fields = list(method.input_type.fields)
        first = fields[0] if fields else None
        ok = (
            first is not None
            and first.name == "tenant_id"
            and first.number == 1
            and first.type == FieldDescriptor.TYPE_STRING
            and min(f.number for f in fields) == 1
        )
        if not ok:
            found.add(f"tenant_id: {method.full_name}")
    _check("tenant_id", found)


def test_every_rpc_has_its_own_request_and_response() -> None:
    found = set()
    users: dict[str, list[str]] = {}
    for method in _methods():
        for role, message in (("Request", method.input_type), ("Response", method.output_type)):
            users.setdefault(message.full_name, []).append(method.full_name)
            if message.name != method.name + role or message.file.name != method.containing_service.file.name:
                found.add(f"one request and response: {method.full_name} uses {message.full_name}")
    for message, methods in users.items():
        if len(methods) > 1:
            found.add(f"one request and response: {message} shared by {sorted(methods)}")
    _check("one request and response", found)


def test_every_enum_starts_at_unspecified() -> None:
    found = set()
    for enum in _all_enums():
        zero = enum.values_by_number.get(0)
        prefix = "".join("_" + c if c.isupper() and i else c for i, c in enumerate(enum.name)).upper()
        if zero is None or zero.name != f"{prefix}_UNSPECIFIED":
            found.add(f"enum zero: {enum.full_name}")
    _check("enum zero", found)


def test_every_mutation_says_how_a_retry_is_kept_from_acting_twice() -> None:
    found = set()
    for method in _methods():
        if method.name.startswith(READ_VERBS):
            continue
        request_id = method.input_type.fields_by_name.get("request_id")
        has_request_id = request_id is not None and request_id.type == FieldDescriptor.TYPE_STRING
        idempotent = method.GetOptions().idempotency_level == MethodOptions.IDEMPOTENT
        if not (has_request_id or idempotent):
            found.add(f"request_id: {method.full_name}")
    _check("request_id", found)


def test_no_read_is_marked_as_a_mutation() -> None:
    marked = [
        method.full_name
        for method in _methods()
        if method.name.startswith(READ_VERBS) and method.GetOptions().HasField("idempotency_level")
    ]
    assert not marked, f"reads need no retry story: {marked}"


def test_a_stream_is_a_read() -> None:
    """Streams (the change feeds) change nothing: named as reads, with no retry story to declare."""
    streams = [method for method in _methods() if method.server_streaming or method.client_streaming]
    assert {m.full_name for m in streams} >= {
        "mais.catalog.v1.CatalogService.WatchChanges",
        "mais.booking.v1.BookingService.WatchChanges",
        "mais.tenant.v1.TenantService.WatchChanges",
    }
    for method in streams:
        assert not method.client_streaming, method.full_name
        assert method.name.startswith(READ_VERBS), method.full_name
        assert not method.GetOptions().HasField("idempotency_level"), method.full_name
        assert _platform_scoped(method), f"{method.full_name}: a feed of every tenant's changes"


def test_a_status_is_an_enum_not_a_string() -> None:
    found = set()
    for message in _all_messages():
        for field in message.fields:
            if (field.name == "status" or field.name.endswith("_status")) and field.type != field.TYPE_ENUM:
                found.add(f"string status: {field.full_name}")
    _check("string status", found)


def test_only_calls_safe_to_repeat_are_retried_by_the_channels() -> None:
    """The channels retry UNAVAILABLE (and wait for a restarting peer) for reads and for mutations
    the contract declares idempotent, never for the others (a checkout, a new hold, a sign-in)."""
    import json

    from mais_runtime.channels import safe_to_repeat, service_config

    retried = {(n["service"], n["method"]) for n in json.loads(service_config())["methodConfig"][0]["name"]}
    methods = list(_methods())
    assert retried == {(m.containing_service.full_name, m.name) for m in methods if safe_to_repeat(m)}
    assert ("mais.payments.v1.PaymentsService", "GetSchedule") in retried
    for never in ("StartCheckout", "HoldDate", "SignIn", "CreateTenant"):
        assert not any(method == never for _, method in retried), never
