import asyncio

import psycopg
import pytest
from tornado.testing import gen_test  # noqa: F401 - the marker below is pytest-tornado's

from sql.migrate import Migration, MigrationError, apply_migrations, load_migrations

CORE_TABLES = {"users", "projects", "builds", "build_logs", "deployments", "secrets"}


@pytest.fixture
def empty_db_url(postgres):
    url = postgres.new_database(template=False)
    yield url
    postgres.drop_database(url)


async def _connect(url):
    return await psycopg.AsyncConnection.connect(url)


async def _tables(url):
    async with await _connect(url) as conn:
        cursor = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        return {name for (name,) in await cursor.fetchall()}


@pytest.mark.gen_test
async def test_migrations_create_the_core_tables_and_a_second_run_changes_nothing(empty_db_url):
    files = load_migrations()
    async with await _connect(empty_db_url) as conn:
        assert await apply_migrations(conn) == [m.version for m in files]
    async with await _connect(empty_db_url) as conn:
        assert await apply_migrations(conn) == []
        cursor = await conn.execute("SELECT version, checksum FROM schema_migrations")
        assert dict(await cursor.fetchall()) == {m.version: m.checksum for m in files}
    assert CORE_TABLES | {"schema_migrations"} <= await _tables(empty_db_url)


@pytest.mark.gen_test
async def test_two_processes_starting_at_once_apply_each_migration_once(empty_db_url):
    first, second = await _connect(empty_db_url), await _connect(empty_db_url)
    async with first, second:
        results = await asyncio.gather(apply_migrations(first), apply_migrations(second))
    versions = [m.version for m in load_migrations()]
    assert sorted(results, key=len) == [[], versions]


@pytest.mark.gen_test
async def test_a_failing_migration_leaves_the_schema_untouched(empty_db_url):
    broken = [
        Migration(1, "good", "CREATE TABLE good (id int);"),
        Migration(2, "bad", "CREATE TABLE bad (id int); SELECT no_such_function();"),
    ]
    async with await _connect(empty_db_url) as conn:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            await apply_migrations(conn, broken)
    assert "good" not in await _tables(empty_db_url)
    assert "bad" not in await _tables(empty_db_url)


@pytest.mark.gen_test
async def test_editing_an_applied_migration_stops_start_up(empty_db_url):
    async with await _connect(empty_db_url) as conn:
        await apply_migrations(conn, [Migration(1, "first", "CREATE TABLE t (id int);")])
        with pytest.raises(MigrationError, match="0001_first.sql changed after it was applied"):
            await apply_migrations(conn, [Migration(1, "first", "CREATE TABLE t (id bigint);")])


def test_misnamed_or_duplicate_files_are_refused(tmp_path):
    (tmp_path / "0001_one.sql").write_text("SELECT 1;")
    (tmp_path / "2_two.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="2_two.sql: migration files are named like"):
        load_migrations(tmp_path)
    (tmp_path / "2_two.sql").unlink()
    (tmp_path / "0001_again.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="version 1 is used twice"):
        load_migrations(tmp_path)
