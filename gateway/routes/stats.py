"""`GET /v1/admin/stats`: the platform admin's totals across every tenant, from each service that owns
them (tenants from tenant, bookings from booking, money from payments' ledger), asked at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.payments.v1 import payments_service_pb2 as payments_pb
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb

from gateway.auth import AdminContext, platform_admin

router = APIRouter(tags=["platform admin"])

PlatformAdmin = Annotated[AdminContext, Depends(platform_admin)]


@router.get("/v1/admin/stats", summary="Totals across every tenant")
async def platform_stats(request: Request, admin: PlatformAdmin) -> dict[str, Any]:
    """Tenants (active, onboarded on Connect), bookings by state, and money per currency: charged,
    refunded, the platform's fees net of fee refunds, what went to the tenants, and what confirmed
    bookings still owe (`outstandingCents`, `outstandingBookings`); plus the Stripe events that failed
    and wait for a retry or a replay. `byMonth`: the last 12 calendar months (UTC), oldest first, with
    the bookings made that month by the state they are in now and the money recorded that month per
    currency (`feeCents` is the platform's fee net of fee refunds)."""
    clients = request.app.state.clients
    tenants, bookings, money = await asyncio.gather(
        clients.tenant.CountTenants(tenant_pb.CountTenantsRequest()),
        clients.booking.CountAllBookings(booking_pb.CountAllBookingsRequest()),
        clients.payments.GetPlatformTotals(payments_pb.GetPlatformTotalsRequest()),
    )
    return {
        "tenants": {
            "total": tenants.total,
            "active": tenants.active,
            "connectOnboarded": tenants.connect_onboarded,
        },
        "bookings": {
            "liveHolds": bookings.live_holds,
            "confirmed": bookings.confirmed,
            "upcoming": bookings.upcoming,
            "released": bookings.released,
            "cancelled": bookings.cancelled,
        },
        "money": [_money_json(t) for t in money.totals],
        "failedStripeEvents": money.failed_events,
        "byMonth": _by_month(bookings.by_month, money.by_month),
    }


def _by_month(
    bookings: Iterable[booking_pb.MonthBookings], money: Iterable[payments_pb.PlatformMonthTotals]
) -> list[dict[str, Any]]:
    money_of = {m.month: m.totals for m in money}
    return [
        {
            "month": b.month,
            "bookings": {
                "held": b.held,
                "confirmed": b.confirmed,
                "released": b.released,
                "cancelled": b.cancelled,
            },
            "money": [
                {
                    "currency": t.currency,
                    "grossCents": t.charged_cents,
                    "refundedCents": t.refunded_cents,
                    "feeCents": t.platform_fee_cents,
                }
                for t in money_of.get(b.month, ())
            ],
        }
        for b in bookings
    ]


def _money_json(totals: payments_pb.CurrencyTotals) -> dict[str, Any]:
    return {
        "currency": totals.currency,
        "chargedCents": totals.charged_cents,
        "refundedCents": totals.refunded_cents,
        "netPaidCents": totals.net_paid_cents,
        "platformFeeCents": totals.platform_fee_cents,
        "netToTenantsCents": totals.net_to_tenants_cents,
        # Still owed on confirmed bookings (balances not yet due, and overdue ones).
        "outstandingCents": totals.outstanding_cents,
        "outstandingBookings": totals.outstanding_bookings,
    }
