"""The schema's own guarantees: cascades, ownership integrity and uniqueness, enforced by
PostgreSQL even if application code got them wrong."""

import psycopg
import pytest

NONCE = b"\0" * 12


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def _user(conn, github_id):
    return conn.execute(
        "INSERT INTO users (github_id, username) VALUES (%s, %s) RETURNING id",
        (github_id, f"user{github_id}"),
    ).fetchone()[0]


def _project(conn, owner, name):
    return conn.execute(
        "INSERT INTO projects (owner_id, name, repo_url) VALUES (%s, %s, 'https://x/r.git') "
        "RETURNING id", (owner, name),
    ).fetchone()[0]


def _build(conn, project):
    return conn.execute(
        "INSERT INTO builds (project_id, trigger, branch) VALUES (%s, 'manual', 'main') "
        "RETURNING id", (project,),
    ).fetchone()[0]


def _count(conn, table):
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def test_deleting_a_user_removes_everything_they_own(conn):
    owner, other = _user(conn, 1), _user(conn, 2)
    project = _project(conn, owner, "site")
    _project(conn, other, "kept")
    build = _build(conn, project)
    conn.execute("INSERT INTO build_logs (build_id, line_number, stream, text) "
                 "VALUES (%s, 1, 'run_stdout', 'hi')", (build,))
    conn.execute("INSERT INTO deployments (project_id, build_id, status, url) "
                 "VALUES (%s, %s, 'live', 'http://site.localhost')", (project, build))
    conn.execute("INSERT INTO secrets (project_id, name, ciphertext, nonce) "
                 "VALUES (%s, 'API_KEY', 'x', %s)", (project, NONCE))

    conn.execute("DELETE FROM users WHERE id = %s", (owner,))

    assert [_count(conn, t) for t in ("builds", "build_logs", "deployments", "secrets")] == [0] * 4
    assert conn.execute("SELECT name FROM projects").fetchall() == [("kept",)]


def test_a_deployment_cannot_point_at_another_projects_build(conn):
    owner = _user(conn, 1)
    mine, theirs = _project(conn, owner, "mine"), _project(conn, owner, "theirs")
    build = _build(conn, theirs)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("INSERT INTO deployments (project_id, build_id, status, url) "
                     "VALUES (%s, %s, 'live', 'u')", (mine, build))


def test_a_project_has_at_most_one_live_deployment(conn):
    project = _project(conn, _user(conn, 1), "site")
    first, second = _build(conn, project), _build(conn, project)
    conn.execute("INSERT INTO deployments (project_id, build_id, status, url) "
                 "VALUES (%s, %s, 'live', 'u')", (project, first))
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO deployments (project_id, build_id, status, url) "
                     "VALUES (%s, %s, 'live', 'u')", (project, second))


@pytest.mark.parametrize("name", ["Site", "a--b", "-a", "a-", "", "a" * 64, "ümlaut", "a.b"])
def test_project_names_must_be_dns_labels(conn, name):
    owner = _user(conn, 1)
    with pytest.raises(psycopg.errors.CheckViolation):
        _project(conn, owner, name)


def test_project_names_are_unique_across_users(conn):
    _project(conn, _user(conn, 1), "site")
    with pytest.raises(psycopg.errors.UniqueViolation):
        _project(conn, _user(conn, 2), "site")


def test_log_lines_are_unique_per_build_and_number(conn):
    build = _build(conn, _project(conn, _user(conn, 1), "site"))
    conn.execute("INSERT INTO build_logs (build_id, line_number, stream, text) "
                 "VALUES (%s, 1, 'run_stdout', 'a')", (build,))
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO build_logs (build_id, line_number, stream, text) "
                     "VALUES (%s, 1, 'run_stderr', 'b')", (build,))


def test_secret_names_are_unique_per_project_and_nonces_are_96_bits(conn):
    project = _project(conn, _user(conn, 1), "site")
    conn.execute("INSERT INTO secrets (project_id, name, ciphertext, nonce) "
                 "VALUES (%s, 'TOKEN', 'x', %s)", (project, NONCE))
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO secrets (project_id, name, ciphertext, nonce) "
                     "VALUES (%s, 'TOKEN', 'y', %s)", (project, NONCE))
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO secrets (project_id, name, ciphertext, nonce) "
                     "VALUES (%s, 'OTHER', 'y', %s)", (project, b"short"))


def test_build_status_and_trigger_are_constrained(conn):
    project = _project(conn, _user(conn, 1), "site")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO builds (project_id, trigger, branch, status) "
                     "VALUES (%s, 'manual', 'main', 'done')", (project,))
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO builds (project_id, trigger, branch) "
                     "VALUES (%s, 'cron', 'main')", (project,))
