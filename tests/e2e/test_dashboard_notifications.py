"""The Notifications tab in Chromium, against the real Slipway and a receiver of the test's
own on 127.0.0.1: a JSON notification is added (its secret shown once), a test message is
sent and arrives signed with that secret, its delivery shows in the log, and it is removed.

Screenshots are saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from playwright.async_api import expect

from tests.support.browser import sign_in_local_admin
from tests.support.receiver import Receiver
from tests.support.repos import make_repo


@pytest.mark.gen_test(timeout=90)
async def test_a_notification_is_added_tested_and_removed(slipway_factory, page, page_errors,
                                                          screenshot, tmp_path):
    app = await slipway_factory()
    session = await sign_in_local_admin(page, app)
    headers = {"Authorization": f"Bearer {session['token']}"}
    repo = make_repo(tmp_path / "blog", {"index.html": "<p>blog</p>"})
    project = (await app.api.post("/api/projects", headers=headers, json_body={
        "name": "blog", "repo_url": str(repo)})).json()
    receiver = Receiver()
    try:
        await page.goto(f"{app.url}/projects/{project['id']}")
        await page.get_by_role("link", name="Notifications", exact=True).click()
        await expect(page.get_by_text("No notifications yet")).to_be_visible()

        # The form checks what the server would refuse before asking it.
        await page.get_by_label("URL", exact=True).fill("ftp://example.com/hook")
        await page.get_by_role("button", name="Add notification").click()
        await expect(page.get_by_role("alert")).to_contain_text("must start with https://")

        await page.get_by_label("URL", exact=True).fill(receiver.url)
        await page.get_by_label("Build started").check()
        await page.get_by_role("button", name="Add notification").click()
        shown = page.get_by_test_id("notification-secret")
        await expect(shown).to_contain_text("shown only once")
        secret = await shown.locator("code.hook-url").inner_text()
        assert secret.startswith("whsec_")
        row = page.get_by_test_id("notification-row")
        await expect(row).to_contain_text("Deploy succeeded, Deploy failed, Build started")
        await expect(row.get_by_text("Nothing sent yet.")).to_be_visible()

        await row.get_by_role("button", name="Send test").click()
        [request] = await receiver.received(1)
        expected = "sha256=" + hmac.new(secret.encode(), request.body,
                                        hashlib.sha256).hexdigest()
        assert request.headers["X-Slipway-Signature-256"] == expected
        delivery = row.get_by_test_id("notification-delivery")
        await expect(delivery).to_contain_text("Delivered")
        await expect(delivery).to_contain_text("HTTP 200 · 1 attempt")
        await screenshot(page, "notification-delivered")

        await row.get_by_role("button", name="Remove").click()
        await page.get_by_role("dialog").get_by_role("button", name="Remove").click()
        await expect(page.get_by_text("No notifications yet")).to_be_visible()
        listed = await app.api.get(f"/api/projects/{project['id']}/notifications",
                                   headers=headers)
        assert listed.json() == []
    finally:
        await receiver.close()
    page_errors.assert_none()
