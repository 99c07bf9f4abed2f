"""Upload deploys: `POST /api/projects/{id}/deployments` with a .tar.gz publishes it as a release
exactly like a build's output, and a hostile archive is refused with nothing left behind."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import random
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from engine.deploys.upload_archive import unpack_archive
from tests.support.accounts import sign_in_github_user
from tests.support.app import start_app, stop_app
from tests.support.archives import (
    archive,
    file_entry,
    link_entry,
    pax_entry,
    site_archive,
    special_entry,
)
from tests.support.receiver import Receiver
from tests.support.repos import make_repo

GZIP = {"Content-Type": "application/gzip"}
MAX_UPLOAD = 8 * 1024 * 1024


@pytest.fixture
def config(config):
    return replace(config, max_upload=MAX_UPLOAD, keep_releases=2)


@pytest.fixture
def project(api, owner, io_loop, tmp_path):
    repo = make_repo(tmp_path / "repo", {"index.html": "<p>from git</p>"})

    async def create():
        response = await api.post("/api/projects", headers=owner.headers, json_body={
            "name": "site", "repo_url": str(repo)})
        assert response.status == 201, response.body
        return response.json()

    return io_loop.run_sync(create)


async def upload(api, owner, project, body: bytes, query: str = "", headers=None):
    return await api.post(f"/api/projects/{project['id']}/deployments{query}", body=body,
                          headers={**owner.headers, **GZIP, **(headers or {})})


async def visit(api, host: str, path: str = "/"):
    return await api.get(path, headers={"Host": host})


def leftovers(config, db_url) -> dict[str, list]:
    """What a refused upload must not leave: an upload build, a release, a work file."""
    with psycopg.connect(db_url) as conn:
        builds = conn.execute("SELECT id FROM builds WHERE trigger = 'upload'").fetchall()
    releases = config.deployments_dir / "site" / "releases"
    uploads = config.data_dir / "uploads"
    return {"builds": builds,
            "releases": sorted(p.name for p in releases.iterdir()) if releases.exists() else [],
            "work files": sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []}


@pytest.mark.gen_test
async def test_an_upload_goes_live_with_history_logs_and_an_immutable_url(
        api, owner, project, config, db_url, app_server):
    answer = await upload(api, owner, project, site_archive({
        "index.html": "<h1>uploaded</h1>", "assets/app.js": "console.log(1)" * 200,
        "about.html": "<p>about</p>"}))
    assert answer.status == 201, answer.body
    build, deployment = answer.json()["build"], answer.json()["deployment"]
    assert (build["trigger"], build["status"]) == ("upload", "passed")
    assert deployment["status"] == "live"
    assert answer.json()["url"] == f"http://site.localhost:{app_server.port}"
    assert deployment["url"] == f"http://{build['id']}--site.localhost:{app_server.port}"

    page = await visit(api, "site.localhost")
    assert (page.status, page.body) == (200, b"<h1>uploaded</h1>")
    assert (await visit(api, "site.localhost", "/about")).body == b"<p>about</p>"
    immutable = await visit(api, f"{build['id']}--site.localhost")
    assert immutable.body == b"<h1>uploaded</h1>"

    logs = (await api.get(f"/api/builds/{build['id']}/logs", headers=owner.headers)).json()
    texts = [line["log"] for line in logs["lines"]]
    assert any(t.startswith("Upload received: 3 files") for t in texts), texts
    assert any(t.startswith("Published: http://site.") for t in texts), texts
    history = (await api.get(f"/api/projects/{project['id']}/deployments",
                             headers=owner.headers)).json()
    assert [d["id"] for d in history] == [deployment["id"]]
    assert leftovers(config, db_url)["work files"] == []


@pytest.mark.gen_test
async def test_a_second_upload_supersedes_the_first_and_rollback_brings_it_back(
        api, owner, project):
    first = (await upload(api, owner, project, site_archive({"index.html": "one"}))).json()
    second = (await upload(api, owner, project, site_archive({"index.html": "two"}))).json()
    assert (await visit(api, "site.localhost")).body == b"two"

    rolled = await api.post(f"/api/deployments/{first['deployment']['id']}/rollback",
                            headers=owner.headers)
    assert rolled.status == 200, rolled.body
    assert (await visit(api, "site.localhost")).body == b"one"
    history = (await api.get(f"/api/projects/{project['id']}/deployments",
                             headers=owner.headers)).json()
    statuses = {d["id"]: d["status"] for d in history}
    assert statuses == {first["deployment"]["id"]: "live",
                        second["deployment"]["id"]: "rolled_back"}
    assert {d["trigger"] for d in history} == {"upload"}


@pytest.mark.gen_test
async def test_a_pruned_upload_cannot_be_rebuilt_so_rollback_says_so(api, owner, project,
                                                                     app_server):
    first = (await upload(api, owner, project, site_archive({"index.html": "one"}))).json()
    for text in ("two", "three"):
        await upload(api, owner, project, site_archive({"index.html": text}))
    await app_server.app.deployer.idle()  # pruning runs after going live; keep_releases=2

    rolled = await api.post(f"/api/deployments/{first['deployment']['id']}/rollback",
                            headers=owner.headers)
    assert rolled.status == 409
    assert "deploy them again" in rolled.json()["error"]["message"]
    assert (await visit(api, "site.localhost")).body == b"three"


@pytest.mark.gen_test
async def test_a_preview_upload_gets_its_branch_host_and_leaves_production_alone(
        api, owner, project):
    await upload(api, owner, project, site_archive({"index.html": "production"}))
    answer = await upload(api, owner, project, site_archive({"index.html": "preview"}),
                          query="?preview=feature/Login-Page")
    assert answer.status == 201, answer.body
    assert answer.json()["deployment"] is None
    assert answer.json()["preview"] == "feature-login-page"
    assert answer.json()["build"]["branch"] == "feature/Login-Page"
    assert (await visit(api, "git-feature-login-page--site.localhost")).body == b"preview"
    assert (await visit(api, "site.localhost")).body == b"production"


@pytest.mark.gen_test
async def test_an_upload_larger_than_an_api_body_streams_to_disk(api, owner, project):
    # Well past the 1 MiB JSON body limit: the upload path never collects the body in memory.
    noisy = random.Random(7).randbytes(5 * 1024 * 1024)  # gzip cannot shrink it
    answer = await upload(api, owner, project, site_archive({"index.html": "big",
                                                            "video.bin": noisy}))
    assert answer.status == 201, answer.body
    assert (await visit(api, "site.localhost", "/video.bin")).body == noisy


def global_pax_entry(headers: dict[str, str]) -> tuple[tarfile.TarInfo, bytes]:
    """A global PAX header (type g), as `git archive` writes one, with these records."""
    body = b"".join(_pax_record(k, v) for k, v in headers.items())
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XGLTYPE, len(body)
    return info, body


def _pax_record(key: str, value: str) -> bytes:
    payload = f" {key}={value}\n".encode()
    length = len(payload) + len(str(len(payload)))
    length = len(payload) + len(str(length))
    return str(length).encode() + payload


def _chained_headers() -> bytes:
    """1,500 GNU long-name headers in a row before one file: tarfile recurses per header."""
    entries = []
    for _ in range(1500):
        info = tarfile.TarInfo("././@LongLink")
        info.type, info.size = tarfile.GNUTYPE_LONGNAME, 11
        entries.append((info, b"index.html\0"))
    entries.append(file_entry("index.html", "x"))
    return archive(entries, tar_format=tarfile.USTAR_FORMAT)


def _bomb() -> bytes:
    """A member that declares and holds 9 MiB of zeros (past the 8 MiB limit), sent as a
    few KiB: the unpacked size is what counts."""
    return archive([file_entry("index.html", "hi"), file_entry("zeros.bin", bytes(9 << 20))])


HOSTILE = {
    "an absolute path": lambda: archive([file_entry("/etc/cron.d/evil", "* * * * * root x")]),
    "a path climbing out": lambda: archive([file_entry("../../../tmp/evil.html", "x")]),
    "a path climbing out halfway": lambda: archive([file_entry("a/../../evil", "x")]),
    "a link to an absolute path": lambda: archive([file_entry("index.html", "hi"),
                                                   link_entry("key", "/etc/shadow")]),
    "a link climbing out": lambda: archive([file_entry("index.html", "hi"),
                                            link_entry("docs/up", "../../../root")]),
    "a file written through a link": lambda: archive([link_entry("out", "."),
                                                      link_entry("out2", "/tmp"),
                                                      file_entry("out2/evil", "x")]),
    "a file below an inside link": lambda: archive([file_entry("index.html", "hi"),
                                                    link_entry("same", "."),
                                                    file_entry("same/evil", "x")]),
    "a hard link": lambda: archive([file_entry("index.html", "hi"),
                                    link_entry("passwd", "/etc/passwd", tarfile.LNKTYPE)]),
    "a character device": lambda: archive([special_entry("null", tarfile.CHRTYPE)]),
    "a block device": lambda: archive([special_entry("disk", tarfile.BLKTYPE)]),
    "a FIFO": lambda: archive([special_entry("pipe", tarfile.FIFOTYPE)]),
    "a gzip bomb": _bomb,
    "not gzip at all": lambda: b"<html>this is not an archive</html>",
    "gzip but not tar": lambda: gzip.compress(b"plain text, no tar headers here" * 100),
    "a truncated archive": lambda: site_archive({
        "index.html": random.Random(1).randbytes(50_000)})[:30_000],
    "no files": lambda: archive([]),
    "a chain of links leading out": lambda: archive([
        file_entry("index.html", "hi"), link_entry("a/b/c/l", "../../.."),
        link_entry("x", "a/b/c/l/../../../../../../etc/shadow")]),
    "a huge PAX header": lambda: archive([pax_entry("index.html", "hi",
                                                    {"comment": "A" * 300_000})]),
    "a huge GNU long name": lambda: archive([file_entry("n" * 70_000, "x")],
                                            tar_format=tarfile.GNU_FORMAT),
    "a name part too long to write": lambda: archive([file_entry("g/" + "q" * 300, "x")]),
    "global PAX headers piling up": lambda: archive([
        entry for n in range(200) for entry in (
            global_pax_entry({f"k{n}": "A" * 60_000}), file_entry(f"f{n}", "x"))]),
    "a chain of extended headers": _chained_headers,
    "directories nested 1,500 deep": lambda: archive([file_entry("a/" * 1500 + "f", "x")]),
}


@pytest.mark.gen_test
@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_a_hostile_archive_is_refused_and_leaves_nothing_behind(
        api, owner, project, config, db_url, kind, tmp_path):
    answer = await upload(api, owner, project, HOSTILE[kind]())
    assert answer.status == 400, (answer.status, answer.body)
    error = answer.json()["error"]
    assert error["code"] == "validation_failed" and error["message"]
    assert leftovers(config, db_url) == {"builds": [], "releases": [], "work files": []}
    assert not (tmp_path / "evil.html").exists()


@pytest.mark.gen_test
async def test_refusals_before_the_body_is_read(api, owner, project, app_server, io_loop):
    body = site_archive({"index.html": "x"})
    path = f"/api/projects/{project['id']}/deployments"

    unsigned = await api.post(path, body=body, headers=GZIP)
    assert unsigned.status == 401
    wrong_type = await api.post(path, body=body, headers={**owner.headers,
                                                          "Content-Type": "application/json"})
    assert wrong_type.status == 415
    assert "application/gzip" in wrong_type.json()["error"]["message"]
    missing = await api.post("/api/projects/999999/deployments", body=body,
                             headers={**owner.headers, **GZIP})
    assert missing.status == 404
    empty = await api.post(path, body=b"", headers={**owner.headers, **GZIP})
    assert empty.status == 400
    too_big = await api.post(path, body=b"\x1f\x8b" + b"\0" * (MAX_UPLOAD + 10),
                             headers={**owner.headers, **GZIP})
    assert too_big.status == 413
    assert "SLIPWAY_MAX_UPLOAD" in too_big.json()["error"]["message"]


@pytest.mark.gen_test
async def test_another_users_project_is_a_404(api, owner, project, app_server):
    stranger = await sign_in_github_user(app_server, api, 4242, "mallory")
    answer = await api.post(f"/api/projects/{project['id']}/deployments",
                            body=site_archive({"index.html": "defaced"}),
                            headers={**stranger.headers, **GZIP})
    assert answer.status == 404
    assert (await visit(api, "site.localhost")).status == 404  # nothing was published


def test_a_restart_clears_what_an_interrupted_upload_left(config, io_loop):
    work = config.data_dir / "uploads"
    work.mkdir(parents=True)
    (work / "0123.tar.gz").write_bytes(b"half an upload")
    (work / "0123.files").mkdir()
    (work / "0123.files" / "index.html").write_text("half")
    running = start_app(config, io_loop)
    try:
        assert not work.exists() or list(work.iterdir()) == []
    finally:
        stop_app(running, io_loop)


def test_the_archive_is_read_as_a_stream():
    # tarfile's stream mode never seeks: the archive could come straight off the socket.
    class NoSeek(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            chunk = self._data.read(len(buffer))
            buffer[:len(chunk)] = chunk
            return len(chunk)

    with tempfile.TemporaryDirectory() as target:
        result = unpack_archive(NoSeek(site_archive({"a/b/c.html": "deep", "index.html": "x"})),
                                Path(target), 1 << 20)
        assert (result.files, (Path(target) / "a/b/c.html").read_text()) == (2, "deep")



@pytest.mark.gen_test(timeout=60)
async def test_an_upload_notifies_like_a_build(api, owner, project, io_loop):
    receiver = Receiver()
    try:
        added = await api.post(f"/api/projects/{project['id']}/notifications",
                               headers=owner.headers, json_body={
                                   "url": receiver.url, "format": "json",
                                   "events": ["build_started", "deploy_succeeded"]})
        assert added.status == 201, added.body
        build = (await upload(api, owner, project, site_archive({"index.html": "x"}))).json()
        requests = await receiver.received(2)
        payloads = [json.loads(r.body) for r in requests]
        assert [p["event"] for p in payloads] == ["build_started", "deploy_succeeded"]
        assert all(p["build"]["trigger"] == "upload" for p in payloads)
        assert payloads[1]["deployment"]["id"] == build["deployment"]["id"]
    finally:
        await receiver.close()


@pytest.mark.gen_test
async def test_an_uploaded_preview_of_a_protected_project_asks_for_the_password(
        api, owner, project):
    protected = await api.request("PATCH", f"/api/projects/{project['id']}",
                                  headers=owner.headers,
                                  json_body={"preview_password": "correct horse"})
    assert protected.status == 200, protected.body
    await upload(api, owner, project, site_archive({"index.html": "production"}))
    answer = await upload(api, owner, project, site_archive({"index.html": "secret preview"}),
                          query="?preview=wip")
    assert (await visit(api, "site.localhost")).body == b"production"
    locked = await visit(api, "git-wip--site.localhost")
    assert locked.status == 401 and b"secret preview" not in locked.body
    immutable = await visit(api, f"{answer.json()['build']['id']}--site.localhost")
    assert immutable.status == 401


@pytest.mark.gen_test
async def test_a_project_without_git_is_published_by_uploads_only(api, owner, app_server):
    created = await api.post("/api/projects", headers=owner.headers, json_body={"name": "cli"})
    assert created.status == 201, created.body
    project = created.json()
    assert (project["repo_url"], project["latest_build"]) == (None, None)

    answer = await upload(api, owner, project, site_archive({"index.html": "no git"}))
    assert answer.status == 201, answer.body
    assert (await visit(api, "cli.localhost")).body == b"no git"

    build = await api.post(f"/api/projects/{project['id']}/builds", headers=owner.headers)
    assert build.status == 409
    assert "slipway deploy" in build.json()["error"]["message"]
    renamed = await api.request("PATCH", f"/api/projects/{project['id']}",
                                headers=owner.headers, json_body={"branch": "trunk"})
    assert renamed.status == 200, renamed.body

    # A deploy hook still answers, and its build fails saying why instead of crashing.
    hook = await api.post(f"/api/projects/{project['id']}/deploy-hook", headers=owner.headers)
    triggered = await api.post("/api/hooks/" + hook.json()["url"].rsplit("/", 1)[1])
    assert triggered.status == 202


@pytest.mark.gen_test(timeout=60)
async def test_uploads_going_live_at_once_take_turns(api, owner, project):
    answers = await asyncio.gather(*[
        upload(api, owner, project, site_archive({"index.html": f"version {n}"}))
        for n in range(6)])
    assert [a.status for a in answers] == [201] * 6, [a.body for a in answers]
    history = (await api.get(f"/api/projects/{project['id']}/deployments",
                             headers=owner.headers)).json()
    assert [d["status"] for d in history].count("live") == 1
    [live] = [d for d in history if d["status"] == "live"]
    [winner] = [n for n, a in enumerate(answers) if a.json()["deployment"]["id"] == live["id"]]
    assert (await visit(api, "site.localhost")).body == f"version {winner}".encode()
