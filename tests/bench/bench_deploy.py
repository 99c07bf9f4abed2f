"""Publishing and going live with a large site: 10,000 files, 100 MB.

Run on demand: ./scripts/test tests/bench/bench_deploy.py -s
Goal (issue 6): go-live of a 10,000-file, 100 MB output after the build exits < 2 s. Measured
here: publishing the first release (everything copied), publishing the next one with one file
changed (the rest hard-linked), and the swap of `current`.
"""

from __future__ import annotations

import os
import time

from engine.deploys.releases import go_live, precompress, publish_release

FILES = 10_000
TOTAL_BYTES = 100 * 1024 * 1024


def _make_output(root) -> None:
    size = TOTAL_BYTES // FILES
    for i in range(FILES):
        directory = root / f"assets/{i % 100:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"file-{i}.js").write_bytes(os.urandom(size // 2).hex().encode())
    (root / "index.html").write_text("<h1>v1</h1>")


def _replace(path, text: str) -> None:
    """A new file, not a write into the old one: published releases may share its inode."""
    path.unlink()
    path.write_text(text)


def _timed(work, *args):
    started = time.perf_counter()
    result = work(*args)
    return result, (time.perf_counter() - started) * 1000


def test_go_live_of_a_large_site(tmp_path):
    output = tmp_path / "output"
    _make_output(output)
    sites = tmp_path / "deployments"
    sites.mkdir()

    _, first_publish = _timed(publish_release, sites, "big", 1, output)
    _, first_swap = _timed(go_live, sites, "big", 1)
    _replace(output / "index.html", "<h1>v2</h1>")
    _, second_publish = _timed(publish_release, sites, "big", 2, output)
    _, second_swap = _timed(go_live, sites, "big", 2)
    compressed, compress_ms = _timed(precompress, sites / "big" / "releases" / "2")

    print(f"\n{FILES} files, {TOTAL_BYTES // 2**20} MB")
    print(f"first release:  publish {first_publish:.0f} ms + swap {first_swap:.2f} ms "
          f"= go-live {first_publish + first_swap:.0f} ms")
    print(f"next release (1 file changed, the rest hard-linked): publish "
          f"{second_publish:.0f} ms + swap {second_swap:.2f} ms "
          f"= go-live {second_publish + second_swap:.0f} ms")
    print(f"background precompression after going live: {compressed} files in "
          f"{compress_ms / 1000:.1f} s")


def test_rollback_of_a_large_site(config, io_loop, tmp_path):
    """From the rollback request to the old release being served, through the real API and
    site server (releases and records prepared directly: building 10k files is not the
    point here)."""
    from engine.deploys.releases import go_live, publish_release
    from tests.support.accounts import sign_in_local_admin
    from tests.support.app import close_app, open_app
    from tests.support.http import ApiClient
    from tests.support.repos import make_repo

    output = tmp_path / "output"
    _make_output(output)
    repo = make_repo(tmp_path / "repo", {"index.html": "<h1>v1</h1>"})

    async def run() -> list[float]:
        running = await open_app(config)
        api = ApiClient(running.url)
        timings = []
        try:
            owner = await sign_in_local_admin(running, api)
            project = (await api.post("/api/projects", headers=owner.headers, json_body={
                "name": "big", "repo_url": str(repo)})).json()
            sites = running.app.config.deployments_dir
            deployment_ids = []
            async with running.app.db.pool.connection() as conn:
                for version in (1, 2):
                    _replace(output / "index.html", f"<h1>v{version}</h1>")
                    cursor = await conn.execute(
                        "INSERT INTO builds (project_id, trigger, branch, status) "
                        "VALUES (%s, 'manual', 'main', 'passed') RETURNING id", (project["id"],))
                    build_id = (await cursor.fetchone())[0]
                    publish_release(sites, "big", build_id, output)
                    await conn.execute("UPDATE deployments SET status = 'superseded' "
                                       "WHERE project_id = %s", (project["id"],))
                    cursor = await conn.execute(
                        "INSERT INTO deployments (project_id, build_id, status, url) "
                        "VALUES (%s, %s, 'live', 'u') RETURNING id", (project["id"], build_id))
                    deployment_ids.append((await cursor.fetchone())[0])
                    go_live(sites, "big", build_id)
            host = {"Host": f"big.localhost:{running.port}"}
            for target, expected in [(0, b"<h1>v1</h1>"), (1, b"<h1>v2</h1>")] * 5:
                started = time.perf_counter()
                await api.post(f"/api/deployments/{deployment_ids[target]}/rollback",
                               headers=owner.headers)
                while (await api.get("/", headers=host)).body != expected:
                    assert time.perf_counter() - started < 10, "the rollback never showed"
                timings.append((time.perf_counter() - started) * 1000)
        finally:
            api.close()
            await close_app(running)
        return timings

    timings = io_loop.run_sync(run, timeout=300)
    print(f"\nrollback of a {FILES}-file site, request to the other release being served: "
          f"median {sorted(timings)[len(timings) // 2]:.1f} ms, max {max(timings):.1f} ms "
          f"({len(timings)} rollbacks)")
