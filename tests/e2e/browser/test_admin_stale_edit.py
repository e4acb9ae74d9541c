"""Optimistic concurrency in the dashboard: two tabs of one admin edit the same package. The second save
from the stale tab is refused by the API (409 VERSION_CONFLICT); the page says someone else changed the
package, shows their value beside the admin's, keeps what the admin typed, and "Save mine again" saves it over
the new version. Nothing is lost either way."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.browser.admin import sign_in
from tests.e2e.browser.pages import assert_accessible, screenshots
from tests.e2e.conftest import MakeTenant
from tools.stack.launcher import Stack


def _open_editor(page: Page, stack: Stack, title: str) -> None:
    page.goto(f"{stack.url}/admin/catalog")
    page.get_by_role("button", name=f"Edit {title}").click()
    expect(page.get_by_label("Title", exact=True)).to_have_value(title)


def test_a_stale_package_edit_from_a_second_tab_is_told_and_loses_nothing(
    page: Page, stack: Stack, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("admin-stale", onboarded=False)
    with httpx.Client(base_url=stack.url, timeout=10.0) as http:
        created = http.post(
            "/v1/tenant-admin/packages",
            json={"slug": "garden", "title": "Garden day", "priceCents": 150_000},
            headers=tenant.admin_headers(),
        )
        assert created.status_code == 201, created.text
        package_id = created.json()["id"]

        sign_in(page, stack, tenant.admin_email, tenant.admin_password)
        stale, fresh = page, page.context.new_page()  # two tabs, one session
        _open_editor(stale, stack, "Garden day")
        _open_editor(fresh, stack, "Garden day")

        fresh.get_by_label("Title", exact=True).fill("Garden day, by the other tab")
        fresh.get_by_role("button", name="Save", exact=True).click()
        expect(fresh.get_by_role("status").filter(has_text="aved")).to_be_visible()

        stale.get_by_label("Title", exact=True).fill("Garden wedding")
        stale.get_by_role("button", name="Save", exact=True).click()
        expect(stale.get_by_role("heading", name="Someone else changed this package")).to_be_visible()
        conflict = stale.locator(".conflict")
        expect(conflict).to_contain_text("Garden day, by the other tab")
        expect(conflict).to_contain_text("Garden wedding")
        # What this admin typed is still in the form, and the other tab's edit is what is saved so far.
        expect(stale.get_by_label("Title", exact=True)).to_have_value("Garden wedding")
        path = f"/v1/tenant-admin/packages/{package_id}"
        so_far = http.get(path, headers=tenant.admin_headers()).json()
        assert so_far["title"] == "Garden day, by the other tab"
        assert_accessible(stale, "the catalog with an edit conflict")
        screenshots(stale, "admin-catalog-conflict")

        stale.get_by_role("button", name="Save mine again").click()
        expect(stale.get_by_role("heading", name="Someone else changed this package")).to_have_count(0)
        saved = http.get(path, headers=tenant.admin_headers()).json()
        assert saved["title"] == "Garden wedding"
        assert saved["version"] == created.json()["version"] + 2
