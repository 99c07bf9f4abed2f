"""Heartbeats: a process that stopped beating has its builds failed; nobody is judged by a
process that was itself cut off from the database."""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from engine.builds import liveness
from engine.builds.liveness import Liveness


def _running_build(db_url: str, runner: str, beat_seconds_ago: int) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        owner = conn.execute("INSERT INTO users (github_id, username) VALUES (1, 'a') "
                             "ON CONFLICT DO NOTHING RETURNING id").fetchone()
        owner = owner[0] if owner else conn.execute("SELECT id FROM users").fetchone()[0]
        project = conn.execute("INSERT INTO projects (owner_id, name, repo_url) VALUES "
                               "(%s, %s, 'r') RETURNING id", (owner, f"p-{runner}")).fetchone()[0]
        conn.execute("INSERT INTO instances (id, hostname, roles, concurrency, heartbeat_at) "
                     "VALUES (%s, 'box-' || %s, 'worker', 1, now() - make_interval(secs => %s))",
                     (runner, runner, beat_seconds_ago))
        return conn.execute("INSERT INTO builds (project_id, trigger, branch, status, runner) "
                            "VALUES (%s, 'manual', 'main', 'running', %s) RETURNING id",
                            (project, runner)).fetchone()[0]


def _status(db_url: str, build_id: int) -> tuple[str, str | None]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT status, error FROM builds WHERE id = %s",
                            (build_id,)).fetchone()


@pytest.mark.gen_test
async def test_a_silent_process_has_its_builds_failed_and_a_beating_one_keeps_them(db_url):
    dead = _running_build(db_url, "dead", beat_seconds_ago=120)
    alive = _running_build(db_url, "alive", beat_seconds_ago=1)
    announced = []

    async def announce(build):
        announced.append(build["id"])

    async def nothing():
        return None

    async with AsyncConnectionPool(db_url, open=False, kwargs={"autocommit": True}) as pool:
        me = Liveness(pool, "me", roles="worker", concurrency=1, announce=announce,
                      after_beat=nothing)
        await me.register()
        await me.beat_once()  # just (re)connected: judges nobody yet
        assert _status(db_url, dead) == ("running", None)

        me._healthy_since -= liveness.ABANDONED_AFTER_SECONDS  # beating for a timeout since
        await me.beat_once()
    assert _status(db_url, dead) == (
        "failed", "interrupted: the worker running it stopped responding (box-dead)")
    assert _status(db_url, alive) == ("running", None)
    assert announced == [dead]
