"""Account → API tokens in Chromium: a token created in the dashboard is shown once (copied
with its button), works against the API from Python within its scopes, and stops working as
soon as it is revoked in the dashboard.

Screenshots are saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.support.browser import PageErrors, sign_in_local_admin
from tests.support.leaks import forbid


@pytest.mark.gen_test(timeout=90)
async def test_a_token_is_created_shown_once_used_from_python_and_revoked(
    slipway_factory, new_page, screenshot
):
    app = await slipway_factory()
    page = await new_page(permissions=["clipboard-read", "clipboard-write"])
    errors = PageErrors.watch(page)
    await sign_in_local_admin(page, app)

    await page.get_by_role("button", name=re.compile("admin")).click()
    await page.get_by_role("menuitem", name="API tokens").click()
    assert page.url.endswith("/account/tokens")
    await expect(page.get_by_text("No tokens yet")).to_be_visible()

    # The form starts with a deploy token that expires in 90 days.
    await expect(page.get_by_role("checkbox", name=re.compile("^Deploy"))).to_be_checked()
    await expect(page.get_by_role("checkbox", name=re.compile("^Admin"))).not_to_be_checked()
    await expect(page.get_by_label("Expires")).to_have_value("90")
    await page.get_by_role("button", name="Create token").click()
    await expect(page.get_by_role("alert")).to_contain_text("Give the token a name")

    await page.get_by_label("Name").fill("GitHub Actions")
    await page.get_by_role("button", name="Create token").click()
    shown = page.get_by_test_id("new-token")
    await expect(shown).to_contain_text("you won't see it again")
    token = await shown.get_by_test_id("new-token-value").inner_text()
    assert re.fullmatch(r"slw_[A-Za-z0-9_-]{43,}", token)
    await shown.get_by_role("button", name="Copy the new token").click()
    assert await page.evaluate("navigator.clipboard.readText()") == token
    row = page.locator('[data-testid="token-row"][data-token-name="GitHub Actions"]')
    await expect(row).to_contain_text("deploy")
    await expect(row).to_contain_text(token[:12])
    await expect(row.get_by_test_id("token-last-used")).to_have_text("Never")
    await screenshot(page, "token-created")
    forbid(token)  # no API answer after its creation may contain it

    # Once the page is left, the value is gone for good: the list never has it.
    await page.reload()
    await expect(row).to_be_visible()
    assert token not in await page.content()

    # From Python, as a CI job would: it reads and deploys, but cannot manage tokens.
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await app.api.get("/api/projects", headers=bearer)).status == 200
    refused = await app.api.post("/api/tokens", headers=bearer,
                                 json_body={"name": "more", "scopes": ["admin"]})
    assert refused.status == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    await page.reload()
    await expect(row.get_by_test_id("token-last-used")).to_have_text("just now")

    # Revoking asks first, then the token is refused at once.
    await row.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Revoke GitHub Actions?")
    await dialog.get_by_role("button", name="Revoke").click()
    await expect(page.get_by_text("No tokens yet")).to_be_visible()
    gone = await app.api.get("/api/projects", headers=bearer)
    assert gone.status == 401
    errors.assert_none()
