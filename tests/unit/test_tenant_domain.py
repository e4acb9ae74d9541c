"""The tenant context's rules: slugs, commission, settings, keys, emails, passwords, sign-in limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from mais.common.v1 import options_pb2
from mais.tenant.v1 import tenant_service_pb2

from gateway.auth import PUBLIC_KEY
from mais_runtime.errors import Forbidden, ValidationError
from services.tenant import domain
from services.tenant.domain import BookingPolicy, Branding, Role, SignInLimit, Tenant


def _fields(error: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [f.field for f in error.value.fields]


@pytest.mark.parametrize("slug", ["abc", "bella-weddings", "a1b", "x" * 50, "studio-9"])
def test_well_formed_slugs_are_accepted(slug: str) -> None:
    assert domain.check_slug(slug) == slug


@pytest.mark.parametrize(
    "slug", ["ab", "x" * 51, "Bella", "bella_weddings", "-bella", "bella-", "bel--la", "bella weddings", ""]
)
def test_malformed_slugs_are_refused_naming_the_field(slug: str) -> None:
    with pytest.raises(ValidationError) as caught:
        domain.check_slug(slug)
    assert _fields(caught) == ["slug"]


@pytest.mark.parametrize("slug", ["admin", "api", "www", "platform", "webhooks"])
def test_reserved_words_cannot_be_slugs(slug: str) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        domain.check_slug(slug)


@pytest.mark.parametrize(
    ("percent", "bps"), [("0", 0), ("12.5", 1250), ("10.01", 1001), ("50", 5000), ("7.10", 710)]
)
def test_commission_percent_becomes_basis_points(percent: str, bps: int) -> None:
    assert domain.commission_bps_from_percent(Decimal(percent)) == bps


@pytest.mark.parametrize("percent", ["12.345", "50.01", "-1", "0.001"])
def test_commission_out_of_range_or_too_precise_is_refused(percent: str) -> None:
    with pytest.raises(ValidationError) as caught:
        domain.commission_bps_from_percent(Decimal(percent))
    assert _fields(caught) == ["commissionPercent"]


def _tenant(**changes: object) -> Tenant:
    base = Tenant(id="00000000-0000-0000-0000-000000000001", slug="bella", name="Bella")
    return Tenant(**{**base.__dict__, **changes})


def test_a_tenant_admin_changes_branding_fields_one_by_one() -> None:
    current = _tenant(branding=Branding(primary_color="#111111", font="Lora"))
    change = _tenant(branding=Branding(primary_color="#ABCDEF", font="Inter"))
    updated = domain.apply_update(current, change, ["branding.primary_color"], Role.TENANT_ADMIN)
    assert updated.branding.primary_color == "#abcdef"
    assert updated.branding.font == "Lora"


def test_a_tenant_admin_cannot_change_commission_or_activation() -> None:
    for field in ("commission_bps", "active"):
        with pytest.raises(Forbidden):
            domain.apply_update(
                _tenant(), _tenant(commission_bps=0, active=False), [field], Role.TENANT_ADMIN
            )


def test_a_platform_admin_can_deactivate_a_tenant() -> None:
    updated = domain.apply_update(_tenant(), _tenant(active=False), ["active"], Role.PLATFORM_ADMIN)
    assert updated.active is False


def test_unknown_or_immutable_fields_in_the_mask_are_refused() -> None:
    for path in ("slug", "id", "branding.colour", "policy.nonsense", "stripe_account_id", "name.first"):
        with pytest.raises(ValidationError):
            domain.apply_update(_tenant(), _tenant(), [path], Role.PLATFORM_ADMIN)


def test_an_empty_mask_is_refused() -> None:
    with pytest.raises(ValidationError):
        domain.apply_update(_tenant(), _tenant(), [], Role.PLATFORM_ADMIN)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"name": "   "}, "name"),
        ({"currency": "dollars"}, "currency"),
        ({"branding": Branding(font="Comic Sans MS")}, "branding.font"),
        ({"branding": Branding(primary_color="red")}, "branding.primaryColor"),
        ({"branding": Branding(logo_url="http://example.com/logo.png")}, "branding.logoUrl"),
        ({"allowed_origins": ("https://example.com/path",)}, "allowedOrigins[0]"),
        ({"allowed_origins": ("http://example.com",)}, "allowedOrigins[0]"),
        ({"allowed_origins": ("https://*.example.com",)}, "allowedOrigins[0]"),
        ({"policy": BookingPolicy(hold_minutes=10)}, "policy.holdMinutes"),
        ({"policy": BookingPolicy(min_notice_days=30, max_advance_days=20)}, "policy.maxAdvanceDays"),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        domain.check_tenant(_tenant(**change))
    assert field in _fields(caught)


def test_origins_are_lower_cased_and_deduplicated_and_localhost_may_use_http() -> None:
    tenant = domain.check_tenant(
        _tenant(allowed_origins=("https://Bella.Example", "https://bella.example", "http://localhost:5173"))
    )
    assert tenant.allowed_origins == ("https://bella.example", "http://localhost:5173")


def test_key_pairs_have_the_published_formats_and_differ_each_time() -> None:
    first, second = domain.new_key_pair("bella-weddings"), domain.new_key_pair("bella-weddings")
    assert PUBLIC_KEY.match(first.public_key)
    assert domain.is_public_key(first.public_key)
    assert first.secret_key.startswith("sk_live_bella-weddings_")
    assert len(first.secret_key.rsplit("_", 1)[1]) == 32
    assert first.public_key != second.public_key
    assert first.secret_key != second.secret_key


@pytest.mark.parametrize("email", ["  Owner@Bella.COM ", "owner@bella.com", "OWNER@BELLA.COM\n"])
def test_emails_are_trimmed_and_lower_cased(email: str) -> None:
    assert domain.normalise_email(email) == "owner@bella.com"


@pytest.mark.parametrize("email", ["", "owner", "owner@", "@bella.com", "own er@bella.com", "a@b"])
def test_malformed_emails_are_refused(email: str) -> None:
    with pytest.raises(ValidationError):
        domain.normalise_email(email)


@pytest.mark.parametrize(
    "password", ["short1!", "onlyletterslong", "1234567890123", "x" * 300, "owner@bella.com"]
)
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValidationError):
        domain.check_password(password, "owner@bella.com")


def test_generated_passwords_meet_the_rules() -> None:
    for _ in range(200):
        domain.check_password(domain.generate_password())


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_four_failures_in_the_window_still_allow_an_attempt() -> None:
    limit = SignInLimit()
    assert limit.retry_after([NOW - timedelta(minutes=m) for m in range(4)], NOW) == 0


def test_the_fifth_failure_makes_the_next_attempt_wait_until_the_oldest_leaves_the_window() -> None:
    limit = SignInLimit()
    failures = [NOW - timedelta(minutes=m) for m in (10, 8, 6, 4, 2)]
    assert limit.retry_after(failures, NOW) == 5 * 60


def test_failures_older_than_the_window_do_not_count() -> None:
    limit = SignInLimit()
    failures = [NOW - timedelta(minutes=16)] * 10 + [NOW - timedelta(minutes=1)]
    assert limit.retry_after(failures, NOW) == 0


def test_every_rpc_of_the_tenant_service_is_tenant_scoped_or_marked_platform() -> None:
    service = tenant_service_pb2.DESCRIPTOR.services_by_name["TenantService"]
    for method in service.methods:
        platform = method.GetOptions().Extensions[options_pb2.scope] == options_pb2.RPC_SCOPE_PLATFORM
        first = method.input_type.fields_by_number.get(1)
        has_tenant = first is not None and first.name == "tenant_id"
        assert platform or has_tenant, method.name
