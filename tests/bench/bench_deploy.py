"""Publishing and going live with a large site: 10,000 files, 100 MB.

Run on demand: ./scripts/test tests/bench/bench_deploy.py -s
Goal (issue 6): go-live of a 10,000-file, 100 MB output after the build exits < 2 s. Measured
here: publishing the first release (everything copied), publishing the next one with one file
changed (the rest hard-linked), and the swap of `current`.
"""

from __future__ import annotations

import os
import time

from engine.releases import go_live, precompress, publish_release

FILES = 10_000
TOTAL_BYTES = 100 * 1024 * 1024


def _make_output(root) -> None:
    size = TOTAL_BYTES // FILES
    for i in range(FILES):
        directory = root / f"assets/{i % 100:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"file-{i}.js").write_bytes(os.urandom(size // 2).hex().encode())
    (root / "index.html").write_text("<h1>v1</h1>")


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
    (output / "index.html").write_text("<h1>v2</h1>")
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
