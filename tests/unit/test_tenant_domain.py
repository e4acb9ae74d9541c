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
from services.tenant.domain import BookingPolicy, Branding, FailureHistory, Role, SignInLimits, Tenant


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


@pytest.mark.parametrize("written", ["12.5", " 12.50 ", "1.25E+1"])
def test_a_commission_percent_as_written_becomes_basis_points(written: str) -> None:
    assert domain.commission_bps_from_text(written) == 1250


@pytest.mark.parametrize("written", ["", "ten", "NaN", "Infinity", "-0.01", "50.001", "1" * 40])
def test_a_commission_percent_that_is_no_number_in_range_is_refused(written: str) -> None:
    with pytest.raises(ValidationError) as caught:
        domain.commission_bps_from_text(written)
    assert _fields(caught) == ["commissionPercent"]


@pytest.mark.parametrize(
    ("bps", "text"), [(0, "0"), (1000, "10"), (1250, "12.5"), (725, "7.25"), (5000, "50")]
)
def test_a_tenant_tells_its_commission_as_a_plain_percent(bps: int, text: str) -> None:
    assert _tenant(commission_bps=bps).commission_percent == text


def test_a_platform_admin_sets_the_commission_as_a_percent_and_a_tenant_admin_may_not() -> None:
    updated = domain.apply_update(_tenant(), _tenant(), ["commission_percent"], Role.PLATFORM_ADMIN, "7.25")
    assert updated.commission_bps == 725
    with pytest.raises(Forbidden):
        domain.apply_update(_tenant(), _tenant(), ["commission_percent"], Role.TENANT_ADMIN, "7.25")


def test_the_contact_email_is_normalised_and_must_be_an_address() -> None:
    change = _tenant(contact_email="  Hello@Bella.Example ")
    assert domain.apply_update(_tenant(), change, ["contact_email"], Role.TENANT_ADMIN).contact_email == (
        "hello@bella.example"
    )
    with pytest.raises(ValidationError) as caught:
        domain.apply_update(_tenant(), _tenant(contact_email="nobody"), ["contact_email"], Role.TENANT_ADMIN)
    assert _fields(caught) == ["contactEmail"]


def test_zero_hold_limits_mean_the_defaults_and_set_ones_apply_as_set() -> None:
    default = BookingPolicy()
    assert (default.effective_max_live_holds_per_email, default.effective_max_live_holds_per_address) == (
        2,
        5,
    )
    set_ = BookingPolicy(max_live_holds_per_email=1, max_live_holds_per_address=40)
    assert (set_.effective_max_live_holds_per_email, set_.effective_max_live_holds_per_address) == (1, 40)


def test_a_hold_of_30_minutes_is_refused_because_holds_last_at_least_31() -> None:
    with pytest.raises(ValidationError) as caught:
        domain.check_tenant(_tenant(policy=BookingPolicy(hold_minutes=30)))
    assert _fields(caught) == ["policy.holdMinutes"]
    assert domain.check_tenant(_tenant(policy=BookingPolicy(hold_minutes=31))).policy.hold_minutes == 31


def _tenant(**changes: object) -> Tenant:
    base = Tenant(
        id="00000000-0000-0000-0000-000000000001",
        slug="bella",
        name="Bella",
        contact_email="owner@bella.example",
    )
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
        ({"policy": BookingPolicy(max_live_holds_per_email=-1)}, "policy.maxLiveHoldsPerEmail"),
        ({"policy": BookingPolicy(max_live_holds_per_email=11)}, "policy.maxLiveHoldsPerEmail"),
        ({"policy": BookingPolicy(max_live_holds_per_address=101)}, "policy.maxLiveHoldsPerAddress"),
        ({"contact_email": ""}, "contactEmail"),
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
LIMITS = SignInLimits()


def _history(
    pair: list[datetime] | None = None,
    address: list[datetime] | None = None,
    account: list[datetime] | None = None,
    known: bool = False,
) -> FailureHistory:
    return FailureHistory(pair or [], address or [], account or [], known)


def _ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_four_failures_of_a_pair_in_the_window_still_allow_an_attempt() -> None:
    assert LIMITS.retry_after(_history(pair=_ago(0, 1, 2, 3)), NOW) == 0


def test_the_fifth_failure_of_a_pair_makes_it_wait_until_the_oldest_leaves_the_window() -> None:
    assert LIMITS.retry_after(_history(pair=_ago(10, 8, 6, 4, 2)), NOW) == 5 * 60


def test_failures_older_than_the_window_do_not_count() -> None:
    assert LIMITS.retry_after(_history(pair=_ago(*[16] * 10, 1)), NOW) == 0


def test_a_known_address_still_obeys_the_pair_limit() -> None:
    assert LIMITS.retry_after(_history(pair=_ago(10, 8, 6, 4, 2), known=True), NOW) == 5 * 60


def test_five_failures_from_an_address_against_other_accounts_do_not_stop_this_one() -> None:
    assert LIMITS.retry_after(_history(address=_ago(1, 2, 3, 4, 5)), NOW) == 0


def test_an_address_spraying_many_accounts_waits() -> None:
    assert LIMITS.retry_after(_history(address=_ago(*[m / 10 for m in range(50)])), NOW) > 0


def test_ten_failures_of_an_account_from_anywhere_lock_it_for_a_minute_after_the_last() -> None:
    account = _ago(*range(1, 10), 0.5)
    assert LIMITS.retry_after(_history(account=account), NOW) == 30
    assert LIMITS.retry_after(_history(account=_ago(*range(1, 10))), NOW) == 0


def test_each_failure_past_the_account_threshold_doubles_the_lock_up_to_an_hour() -> None:
    waits = [LIMITS.retry_after(_history(account=[NOW] * n), NOW) for n in (10, 11, 12, 13, 20, 40)]
    assert waits == [60, 120, 240, 480, 3600, 3600]


def test_the_account_lock_does_not_apply_at_an_address_the_account_signed_in_from() -> None:
    assert LIMITS.retry_after(_history(account=[NOW] * 30, address=[NOW] * 80, known=True), NOW) == 0


def test_every_rpc_of_the_tenant_service_is_tenant_scoped_or_marked_platform() -> None:
    service = tenant_service_pb2.DESCRIPTOR.services_by_name["TenantService"]
    for method in service.methods:
        platform = method.GetOptions().Extensions[options_pb2.scope] == options_pb2.RPC_SCOPE_PLATFORM
        first = method.input_type.fields_by_number.get(1)
        has_tenant = first is not None and first.name == "tenant_id"
        assert platform or has_tenant, method.name
