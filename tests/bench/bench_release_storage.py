"""Release storage in S3: what a deploy adds (the upload) and what a web process's first
request after a deploy waits for (the fetch), for a typical static site.

Run on demand: ./scripts/test tests/bench/bench_release_storage.py -s
The store is moto's S3 server on loopback (the tests' endpoint), so the figures are this
machine's CPU cost of the transfer (8 threads, boto3), not a network's: against a real S3 add
the round trips. The site: 1,000 files of 1-40 KB (HTML, scripts, images), about 20 MB.
Prints each phase's median of ROUNDS rounds.
"""

from __future__ import annotations

import os
import random
import statistics
import time

from engine.storage.s3_releases import S3Releases

FILES = 1_000
ROUNDS = 3


def _site(root):
    rng = random.Random(7)
    total = 0
    for n in range(FILES):
        path = root / f"dir{n % 20}" / f"file{n}.{('html', 'js', 'png')[n % 3]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(rng.randint(1024, 40 * 1024))
        path.write_bytes(data)
        total += len(data)
    return total


def test_upload_and_fetch_of_a_1000_file_release(s3_server, tmp_path):
    store = S3Releases(f"s3://{s3_server.bucket()}/bench", s3_server.url)
    release = tmp_path / "release"
    size = _site(release)
    uploads, fetches = [], []
    for round_ in range(ROUNDS):
        started = time.perf_counter()
        store.upload(1, round_, release)
        uploads.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert store.fetch(1, round_, tmp_path / f"fetched-{round_}") == size
        fetches.append(time.perf_counter() - started)
    print(f"\nrelease of {FILES} files, {size / 1024**2:.1f} MB, moto's S3 on loopback: "
          f"upload {statistics.median(uploads):.2f} s, fetch {statistics.median(fetches):.2f} s "
          f"(medians of {ROUNDS}; uploads {[round(u, 2) for u in uploads]}, "
          f"fetches {[round(f, 2) for f in fetches]})")
