"""REST routes of the catalog context (see ../shared/DESIGN.md, public REST contract)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
