"""Fixtures shared by every suite."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def new_tenant_id() -> str:
    """A fresh, well-formed tenant id."""
    return str(uuid.uuid4())
