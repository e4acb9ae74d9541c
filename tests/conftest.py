"""Fixtures shared by every suite."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_root() -> Iterator[Path]:
    """A folder for the session's databases and process data, removed at the end.

    Not pytest's tmp_path: pytest resets its base folder to mode 0700 whenever a session starts,
    which would lock the unprivileged PostgreSQL user out of a running cluster's data.
    """
    root = Path(tempfile.mkdtemp(prefix="mais-test-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def new_tenant_id() -> str:
    """A fresh, well-formed tenant id."""
    return str(uuid.uuid4())
