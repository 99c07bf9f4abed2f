"""The projects list in Chromium when there are more projects than one page of the API."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.browser import sign_in_local_admin


@pytest.mark.gen_test(timeout=60)
async def test_older_projects_are_shown_on_asking_and_the_list_ends_there(
    slipway_factory, page, page_errors, screenshot
):
    app = await slipway_factory()
    session = await sign_in_local_admin(page, app)
    async with app.running.app.db.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO projects (owner_id, name, repo_url) SELECT %s, 'site-' || n, "
            "'https://example.com/r.git' FROM generate_series(1, 60) n",
            (session["user"]["id"],))
    await page.reload()
    cards = page.get_by_test_id("project-card")
    await expect(cards).to_have_count(50)  # newest first: site-60 … site-11
    await expect(page.locator('[data-project="site-1"]')).to_have_count(0)

    await page.get_by_role("button", name="Show older projects").click()
    await expect(cards).to_have_count(60)
    await expect(page.locator('[data-project="site-1"]')).to_be_visible()
    await expect(page.get_by_role("button", name="Show older projects")).to_have_count(0)
    await screenshot(page, "all-projects")
    page_errors.assert_none()
