"""REST routes of the tenants context (see ../shared/DESIGN.md, public REST contract)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
