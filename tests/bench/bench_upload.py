"""Upload deploys: a 300 MB site sent with `slipway deploy`, and what it costs the server.

Run on demand: ./scripts/test tests/bench/bench_upload.py -s
The CLI runs in its own process, as in CI; the server is this process, so its resident memory
is sampled every 50 ms while the archive streams in, unpacks and goes live. Reports the
upload's wall time (pack, send, unpack, publish) and the server's memory growth, which must
stay far below the archive's size: the body goes to disk, never to memory.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil

from tests.support.accounts import sign_in_local_admin
from tests.support.app import close_app, open_app
from tests.support.http import ApiClient
from tests.support.repos import make_repo

FILES = 300
FILE_BYTES = 1024 * 1024  # random: gzip cannot shrink them, so 300 MB go over the wire


def test_upload_of_a_300_mb_site(config, io_loop, tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<h1>big</h1>")
    for n in range(FILES):
        (dist / f"asset-{n:03}.bin").write_bytes(os.urandom(FILE_BYTES))
    repo = make_repo(tmp_path / "repo", {"index.html": "x"})
    server = psutil.Process()

    async def run() -> tuple[float, int, int]:
        running = await open_app(replace(config, max_upload=2 * 1024**3))
        api = ApiClient(running.url)
        try:
            owner = await sign_in_local_admin(running, api)
            await api.post("/api/projects", headers=owner.headers,
                           json_body={"name": "big", "repo_url": str(repo)})
            before = peak = server.memory_info().rss
            started = time.perf_counter()
            cli = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "slipway_cli", "deploy", str(dist), "-p", "big",
                env={**os.environ, "SLIPWAY_URL": running.url, "SLIPWAY_TOKEN": owner.token},
                cwd=Path(__file__).resolve().parents[2], stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            waiting = asyncio.ensure_future(cli.communicate())
            while not waiting.done():
                peak = max(peak, server.memory_info().rss)
                await asyncio.sleep(0.05)
            out, err = await waiting
            assert cli.returncode == 0, err.decode()
            return time.perf_counter() - started, before, peak
        finally:
            api.close()
            await close_app(running)

    elapsed, before, peak = io_loop.run_sync(run, timeout=600)
    size = FILES * FILE_BYTES / 2**20
    print(f"\n{FILES} files, {size:.0f} MB: `slipway deploy` (pack, upload, unpack, publish) "
          f"took {elapsed:.1f} s ({size / elapsed:.0f} MB/s); server memory "
          f"{before / 2**20:.0f} MB before, peak {peak / 2**20:.0f} MB "
          f"(+{(peak - before) / 2**20:.0f} MB)")
