"""The notification queue's view of what is due, which sets how long the worker sleeps."""

import psycopg
import pytest

from sql.notifications import seconds_until_due


def _delivery_due_in(db_url: str, seconds: float) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        owner = conn.execute("INSERT INTO users (github_id, username) VALUES (1, 'a') "
                             "RETURNING id").fetchone()[0]
        project = conn.execute("INSERT INTO projects (owner_id, name, repo_url) "
                               "VALUES (%s, 'p', 'r') RETURNING id", (owner,)).fetchone()[0]
        notification = conn.execute(
            "INSERT INTO notifications (project_id, url, events, format) "
            "VALUES (%s, 'http://example.com/hook', '{build_started}', 'json') RETURNING id",
            (project,)).fetchone()[0]
        conn.execute("INSERT INTO notification_deliveries (notification_id, event, body, "
                     "next_attempt_at) VALUES (%s, 'test', '', now() + %s * interval '1 s')",
                     (notification, seconds))


async def _due(db_url: str) -> float | None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        return await seconds_until_due(conn)


@pytest.mark.gen_test
async def test_nothing_is_due_when_no_delivery_waits(db_url):
    # Not 0: the worker would look again at once, forever, using the loop and the database.
    assert await _due(db_url) is None


@pytest.mark.gen_test
async def test_a_retry_later_is_due_in_its_seconds(db_url):
    _delivery_due_in(db_url, 300)
    assert 290 < await _due(db_url) <= 300


@pytest.mark.gen_test
async def test_an_overdue_delivery_is_due_now(db_url):
    _delivery_due_in(db_url, -60)
    assert await _due(db_url) == 0
