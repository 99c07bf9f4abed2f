"""The Domains tab in Chromium, against the real Slipway with HTTPS off and a real DNS server
(pebble-challtestsrv as SLIPWAY_DNS_RESOLVER): a domain is added pending with the records to
create, turns active once its TXT record exists and "Check now" is clicked, and is removed.

Screenshots are saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.support import pebble as pebble_support
from tests.support.browser import create_project, sign_in_local_admin
from tests.support.repos import make_repo


@pytest.fixture
def dns(tmp_path):
    """pebble-challtestsrv's DNS server, where a test creates the TXT records it needs."""
    with pebble_support.running(tmp_path / "pebble",
                                http_port=pebble_support.free_port()) as pebble:
        yield pebble


@pytest.mark.gen_test(timeout=90)
async def test_a_domain_is_added_pending_with_its_records_checked_into_active_and_removed(
    slipway_factory, dns, page, page_errors, screenshot, tmp_path
):
    host, port = dns.dns_address.rsplit(":", 1)
    app = await slipway_factory(dns_resolver=(host, int(port)))
    session = await sign_in_local_admin(page, app)
    repo = make_repo(tmp_path / "blog", {"index.html": "<p>blog</p>"})
    project = await create_project(app, session, "blog", repo)

    await page.goto(f"{app.url}/projects/{project['id']}")
    await page.get_by_role("link", name="Domains", exact=True).click()
    assert page.url.endswith(f"/projects/{project['id']}/domains")
    await expect(page.get_by_text("No custom domains yet")).to_be_visible()
    await expect(page.get_by_text("HTTPS certificates are issued and renewed automatically.")
                 ).to_be_visible()

    # What is typed is trimmed and lowercased; the domain is listed pending, with its records.
    await page.get_by_label("Domain", exact=True).fill("  WWW.Example.TEST ")
    await page.get_by_role("button", name="Add", exact=True).click()
    row = page.locator('[data-testid="domain-row"][data-hostname="www.example.test"]')
    await expect(row.get_by_test_id("domain-status")).to_have_text("Pending")
    await expect(row.get_by_role("heading", name="www.example.test")).to_be_visible()
    records = row.get_by_test_id("dns-record")
    await expect(records).to_have_count(2)
    txt, cname = records.nth(0).get_by_role("cell"), records.nth(1).get_by_role("cell")
    await expect(txt.nth(0)).to_have_text("TXT")
    await expect(txt.nth(1)).to_have_text("_slipway.www.example.test")
    await expect(txt.nth(2)).to_have_text(re.compile(r"^slipway-verify=\S+$"))
    await expect(cname.nth(0)).to_have_text("CNAME")
    await expect(cname.nth(1)).to_have_text("www.example.test")
    await expect(cname.nth(2)).to_have_text(f"blog.{app.running.app.config.domain}")
    await expect(row.get_by_text("no TXT record at _slipway.www.example.test")).to_be_visible()
    assert await page.get_by_label("Domain", exact=True).input_value() == ""
    await screenshot(page, "domain-pending")

    # The server's refusal is shown next to the form.
    await page.get_by_label("Domain", exact=True).fill("www.example.test")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text(
        "www.example.test is already one of this project's domains")

    # Once the TXT record exists, "Check now" finds it: with HTTPS off the domain is served.
    dns.add_txt("_slipway.www.example.test", await txt.nth(2).inner_text())
    await row.get_by_role("button", name="Check now").click()
    await expect(row.get_by_test_id("domain-status")).to_have_text("Active")
    await expect(row.get_by_role("status").filter(has_text="Active: served at")).to_be_visible()
    link = row.get_by_role("link", name="www.example.test")
    await expect(link).to_have_attribute("href", re.compile(r"^https?://www\.example\.test"))
    await screenshot(page, "domain-active")

    # Removing asks first.
    await row.get_by_role("button", name="Remove").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Remove www.example.test?")
    await dialog.get_by_role("button", name="Remove").click()
    await expect(page.get_by_text("No custom domains yet")).to_be_visible()
    listed = await app.api.get(f"/api/projects/{project['id']}/domains",
                               headers={"Authorization": f"Bearer {session['token']}"})
    assert listed.json() == []
    page_errors.assert_none(ignore=["409"])
