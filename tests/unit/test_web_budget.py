"""The front end's size budgets, on the files the gateway serves (build/web, made by `make web` before the
suites run). Gzip sizes are deterministic for the same bytes, so this is a test, not a benchmark; the build
checks the same budgets (web/scripts/check-size.mjs) and this keeps a build that skipped it honest."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "build" / "web"
LOADER_BUDGET_BYTES = 3 * 1024
APP_JS_BUDGET_BYTES = 60 * 1024


def gzipped(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


@pytest.fixture(scope="module")
def built() -> Path:
    if not (WEB / "index.html").exists():
        pytest.fail(f"no front-end build in {WEB}: run `make web` (make test does)")
    return WEB


def test_the_loader_is_at_most_3_kb_gzipped(built: Path) -> None:
    loader = built / "widget" / "v1" / "mais.js"
    assert 0 < gzipped(loader) <= LOADER_BUDGET_BYTES


def test_the_booking_apps_javascript_is_at_most_60_kb_gzipped(built: Path) -> None:
    scripts = sorted((built / "assets").glob("*.js"))
    assert scripts, "the app build has no JavaScript"
    assert sum(gzipped(path) for path in scripts) <= APP_JS_BUDGET_BYTES


def test_the_shell_loads_only_hashed_assets_from_the_platform(built: Path) -> None:
    shell = (built / "index.html").read_text()
    assert "<script>" not in shell and "<style>" not in shell  # the CSP allows no inline code
    for script in sorted((built / "assets").glob("*.js")):
        name = script.name.rsplit(".", 1)[0]
        assert "-" in name, f"{script.name} has no content hash in its name"
