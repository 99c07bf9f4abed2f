"""How long the build-history queries take for a project with 10,000 builds.

Run on demand: ./scripts/test tests/bench -s
SPEC.md: "a project with 10,000 builds still lists its latest 20 in milliseconds". Two shapes:
a busy project whose builds are spread through the table, and a quiet one whose 10,000 builds
all predate 50,000 builds of other projects (the case a primary-key scan would handle badly).
"""

import statistics
import time

import psycopg

from sql.database import connection_kwargs

BUILDS = 10_000
OTHER_BUILDS = 50_000
RUNS = 200

LATEST = "SELECT * FROM builds WHERE project_id = %s ORDER BY id DESC LIMIT 20"
PAGE = "SELECT * FROM builds WHERE project_id = %s AND id < %s ORDER BY id DESC LIMIT 20"


def _project(conn, owner, name):
    return conn.execute("INSERT INTO projects (owner_id, name, repo_url) VALUES (%s, %s, 'r') "
                        "RETURNING id", (owner, name)).fetchone()[0]


def _copy_builds(conn, project_ids):
    with conn.cursor().copy("COPY builds (project_id, trigger, branch, status) FROM STDIN") as copy:
        for project in project_ids:
            copy.write_row((project, "push", "main", "passed"))


def _time(conn, query, params):
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        rows = conn.execute(query, params).fetchall()
        samples.append((time.perf_counter() - start) * 1000)
    assert len(rows) == 20
    return statistics.median(samples), max(samples)


def _report(conn, label, project):
    count = conn.execute("SELECT count(*) FROM builds WHERE project_id = %s",
                         (project,)).fetchone()[0]
    middle = conn.execute("SELECT id FROM builds WHERE project_id = %s ORDER BY id "
                          "OFFSET %s LIMIT 1", (project, count // 2)).fetchone()[0]
    plan = conn.execute("EXPLAIN " + LATEST, (project,)).fetchall()[1][0].strip()
    latest = _time(conn, LATEST, (project,))
    page = _time(conn, PAGE, (project, middle))
    print(f"{label} ({count} builds): latest 20 median {latest[0]:.3f} ms (max {latest[1]:.2f}); "
          f"20 before the middle median {page[0]:.3f} ms (max {page[1]:.2f})\n    plan: {plan}")


def test_latest_builds_of_a_project_with_10000_builds(db_url):
    with psycopg.connect(db_url, **connection_kwargs(db_url)) as conn:
        owner = conn.execute("INSERT INTO users (github_id, username) VALUES (1, 'bench') "
                             "RETURNING id").fetchone()[0]
        quiet, busy = _project(conn, owner, "quiet"), _project(conn, owner, "busy")
        others = [_project(conn, owner, f"other{i}") for i in range(5)]
        _copy_builds(conn, [quiet] * BUILDS)
        _copy_builds(conn, [busy if i % 6 == 0 else others[i % 5]
                            for i in range(BUILDS * 6)])
        _copy_builds(conn, [others[i % 5] for i in range(OTHER_BUILDS)])
        conn.execute("ANALYZE builds")
        total = conn.execute("SELECT count(*) FROM builds").fetchone()[0]
        print(f"\n{total} builds in the table")
        _report(conn, "busy project", busy)
        _report(conn, "quiet project", quiet)
