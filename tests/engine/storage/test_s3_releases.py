"""Releases in a real S3 endpoint (moto's server): uploaded once with the manifest last,
fetched whole or not at all, and a store that was tampered with cannot write outside the cache
or plant a link leading out of it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.storage.manifest import BadManifest
from engine.storage.s3_releases import S3Releases


@pytest.fixture
def store(s3_server) -> S3Releases:
    return S3Releases(f"s3://{s3_server.bucket()}/some/prefix", s3_server.url)


def _release(root: Path) -> Path:
    (root / "assets/img").mkdir(parents=True)
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "assets/app.js").write_bytes(os.urandom(300_000))
    (root / "assets/img/logo.svg").write_text("<svg/>")
    (root / "assets/img/empty.txt").write_text("")
    os.symlink("assets/img/logo.svg", root / "logo.svg")
    (root / "empty-dir").mkdir()
    return root


def _tree(root: Path) -> dict[str, object]:
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[relative] = ("link", os.readlink(path))
        elif path.is_dir():
            found[relative] = "dir"
        else:
            found[relative] = path.read_bytes()
    return found


def test_a_release_comes_back_exactly_as_it_was_uploaded(store, tmp_path):
    release = _release(tmp_path / "release")
    assert store.upload(7, 42, release) == sum(
        p.stat().st_size for p in release.rglob("*") if p.is_file() and not p.is_symlink())
    assert store.exists(7, 42) and store.build_ids(7) == [42]
    target = tmp_path / "cache/releases/42"
    target.parent.mkdir(parents=True)
    assert store.fetch(7, 42, target) is not None
    assert _tree(target) == _tree(release)
    assert sorted(p.name for p in target.parent.iterdir()) == ["42"]  # no staging left


def test_files_without_a_manifest_are_no_release(store, s3_server, tmp_path):
    store.upload(7, 42, _release(tmp_path / "release"))
    store.client.delete_object(Bucket=store.bucket, Key="some/prefix/7/42/manifest.json")
    target = tmp_path / "cache/42"
    assert not store.exists(7, 42)
    assert store.fetch(7, 42, target) is None
    assert not target.exists()


def test_deleting_a_release_or_a_project_leaves_nothing_stored(store, s3_server, tmp_path):
    for build in (1, 2, 3):
        store.upload(7, build, _release(tmp_path / f"r{build}"))
    store.upload(8, 4, _release(tmp_path / "r4"))
    store.delete(7, 2)
    assert sorted(store.build_ids(7)) == [1, 3] and not store.exists(7, 2)
    store.delete_project(7)
    assert store.build_ids(7) == []
    assert all(key.startswith("some/prefix/8/4/") for key in s3_server.keys(store.bucket))


def _tampered(store, entries: list, files: dict[str, bytes] | None = None) -> None:
    for path, data in (files or {}).items():
        store.client.put_object(Bucket=store.bucket, Key=f"some/prefix/7/9/files/{path}",
                                Body=data)
    store.client.put_object(Bucket=store.bucket, Key="some/prefix/7/9/manifest.json",
                            Body=json.dumps({"version": 1, "entries": entries}).encode())


@pytest.mark.parametrize("entries", [
    [["../escaped", "file", 1, ""]],
    [["/etc/escaped", "file", 1, ""]],
    [["a/../../escaped", "file", 1, ""]],
    [["out", "link", 0, "../../.."]],
    [["out", "link", 0, "/etc/passwd"]],
    [["dir", "link", 0, "."], ["dir/f", "file", 1, ""]],  # a file written through a link
    [["sub", "dir", 0, ""], ["sub/up", "link", 0, ".."], ["esc", "link", 0, "sub/up/.."]],
    [["x", "file", 1, ""], ["x", "file", 1, ""]],
], ids=["dotdot", "absolute", "inner-dotdot", "link-up", "link-absolute", "through-link",
        "link-chain", "twice"])
def test_a_tampered_manifest_writes_nothing_outside_and_nothing_is_served(
        store, tmp_path, entries):
    _tampered(store, entries, {"x": b"1", "escaped": b"1", "a/../../escaped": b"1"})
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(BadManifest):
        store.fetch(7, 9, cache / "9")
    assert list(cache.iterdir()) == []
    assert not (tmp_path / "escaped").exists()


def test_a_file_of_another_size_than_its_manifest_says_is_refused(store, tmp_path):
    _tampered(store, [["index.html", "file", 5, ""]], {"index.html": b"much longer than 5"})
    with pytest.raises(BadManifest):
        store.fetch(7, 9, tmp_path / "9")
    assert not (tmp_path / "9").exists()


def test_a_release_declaring_more_than_a_release_may_hold_is_refused_before_any_download(
        s3_server, tmp_path):
    store = S3Releases(f"s3://{s3_server.bucket()}/some/prefix", s3_server.url,
                       max_release_bytes=10_000)
    _tampered(store, [["a.bin", "file", 6_000, ""], ["b.bin", "file", 6_000, ""]],
              {"a.bin": b"a" * 6_000, "b.bin": b"b" * 6_000})
    with pytest.raises(BadManifest, match="declares 12000 bytes"):
        store.fetch(7, 9, tmp_path / "9")
    assert list(tmp_path.iterdir()) == []  # not even a staging directory


def test_a_large_file_longer_than_its_manifest_says_is_refused(store, tmp_path):
    declared = 9 * 1024 * 1024  # over the single-request size: the path large files take
    _tampered(store, [["video.mp4", "file", declared, ""]],
              {"video.mp4": os.urandom(1024) * (3 * declared // 1024)})
    with pytest.raises(BadManifest, match="not the size its manifest says"):
        store.fetch(7, 9, tmp_path / "9")
    assert list(tmp_path.iterdir()) == []

