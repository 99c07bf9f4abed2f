"""Releases in an S3-compatible store (boto3), one immutable prefix per published build:

    <prefix>/<project id>/<build id>/files/<path>     the release's files, uploaded first
    <prefix>/<project id>/<build id>/manifest.json    its entries, uploaded last

Keys hold project ids, not names, so renaming a project moves nothing. A release exists once
its manifest does; deleting one removes the manifest first, so it stops existing before its
files go. Everything here blocks (network calls): call it from an executor.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.exceptions

from engine.storage.manifest import BadManifest, Entry, decode, encode, read_release

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FILES = "files"
TRANSFER_THREADS = 8
# Files up to this size go in one PUT; larger ones through boto3's transfer manager (multipart,
# streamed from disk). Every GET is streamed to disk in chunks of READ_CHUNK, never past the
# size the manifest gives, so a store that was tampered with cannot fill the disk.
SINGLE_REQUEST_BYTES = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024
# 200,000 entries of long paths fit well within this; a store that was tampered with cannot
# make a web process read more than this into memory.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_MISSING = ("404", "NoSuchKey", "NotFound")

StoreError = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


class S3Releases:
    """Upload, fetch, list and delete releases under `s3://bucket/prefix`."""

    def __init__(self, storage_url: str, endpoint: str | None = None, *,
                 max_release_bytes: int = 3 * 1024**3) -> None:
        """`max_release_bytes`: the most a fetched release may declare in all (see
        `release_limit`); a manifest declaring more is refused before anything is read."""
        self.max_release_bytes = max_release_bytes
        parts = urlsplit(storage_url)
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.where = storage_url  # for messages: no credentials in it
        self.client = boto3.client(
            "s3", endpoint_url=endpoint,
            config=botocore.config.Config(retries={"max_attempts": 5, "mode": "standard"},
                                          connect_timeout=5, read_timeout=60,
                                          max_pool_connections=TRANSFER_THREADS * 2))

    def _key(self, *parts: object) -> str:
        return "/".join(str(part) for part in (self.prefix, *parts) if part != "")

    # Writing

    def upload(self, project_id: int, build_id: int, release: Path) -> int:
        """Upload a release directory, its manifest last; returns the bytes uploaded."""
        entries = read_release(release)
        files = [entry for entry in entries if entry.kind == "file"]
        base = self._key(project_id, build_id, FILES)

        def put(entry: Entry) -> None:
            key = f"{base}/{entry.path}"
            if entry.size > SINGLE_REQUEST_BYTES:  # multipart, in parts, from the file
                self.client.upload_file(str(release / entry.path), self.bucket, key)
            else:  # one request: boto3's transfer manager costs more than a small file
                self.client.put_object(Bucket=self.bucket, Key=key,
                                       Body=(release / entry.path).read_bytes())

        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            list(pool.map(put, files))
        self.client.put_object(Bucket=self.bucket, Key=self._key(project_id, build_id, MANIFEST),
                               Body=encode(entries), ContentType="application/json")
        return sum(entry.size for entry in files)

    def delete(self, project_id: int, build_id: int) -> None:
        """Delete a release: the manifest first (it stops being a release), then its files."""
        self.client.delete_object(Bucket=self.bucket,
                                  Key=self._key(project_id, build_id, MANIFEST))
        self._delete_prefix(self._key(project_id, build_id) + "/")

    def delete_project(self, project_id: int) -> None:
        """Delete every release of a deleted project."""
        for build_id in self.build_ids(project_id):
            self.client.delete_object(Bucket=self.bucket,
                                      Key=self._key(project_id, build_id, MANIFEST))
        self._delete_prefix(self._key(project_id) + "/")

    def _delete_prefix(self, prefix: str) -> None:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:  # at most 1,000 a page, as delete_objects takes
                self.client.delete_objects(Bucket=self.bucket,
                                           Delete={"Objects": keys, "Quiet": True})

    # Reading

    def exists(self, project_id: int, build_id: int) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket,
                                    Key=self._key(project_id, build_id, MANIFEST))
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def build_ids(self, project_id: int) -> list[int]:
        """The builds of the project with something stored, complete or not."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(project_id) + "/", Delimiter="/")
        ids = []
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"].rstrip("/").rsplit("/", 1)[-1]
                if name.isdigit():
                    ids.append(int(name))
        return ids

    def fetch(self, project_id: int, build_id: int, target: Path) -> int | None:
        """Download a release into the new directory `target`, which appears whole or not at
        all (assembled beside it, then renamed). Returns its size in bytes, or None when the
        store has no such release. Raises BadManifest for a release that cannot be trusted."""
        try:
            manifest = self.client.get_object(
                Bucket=self.bucket, Key=self._key(project_id, build_id, MANIFEST)
            )["Body"].read(MAX_MANIFEST_BYTES + 1)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        if len(manifest) > MAX_MANIFEST_BYTES:
            raise BadManifest(f"the manifest is larger than {MAX_MANIFEST_BYTES} bytes")
        entries = decode(manifest)
        declared = sum(entry.size for entry in entries if entry.kind == "file")
        if declared > self.max_release_bytes:
            raise BadManifest(f"the release declares {declared} bytes, more than a release "
                              f"may hold ({self.max_release_bytes})")
        staging = target.with_name(f".fetch-{target.name}-{secrets.token_hex(4)}")
        staging.mkdir(parents=True)
        try:
            self._unpack(project_id, build_id, entries, staging)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return declared  # every file was checked to be exactly its declared size

    def _unpack(self, project_id: int, build_id: int, entries: list[Entry],
                staging: Path) -> None:
        base = self._key(project_id, build_id, FILES)
        for entry in entries:
            if entry.kind == "dir":
                (staging / entry.path).mkdir()
            elif entry.kind == "link":
                os.symlink(entry.target, staging / entry.path)
        files = [entry for entry in entries if entry.kind == "file"]

        def get(entry: Entry) -> None:
            path, key = staging / entry.path, f"{base}/{entry.path}"
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            written = 0
            try:
                with open(path, "xb") as file:  # "x": never through a link planted meanwhile
                    while chunk := body.read(min(READ_CHUNK, entry.size - written + 1)):
                        written += len(chunk)
                        if written > entry.size:
                            break
                        file.write(chunk)
            finally:
                body.close()
            if written != entry.size:
                raise BadManifest(f"{entry.path!r} is not the size its manifest says")

        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            list(pool.map(get, files))
        root = os.path.realpath(staging)
        for entry in entries:
            if entry.kind == "link":
                real = os.path.realpath(staging / entry.path)
                if real != root and not real.startswith(root + os.sep):
                    raise BadManifest(f"the link {entry.path!r} leads out of the release")
