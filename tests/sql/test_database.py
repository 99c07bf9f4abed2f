import asyncio

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from sql.database import Database, DatabaseUnavailable, redact_database_url


@pytest.mark.gen_test
async def test_pool_connections_use_ssd_planner_costs_and_keep_url_options(db_url, tmp_path):
    url = make_conninfo(db_url, options="-c application_name=from-url")
    db = await Database.open(url, tmp_path)
    try:
        async with db.pool.connection() as conn:
            cursor = await conn.execute("SELECT current_setting('random_page_cost'), "
                                        "current_setting('application_name')")
            assert await cursor.fetchone() == ("1.1", "from-url")
    finally:
        await db.close()


@pytest.mark.gen_test
async def test_a_connection_the_server_ended_is_replaced_before_a_query_uses_it(db_url,
                                                                               tmp_path):
    db = await Database.open(db_url, tmp_path, max_size=1)
    try:
        async with db.pool.connection() as conn:
            ended = conn.info.backend_pid
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (ended,))
            while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                (ended,)).fetchone():
                await asyncio.sleep(0.01)
        async with db.pool.connection() as conn:
            cursor = await conn.execute("SELECT pg_backend_pid()")
            assert (await cursor.fetchone())[0] != ended
    finally:
        await db.close()


@pytest.mark.gen_test
async def test_unreachable_database_url_is_one_clear_line_without_the_password(tmp_path):
    with pytest.raises(DatabaseUnavailable) as error:
        await Database.open("postgresql://slipway:hunter2@127.0.0.1:1/slipway", tmp_path)
    message = str(error.value)
    assert message.startswith("cannot connect to postgresql://slipway:***@127.0.0.1:1/slipway: ")
    assert "hunter2" not in message
    assert "\n" not in message


def test_redacted_urls_keep_everything_but_the_password():
    assert redact_database_url("postgresql://u:p@h:5/d?sslmode=require") == (
        "postgresql://u:***@h:5/d?sslmode=require")
    assert redact_database_url("postgresql://u@h/d") == "postgresql://u@h/d"
    assert redact_database_url("host=h password=p dbname=d") == "the configured database"
