"""The front end's size budgets, on the files the gateway serves (build/web, made by `make web` before the
suites run). Gzip sizes are deterministic for the same bytes, so this is a test, not a benchmark; the build
checks the same budgets (web/scripts/check-size.mjs) and this keeps a build that skipped it honest."""

from __future__ import annotations

import gzip
import json
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


def scripts_of(built: Path, entry: str) -> set[Path]:
    """Every script an HTML entry loads: its chunk and the chunks it imports (Vite's manifest)."""
    manifest = json.loads((built / ".vite" / "manifest.json").read_text())
    found: set[str] = set()
    todo = [entry]
    while todo:
        key = todo.pop()
        if key in found or key not in manifest:
            continue
        found.add(key)
        todo.extend(manifest[key].get("imports", []))
    return {built / manifest[key]["file"] for key in found if manifest[key]["file"].endswith(".js")}


def test_the_booking_apps_javascript_is_at_most_60_kb_gzipped(built: Path) -> None:
    scripts = scripts_of(built, "index.html")
    assert scripts, "the app build has no JavaScript"
    assert sum(gzipped(path) for path in scripts) <= APP_JS_BUDGET_BYTES


def test_the_couples_pages_load_none_of_the_dashboards_code(built: Path) -> None:
    admin_only = scripts_of(built, "admin.html") - scripts_of(built, "index.html")
    assert admin_only, "the dashboards have a chunk of their own"
    shell = (built / "index.html").read_text()
    assert not any(path.name in shell for path in admin_only)


def test_the_shell_loads_only_hashed_assets_from_the_platform(built: Path) -> None:
    shell = (built / "index.html").read_text()
    assert "<script>" not in shell and "<style>" not in shell  # the CSP allows no inline code
    for script in sorted((built / "assets").glob("*.js")):
        name = script.name.rsplit(".", 1)[0]
        assert "-" in name, f"{script.name} has no content hash in its name"
