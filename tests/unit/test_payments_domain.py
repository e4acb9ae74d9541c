"""The payments rules without I/O: commission and proportional fee refunds (the platform keeps the
rounding), refund choices, ledger totals, checkout input, Stripe event reading, inbox error codes."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from mais_runtime.errors import Conflict, ValidationError
from services.payments.domain import CheckoutInput as Input
from services.payments.domain import (
    ConnectState,
    EntryKind,
    EventKind,
    EventStatus,
    HoldTooShort,
    LedgerTotals,
    Payee,
    PaymentStatus,
    RefundChoice,
    SessionState,
    StripeEvent,
    TenantNotOnboarded,
    check_idempotency_key,
    check_replay,
    commission_cents,
    connect_state,
    failure_code,
    fee_refund_cents,
    hold_request_id,
    plan_refund,
    refund_amount,
    session_expires_at,
    session_idempotency_key,
    session_resumable,
    session_state,
)

# --- commission ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "bps", "fee"),
    [
        (10_000, 1_000, 1_000),  # 10 % of $100: exact
        (9_999, 1_000, 1_000),  # 999.9 rounds up
        (999, 1_000, 100),  # 99.9 rounds up
        (1, 1, 1),  # a hundredth of a cent is still a cent for the platform
        (1, 1_000, 1),
        (12_345, 1_250, 1_544),  # 12.5 %: 1543.125 -> 1544
        (20_000, 1_250, 2_500),  # 12.5 % exact
        (33_333, 1_500, 5_000),  # 4999.95 -> 5000
        (50, 5_000, 25),  # the 50 % ceiling
        (10_000, 0, 0),  # no commission
        (0, 1_000, 0),
        (123_456_789, 999, 12_333_334),  # 12333333.2211 -> ...34
    ],
)
def test_commission_rounds_up_in_the_platforms_favour(total: int, bps: int, fee: int) -> None:
    assert commission_cents(total, bps) == fee


def test_commission_is_never_below_the_rate_and_less_than_a_cent_above_it() -> None:
    for total, bps in itertools.product(range(0, 2_000, 7), (1, 333, 999, 1_000, 1_250, 1_999, 5_000)):
        fee = commission_cents(total, bps)
        exact = Fraction(total * bps, 10_000)
        assert exact <= fee < exact + 1
        assert fee <= total


@pytest.mark.parametrize(("total", "bps"), [(-1, 1_000), (100, -1), (100, 10_001)])
def test_commission_refuses_impossible_inputs(total: int, bps: int) -> None:
    with pytest.raises(ValueError):
        commission_cents(total, bps)


# --- fee refunds -----------------------------------------------------------------------------


def test_a_full_refund_gives_the_whole_fee_back() -> None:
    assert (
        fee_refund_cents(charged=10_000, fee=1_000, refunded_before=0, fee_refunded_before=0, refund=10_000)
        == 1_000
    )


@pytest.mark.parametrize(
    ("charged", "fee", "refund", "fee_back"),
    [
        (10_000, 1_000, 3_000, 300),  # exact
        (10_000, 1_001, 5_000, 500),  # 500.5 rounds down: the platform keeps the half cent
        (1_000, 101, 999, 100),  # 100.899 -> 100
        (999, 100, 1, 0),  # 0.1 -> 0
        (12_345, 1_544, 6_000, 750),  # 750.4... -> 750
        (10_000, 0, 5_000, 0),  # a platform charge has no fee to give back
    ],
)
def test_a_partial_refund_gives_the_fee_back_in_proportion_rounded_down(
    charged: int, fee: int, refund: int, fee_back: int
) -> None:
    assert (
        fee_refund_cents(charged=charged, fee=fee, refunded_before=0, fee_refunded_before=0, refund=refund)
        == fee_back
    )


def test_partial_refunds_that_reach_the_whole_charge_give_exactly_the_whole_fee_back() -> None:
    for charged, fee in [(1_000, 101), (10_000, 1_001), (999, 333), (12_345, 1_544), (7, 3)]:
        for step in (1, 3, 7, 250, 333):
            refunded = fee_refunded = 0
            while refunded < charged:
                part = min(step, charged - refunded)
                back = fee_refund_cents(
                    charged=charged,
                    fee=fee,
                    refunded_before=refunded,
                    fee_refunded_before=fee_refunded,
                    refund=part,
                )
                assert back >= 0
                refunded += part
                fee_refunded += back
                # The running total is always the proportional amount rounded down: the platform
                # keeps less than one cent of rounding, never more.
                exact = Fraction(fee * refunded, charged)
                assert exact - 1 < fee_refunded <= exact
            assert fee_refunded == fee


def test_fee_refunds_never_exceed_the_fee_even_when_some_was_already_given_back() -> None:
    # 600 of the fee went back already (an outside refund of the fee): only 400 remain to give.
    assert (
        fee_refund_cents(charged=10_000, fee=1_000, refunded_before=0, fee_refunded_before=600, refund=10_000)
        == 400
    )
    # More already given back than the proportion asks for: nothing more now.
    assert (
        fee_refund_cents(charged=10_000, fee=1_000, refunded_before=0, fee_refunded_before=600, refund=5_000)
        == 0
    )


def test_refunding_more_than_was_charged_is_impossible() -> None:
    with pytest.raises(ValueError):
        fee_refund_cents(charged=1_000, fee=100, refunded_before=600, fee_refunded_before=60, refund=401)


# --- refund choices --------------------------------------------------------------------------


def test_refund_none_gives_nothing_back() -> None:
    assert refund_amount(RefundChoice.none(), charged=10_000, refunded_before=0) == 0
    assert (
        plan_refund(
            RefundChoice.none(), charged=10_000, fee=1_000, refunded_before=0, fee_refunded_before=0
        ).amount_cents
        == 0
    )


def test_refund_full_gives_back_what_is_left() -> None:
    assert refund_amount(RefundChoice.full(), charged=10_000, refunded_before=0) == 10_000
    assert refund_amount(RefundChoice.full(), charged=10_000, refunded_before=2_500) == 7_500


def test_refund_amount_is_cumulative_and_never_more_than_what_was_paid() -> None:
    assert refund_amount(RefundChoice.amount(2_500), charged=10_000, refunded_before=7_500) == 2_500
    with pytest.raises(ValidationError) as error:
        refund_amount(RefundChoice.amount(2_501), charged=10_000, refunded_before=7_500)
    assert error.value.fields[0].field == "refund.amountCents"
    assert "2500" in error.value.fields[0].message


def test_nothing_can_be_refunded_twice_or_without_a_payment() -> None:
    with pytest.raises(ValidationError) as twice:
        refund_amount(RefundChoice.full(), charged=10_000, refunded_before=10_000)
    assert twice.value.fields[0].field == "refund"
    with pytest.raises(ValidationError):
        refund_amount(RefundChoice.amount(1), charged=0, refunded_before=0)


@pytest.mark.parametrize("cents", [0, -5])
def test_a_refund_amount_must_be_positive(cents: int) -> None:
    with pytest.raises(ValidationError) as error:
        RefundChoice.amount(cents)
    assert error.value.fields[0].field == "refund.amountCents"


def test_a_refund_plan_pairs_the_amount_with_its_fee_share() -> None:
    plan = plan_refund(
        RefundChoice.amount(5_000), charged=10_000, fee=1_001, refunded_before=0, fee_refunded_before=0
    )
    assert (plan.amount_cents, plan.fee_refund_cents) == (5_000, 500)
    rest = plan_refund(
        RefundChoice.full(), charged=10_000, fee=1_001, refunded_before=5_000, fee_refunded_before=500
    )
    assert (rest.amount_cents, rest.fee_refund_cents) == (5_000, 501)


def test_refund_choices_have_stable_spellings_for_reuse_checks() -> None:
    assert RefundChoice.none().canonical == "none"
    assert RefundChoice.full().canonical == "full"
    assert RefundChoice.amount(250).canonical == "amount:250"


# --- ledger ----------------------------------------------------------------------------------


def test_ledger_totals_reconcile_charge_fee_refunds_and_net_to_tenant() -> None:
    totals = LedgerTotals.of(
        [
            (EntryKind.CHARGE, 10_000),
            (EntryKind.APPLICATION_FEE, 1_001),
            (EntryKind.REFUND, 5_000),
            (EntryKind.APPLICATION_FEE_REFUND, 500),
        ]
    )
    assert (totals.charged, totals.fee, totals.refunded, totals.fee_refunded) == (10_000, 1_001, 5_000, 500)
    assert totals.net_paid == 5_000
    assert totals.platform_fee == 501
    assert totals.net_to_tenant == 4_499
    assert totals.reconciles()


def test_ledger_totals_that_give_back_more_than_was_taken_do_not_reconcile() -> None:
    assert not LedgerTotals(charged=1_000, fee=100, refunded=1_001, fee_refunded=0).reconciles()
    assert not LedgerTotals(charged=1_000, fee=100, refunded=0, fee_refunded=101).reconciles()
    assert LedgerTotals().reconciles()


def test_every_sequence_of_planned_refunds_keeps_the_ledger_reconciled() -> None:
    for charged, bps in [(10_000, 1_000), (12_345, 1_250), (999, 333), (50, 5_000)]:
        fee = commission_cents(charged, bps)
        totals = LedgerTotals(charged=charged, fee=fee)
        for amount in (1, charged // 3, charged // 2):
            if totals.refunded + amount > charged:
                break
            plan = plan_refund(
                RefundChoice.amount(amount),
                charged=charged,
                fee=fee,
                refunded_before=totals.refunded,
                fee_refunded_before=totals.fee_refunded,
            )
            totals = LedgerTotals(
                charged, fee, totals.refunded + plan.amount_cents, totals.fee_refunded + plan.fee_refund_cents
            )
            assert totals.reconciles() and totals.net_to_tenant >= 0
        plan = plan_refund(
            RefundChoice.full(),
            charged=charged,
            fee=fee,
            refunded_before=totals.refunded,
            fee_refunded_before=totals.fee_refunded,
        )
        totals = LedgerTotals(
            charged, fee, totals.refunded + plan.amount_cents, totals.fee_refunded + plan.fee_refund_cents
        )
        assert (totals.net_paid, totals.platform_fee, totals.net_to_tenant) == (0, 0, 0)


# --- checkout input --------------------------------------------------------------------------


def _input(**changes: object) -> Input:
    fields: dict[str, object] = {
        "package_id": "pkg_1",
        "add_on_ids": ["ao_2", "ao_1"],
        "event_date": "2031-06-14",
        "couple_name": "  Ana & Bo ",
        "email": "  Ana@Example.COM ",
        "phone": "",
        "notes": "",
    }
    fields.update(changes)
    return Input.checked(**fields)  # type: ignore[arg-type]


def test_checkout_input_is_normalised() -> None:
    checked = _input()
    assert checked.email == "ana@example.com"
    assert checked.couple_name == "Ana & Bo"
    assert checked.event_date == date(2031, 6, 14)


def test_checkout_input_names_every_bad_field_as_the_client_spells_it() -> None:
    with pytest.raises(ValidationError) as error:
        _input(
            package_id="",
            event_date="14/06/2031",
            couple_name=" ",
            email="not-an-email",
            add_on_ids=["a", "a"],
        )
    assert {f.field for f in error.value.fields} == {
        "packageId",
        "eventDate",
        "coupleName",
        "email",
        "addOnIds",
    }


@pytest.mark.parametrize(
    ("field", "value", "name"),
    [
        ("event_date", "2031-02-30", "eventDate"),
        ("add_on_ids", [f"a{i}" for i in range(21)], "addOnIds"),
        ("phone", "1" * 41, "phone"),
        ("notes", "x" * 2001, "notes"),
        ("couple_name", "Ana\r\nBcc: x@y.z", "coupleName"),
        ("package_id", "pkg with spaces", "packageId"),
    ],
)
def test_checkout_input_refuses_out_of_bounds_values(field: str, value: object, name: str) -> None:
    with pytest.raises(ValidationError) as error:
        _input(**{field: value})
    assert [f.field for f in error.value.fields] == [name]


def test_the_same_body_has_the_same_fingerprint_and_another_body_another() -> None:
    assert (
        _input().fingerprint() == _input(add_on_ids=["ao_1", "ao_2"], email="ana@example.com").fingerprint()
    )
    assert _input().fingerprint() != _input(event_date="2031-06-15").fingerprint()
    assert _input().fingerprint() != _input(add_on_ids=["ao_1"]).fingerprint()


def test_a_reused_key_with_another_body_is_refused() -> None:
    check_replay("abc", "abc")
    with pytest.raises(Conflict) as error:
        check_replay("abc", "abd")
    assert error.value.reason == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.parametrize("key", ["a b", "x" * 256, "é", "tab\there"])
def test_idempotency_keys_are_bounded_printable_ascii(key: str) -> None:
    with pytest.raises(ValidationError):
        check_idempotency_key(key)
    assert check_idempotency_key("order-42_ok:1") == "order-42_ok:1"
    assert check_idempotency_key("") == ""


def test_derived_keys_are_stable_per_input_and_distinct_across_tenants() -> None:
    t1, t2 = str(uuid.uuid4()), str(uuid.uuid4())
    assert hold_request_id(t1, "k") == hold_request_id(t1, "k")
    assert hold_request_id(t1, "k") != hold_request_id(t2, "k")
    assert session_idempotency_key(t1, "bk_1") != session_idempotency_key(t1, "bk_2")
    assert len(session_idempotency_key(t1, "x" * 255)) <= 255


# --- session expiry --------------------------------------------------------------------------

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def test_a_session_closes_with_its_hold() -> None:
    hold = NOW + timedelta(hours=2)
    assert session_expires_at(hold, NOW) == hold


def test_a_session_never_outlives_its_hold_even_by_a_fraction_of_a_second() -> None:
    hold = NOW + timedelta(minutes=31, microseconds=999_999)
    assert session_expires_at(hold, NOW) == NOW + timedelta(minutes=31)
    assert session_expires_at(hold, NOW) <= hold


def test_a_hold_shorter_than_stripes_shortest_session_gets_no_session() -> None:
    with pytest.raises(HoldTooShort):
        session_expires_at(NOW + timedelta(minutes=29, seconds=59), NOW)
    assert session_expires_at(NOW + timedelta(minutes=30), NOW) == NOW + timedelta(minutes=30)


def test_a_hold_beyond_stripes_longest_session_is_closed_at_24_hours_before_it() -> None:
    assert session_expires_at(NOW + timedelta(hours=30), NOW) == NOW + timedelta(hours=24)


def test_a_session_is_resumed_only_while_open_within_its_hold_and_with_time_left_to_pay() -> None:
    hold = NOW + timedelta(minutes=31)
    assert session_resumable(open_=True, session_expires=hold, hold_expires=hold, now=NOW)
    assert not session_resumable(open_=False, session_expires=hold, hold_expires=hold, now=NOW)
    assert not session_resumable(
        open_=True, session_expires=hold + timedelta(seconds=1), hold_expires=hold, now=NOW
    )
    assert not session_resumable(
        open_=True, session_expires=NOW + timedelta(minutes=4), hold_expires=hold, now=NOW
    )
    # The couple came back with another package: the old session's amount is not what they owe now.
    assert not session_resumable(
        open_=True, session_expires=hold, hold_expires=hold, now=NOW, charges_the_quote=False
    )


def test_a_tenant_is_paid_only_once_onboarded_with_an_account() -> None:
    assert Payee(1000, "acct_1", onboarded=True).check_can_be_paid() == "acct_1"
    for payee in (Payee(1000, "acct_1", onboarded=False), Payee(1000, "", onboarded=True)):
        with pytest.raises(TenantNotOnboarded) as refused:
            payee.check_can_be_paid()
        assert refused.value.reason == "TENANT_NOT_ONBOARDED"


# --- Stripe events ---------------------------------------------------------------------------


def _event(**obj: object) -> dict[str, object]:
    return {"id": "evt_1", "type": "checkout.session.completed", "created": 1, "data": {"object": obj}}


def test_an_event_names_its_tenant_and_booking_from_metadata() -> None:
    tenant = str(uuid.uuid4())
    event = StripeEvent.parse(_event(id="cs_1", metadata={"tenant_id": tenant.upper(), "booking_id": "bk_1"}))
    assert event.tenant_id == tenant
    assert event.booking_id == "bk_1"
    assert event.kind is EventKind.CHECKOUT_COMPLETED


def test_an_event_with_a_malformed_tenant_is_not_attributed_to_anyone() -> None:
    assert StripeEvent.parse(_event(metadata={"tenant_id": "tn_1"})).tenant_id is None
    assert StripeEvent.parse(_event()).tenant_id is None


def test_unknown_event_types_are_not_acted_on() -> None:
    assert EventKind.of("payment_intent.created") is None
    assert EventKind.of("account.updated") is EventKind.ACCOUNT_UPDATED


def test_a_connected_accounts_event_names_the_account() -> None:
    event = StripeEvent.parse({**_event(id="acct_9", object="account"), "type": "account.updated"})
    assert event.connected_account == "acct_9"
    assert StripeEvent.parse({**_event(), "account": "acct_2"}).connected_account == "acct_2"


@pytest.mark.parametrize(
    "body",
    [{"type": "x", "data": {"object": {}}}, {"id": "evt", "data": {"object": {}}}, {"id": "e", "type": "t"}],
)
def test_a_body_that_is_not_an_event_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        StripeEvent.parse(body)


def test_only_processed_or_ignored_events_are_settled() -> None:
    assert EventStatus.PROCESSED.settled and EventStatus.IGNORED.settled
    assert not EventStatus.FAILED.settled and not EventStatus.RECEIVED.settled


def test_connect_state_follows_what_stripe_enables() -> None:
    assert (
        connect_state({"charges_enabled": True, "payouts_enabled": True, "details_submitted": True})
        is ConnectState.ONBOARDED
    )
    assert (
        connect_state({"charges_enabled": True, "payouts_enabled": False, "details_submitted": True})
        is ConnectState.PENDING
    )
    assert connect_state({}) is ConnectState.PENDING


def test_a_failure_code_keeps_the_error_class_and_code_but_never_the_message() -> None:
    class PeerError(Exception):
        def __init__(self, message: str, reason: str) -> None:
            super().__init__(message)
            self.reason = reason

    code = failure_code(PeerError("couple ana@example.com not found", "HOLD_LOST"))
    assert code == "PeerError:HOLD_LOST"
    assert "@" not in failure_code(ValueError("ana@example.com"))
    assert failure_code(ValueError("ana@example.com")) == "ValueError"
    assert len(failure_code(PeerError("x", "R" * 500))) <= 120


@pytest.mark.parametrize(
    ("status", "paid", "closes_in", "expected"),
    [
        (PaymentStatus.OPEN, False, timedelta(minutes=5), SessionState.OPEN),
        # Past its closing instant, before the sweep came by: Stripe already says expired.
        (PaymentStatus.OPEN, False, timedelta(seconds=-1), SessionState.EXPIRED),
        (PaymentStatus.EXPIRED, False, timedelta(minutes=5), SessionState.EXPIRED),
        (PaymentStatus.REPLACED, False, timedelta(minutes=5), SessionState.EXPIRED),
        # Paid on a replaced session (refunded since): the session itself completed.
        (PaymentStatus.REPLACED, True, timedelta(minutes=5), SessionState.COMPLETE),
        (PaymentStatus.PAID, True, timedelta(seconds=-1), SessionState.COMPLETE),
        (PaymentStatus.HOLD_LOST, True, timedelta(minutes=5), SessionState.COMPLETE),
    ],
)
def test_a_sessions_state_is_read_from_its_payment_as_stripe_would_name_it(
    status: PaymentStatus, paid: bool, closes_in: timedelta, expected: SessionState
) -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert session_state(status, paid=paid, expires_at=now + closes_in, now=now) is expected
