import psycopg
import pytest

from sql.build_logs import read_lines, store_lines


@pytest.mark.gen_test
async def test_lines_with_copy_special_characters_are_stored_exactly(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        owner = conn.execute("INSERT INTO users (github_id, username) VALUES (1, 'a') "
                             "RETURNING id").fetchone()[0]
        project = conn.execute("INSERT INTO projects (owner_id, name, repo_url) "
                               "VALUES (%s, 'p', 'r') RETURNING id", (owner,)).fetchone()[0]
        build = conn.execute("INSERT INTO builds (project_id, trigger, branch) "
                             "VALUES (%s, 'manual', 'main') RETURNING id",
                             (project,)).fetchone()[0]
    texts = ["C:\\path\\to\\file", "col1\tcol2", "\\N", "tab\\tliteral", "üñíçødé ✓", "",
             "quote \" and ' and \\\\"]
    rows = [(n, "run_stdout", text) for n, text in enumerate(texts, start=1)]
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await store_lines(conn, build, rows)
        stored = await read_lines(conn, build, 0, 100)
    assert [line["text"] for line in stored] == texts
