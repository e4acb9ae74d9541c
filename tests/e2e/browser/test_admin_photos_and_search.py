"""Two dashboard forms in a real browser: a tenant admin adds a photo to a package in the catalog (its
https address, its description, a preview) and the widget's live preview in Settings shows it with that
description; the platform admin finds a business that is not on the tenants' first page by typing part of
its name into the search, which the server answers."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, Request, expect

from tests.e2e.browser.admin import check_admin_page, open_from_nav, sign_in, sign_in_as
from tests.e2e.conftest import PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD, MakeTenant
from tools.stack.launcher import Stack

# An https address the browser cannot load (".invalid" never resolves): the widget and the editor show
# an img with the description whether or not its picture arrives, and the test stack serves no https.
PHOTO_URL = "https://photos.invalid/orchard/arch.jpg"
PHOTO_ALT = "A wooden arch with white roses under the apple trees"
# The tenants page asks for this many businesses per page (PlatformTenants.tsx).
TENANTS_PAGE_SIZE = 25


def test_a_photo_added_in_the_catalog_shows_in_the_widget_preview(
    page: Page, stack: Stack, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("admin-photos", onboarded=False)
    with httpx.Client(base_url=stack.url, timeout=10.0) as http:
        created = http.post(
            "/v1/tenant-admin/packages",
            json={"slug": "orchard", "title": "Orchard day", "priceCents": 320_000},
            headers=tenant.admin_headers(),
        )
        assert created.status_code == 201, created.text
    sign_in_as(page, stack, tenant)
    page.goto(f"{stack.url}/admin/")
    open_from_nav(page, "Catalog")
    page.get_by_role("button", name="Edit Orchard day").click()

    page.get_by_role("button", name="Add a photo").click()
    photo = page.get_by_role("group", name="Photo 1")
    address = photo.get_by_label("Address (https)")
    expect(address).to_be_focused()
    address.fill(PHOTO_URL)
    page.get_by_role("button", name="Save", exact=True).click()
    # No description: refused beside it, saying why, and nothing is sent.
    description = photo.get_by_label("Description (alt text)")
    expect(description).to_have_attribute("aria-invalid", "true")
    expect(photo).to_contain_text("couples who use a screen reader hear this text")
    description.fill(PHOTO_ALT)
    expect(photo.get_by_role("img", name=PHOTO_ALT)).to_have_attribute("src", PHOTO_URL)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="The package was saved.")).to_be_visible()
    check_admin_page(page, "admin-catalog-photos", "the package editor with a photo")
    with httpx.Client(base_url=stack.url, timeout=10.0) as http:
        saved = http.get(f"/v1/tenant-admin/packages/{created.json()['id']}", headers=tenant.admin_headers())
    assert saved.json()["photos"] == [{"url": PHOTO_URL, "alt": PHOTO_ALT}]
    assert saved.json()["version"] == created.json()["version"] + 1

    open_from_nav(page, "Settings")
    preview = page.frame_locator("iframe[title='Preview of the booking widget']")
    expect(preview.get_by_role("radio", name=re.compile("^Orchard day"))).to_be_visible()
    expect(preview.get_by_role("img", name=PHOTO_ALT)).to_have_attribute("src", PHOTO_URL)


def test_the_platform_admin_finds_a_business_beyond_the_first_page_by_searching(
    page: Page, stack: Stack, platform_token: str
) -> None:
    tag = secrets.token_hex(3)
    name = f"Quillfeather Meadow {tag}"
    headers = {"Authorization": f"Bearer {platform_token}"}

    def create(http: httpx.Client, slug: str, business: str) -> None:
        email = f"owner@{slug}.example"
        body = {"slug": slug, "name": business, "commissionPercent": 10, "adminEmail": email}
        answer = http.post("/v1/admin/tenants", json=body, headers=headers)
        assert answer.status_code == 201, answer.text

    with httpx.Client(base_url=stack.url, timeout=10.0) as http:
        # The list is in slug order: a "zz-" slug comes after every business of a full first page, made
        # here when the stack does not have that many yet.
        listed = http.get("/v1/admin/tenants", params={"limit": 100}, headers=headers).json()
        for n in range(max(0, TENANTS_PAGE_SIZE - len(listed["items"]))):
            create(http, f"filler-{tag}-{n}", f"Filler {tag} {n}")
        create(http, f"zz-quill-{tag}", name)

    sign_in(page, stack, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD)
    page.goto(f"{stack.url}/admin/platform")
    businesses = page.get_by_role("table", name="Businesses")
    expect(businesses.get_by_role("row")).to_have_count(TENANTS_PAGE_SIZE + 1)  # the header's row, too
    expect(businesses.get_by_role("link", name=name)).to_have_count(0)

    searches: list[str] = []

    def asked(request: Request) -> None:
        if "/v1/admin/tenants?" in request.url and "q=" in request.url:
            searches.append(request.url)

    page.on("request", asked)
    typed = f"QUILLFEATHER meadow {tag}"
    page.get_by_label("Search by name, slug or admin email").press_sequentially(typed, delay=40)
    expect(businesses.get_by_role("link", name=name)).to_be_visible()
    expect(businesses.get_by_role("row")).to_have_count(2)
    expect(page.get_by_role("status").filter(has_text="1 business matches")).to_contain_text(typed)
    # The box waits for a pause in the typing: not one request per key, and the last asks for it all.
    assert 1 <= len(searches) < len(typed), searches
    assert parse_qs(urlsplit(searches[-1]).query)["q"] == [typed], searches
    check_admin_page(page, "admin-platform-tenant-search", "the tenants page searched")

    page.get_by_label("Search by name, slug or admin email").fill(f"no such business {tag}")
    nothing = f"No business matches “no such business {tag}”."
    expect(page.get_by_role("paragraph").filter(has_text=nothing)).to_be_visible()
    expect(businesses).to_have_count(0)  # the words instead of an empty table
