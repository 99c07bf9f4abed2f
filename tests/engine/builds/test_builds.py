"""Builds end to end: real Git repositories, the real Docker engine (network none), real
PostgreSQL, the real API and Socket.io."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from urllib.parse import quote

import psycopg
import pytest
import socketio

from engine.deploys.releases import release_dir
from tests.support.accounts import sign_in_github_user, sign_in_local_admin
from tests.support.app import close_app, open_app
from tests.support.builds import Builds
from tests.support.http import ApiClient
from tests.support.leaks import forbid
from tests.support.repos import add_branch, commit_files, make_repo

NODE_BUILD = {
    "package.json": json.dumps({"name": "site", "version": "1.0.0",
                                "scripts": {"build": "node build.js"}}),
    "build.js": "const fs = require('fs');\n"
                "fs.mkdirSync('dist', {recursive: true});\n"
                "fs.writeFileSync('dist/index.html', '<h1>built</h1>');\n"
                "console.log('wrote dist/index.html');\n"
                "console.error('a warning on stderr');\n",
}


@pytest.mark.gen_test(timeout=120)
async def test_a_static_html_repository_passes_without_a_build_step(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": "<h1>hello</h1>"})
    project = await session.project(repo)

    build = await session.finished(project["latest_build"]["id"])

    assert build["status"] == "passed", await session.text(build["id"])
    assert build["exit_code"] == 0
    assert len(build["commit_sha"]) == 40 and build["commit_message"] == "first"
    assert build["commit_author"] == "Ada <ada@example.com>"
    output = release_dir(session.running.app.config.deployments_dir, "site", build["id"])
    assert (output / "index.html").read_text() == "<h1>hello</h1>"
    assert not (session.running.app.config.data_dir / "builds" / str(build["id"])).exists()
    assert not (output / ".git").exists() and not (output / ".env").exists()


@pytest.mark.gen_test(timeout=120)
async def test_a_node_app_builds_and_streams_its_logs_live(builds, tmp_path):
    session = await builds()
    client = socketio.AsyncClient(reconnection=False)
    events: list[tuple[str, dict]] = []
    for name in ("build_logs", "build_errors", "run_logs", "run_error", "buildStatusUpdate"):
        client.on(name, lambda data, name=name: events.append((name, data)))
    await client.connect(session.running.url, transports=["websocket"],
                         auth={"token": session.owner.token}, wait_timeout=5)
    try:
        repo = make_repo(tmp_path / "repo", NODE_BUILD)
        project = await session.project(repo)
        build = await session.finished(project["latest_build"]["id"])
        await asyncio.sleep(0.3)
    finally:
        await client.disconnect()

    text = await session.text(build["id"])
    assert build["status"] == "passed", text
    assert "Vite" not in text and "npm" in text
    statuses = [d["status"] for n, d in events if n == "buildStatusUpdate"]
    assert statuses == ["queued", "running", "passed"]
    streamed = {line["lineNumber"]: (name, line["log"]) for name, d in events
                if name != "buildStatusUpdate" for line in d["lines"]}
    stored = {line["lineNumber"]: line["log"] for line in await session.logs(build["id"])}
    assert {n: log for n, (_, log) in streamed.items()} == stored
    assert sorted(stored) == list(range(1, len(stored) + 1))
    assert ("run_logs", "wrote dist/index.html") in streamed.values()
    assert ("run_error", "a warning on stderr") in streamed.values()
    output = release_dir(session.running.app.config.deployments_dir, "site", build["id"])
    assert (output / "index.html").read_text() == "<h1>built</h1>"


@pytest.mark.gen_test(timeout=120)
async def test_a_repository_with_its_own_dockerfile_is_built_with_it(builds, tmp_path,
                                                                      busybox_image):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {
        "Dockerfile": f"FROM {busybox_image}\nWORKDIR /site\n"
                      "RUN mkdir public && echo from-dockerfile > public/index.html\n",
    })
    project = await session.project(repo, output_dir="public")
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "passed", await session.text(build["id"])
    output = release_dir(session.running.app.config.deployments_dir, "site", build["id"])
    assert (output / "index.html").read_text() == "from-dockerfile\n"


@pytest.mark.gen_test(timeout=120)
async def test_a_failing_build_keeps_its_exit_code(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {**NODE_BUILD, "build.js": "process.exit(3)"})
    project = await session.project(repo)
    build = await session.finished(project["latest_build"]["id"])
    assert (build["status"], build["exit_code"]) == ("failed", 3)
    assert build["error"] == "the build command exited with code 3"
    assert "Build failed: the build command exited with code 3" in await session.text(build["id"])


@pytest.mark.gen_test(timeout=120)
async def test_secret_values_are_masked_in_events_and_the_database(builds, tmp_path, db_url):
    session = await builds()
    forbid("s3cr3t-v4lue")
    repo = make_repo(tmp_path / "repo", {
        **NODE_BUILD,
        "build.js": "console.log('key=' + process.env.API_KEY);\n"
                    "console.log(require('fs').readFileSync('.env', 'utf8'));\n"
                    + NODE_BUILD["build.js"],
    })
    project = await session.project(repo, secrets={"API_KEY": "s3cr3t-v4lue"})
    build = await session.finished(project["latest_build"]["id"])
    text = await session.text(build["id"])
    assert build["status"] == "passed", text
    assert "key=***" in text
    assert "API_KEY='***'" in text  # the .env file the build read
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT string_agg(text, '\n') FROM build_logs").fetchone()[0]
    assert "s3cr3t-v4lue" not in stored


ENVIRONMENT_REPORT = (
    "const names = ['PROD_ONLY', 'PREVIEW_ONLY', 'BOTH'];\n"
    "const given = names.filter(n => n in process.env);\n"
    "console.log('env: ' + given.join(','));\n"
    "console.log('dotenv: ' + require('fs').readFileSync('.env', 'utf8').split('\\n')"
    ".filter(Boolean).map(l => l.split('=')[0]).join(','));\n"
    "console.log('values: ' + given.map(n => process.env[n]).join(' '));\n"
)


@pytest.mark.gen_test(timeout=180)
async def test_preview_builds_get_only_preview_secrets_and_production_only_production(
        builds, tmp_path, db_url):
    session = await builds()
    values = {"PROD_ONLY": "pr0d-v4lue", "PREVIEW_ONLY": "pr3view-v4lue", "BOTH": "b0th-v4lue"}
    forbid(*values.values())
    # The first build (at creation) publishes plain files, so no secret is set before it.
    repo = make_repo(tmp_path / "repo", {"index.html": "<p>first</p>"})
    project = await session.project(repo)
    assert (await session.finished(project["latest_build"]["id"]))["status"] == "passed"
    commit_files(repo, {**NODE_BUILD, "build.js": ENVIRONMENT_REPORT + NODE_BUILD["build.js"]})
    add_branch(repo, "feature")
    for name, environments in (("PROD_ONLY", ["production"]), ("PREVIEW_ONLY", ["preview"]),
                               ("BOTH", None)):
        body = {"value": values[name]} | ({"environments": environments} if environments else {})
        response = await session.api.request(
            "PUT", f"/api/projects/{project['id']}/secrets/{name}", headers=session.owner.headers,
            json_body=body)
        assert response.status == 201

    production = await session.rebuild(project["id"])
    queued = await session.running.app.builds.enqueue(project["id"], trigger="push",
                                                      branch="feature", preview="feature")
    preview = await session.finished(queued["id"])

    production_lines = [line["log"] for line in await session.logs(production["id"])]
    preview_lines = [line["log"] for line in await session.logs(preview["id"])]
    assert production["status"] == "passed", "\n".join(production_lines)
    assert preview["status"] == "passed", "\n".join(preview_lines)
    assert "env: PROD_ONLY,BOTH" in production_lines
    assert "dotenv: BOTH,PROD_ONLY" in production_lines
    assert "values: *** ***" in production_lines
    assert "env: PREVIEW_ONLY,BOTH" in preview_lines
    assert "dotenv: BOTH,PREVIEW_ONLY" in preview_lines
    assert "values: *** ***" in preview_lines
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT string_agg(text, '\n') FROM build_logs").fetchone()[0]
    assert not any(value in stored for value in values.values())


PEM_KEY = ("-----BEGIN TEST KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
           "Zq\n-----END TEST KEY-----")


@pytest.mark.gen_test(timeout=120)
async def test_encoded_and_multi_line_secret_values_are_masked_in_events_and_the_database(
        builds, tmp_path, db_url):
    session = await builds()
    value = "it's a \"pass\\w0rd\" café?>>~~"
    raw = value.encode()
    encoded = {
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "url": quote(value, safe="!~*'()"),
        "json": json.dumps(value, ensure_ascii=False),
        "basic": base64.b64encode(b"ada:" + raw).decode(),
    }
    forbid(value, *encoded.values(), *PEM_KEY.split("\n")[1:2])
    repo = make_repo(tmp_path / "repo", {
        **NODE_BUILD,
        "build.js": "const v = process.env.API_KEY, b = Buffer.from(v);\n"
                    "console.log('base64 ' + b.toString('base64'));\n"
                    "console.log('base64url ' + b.toString('base64url'));\n"
                    "console.log('hex ' + b.toString('hex'));\n"
                    "console.log('HEX ' + b.toString('hex').toUpperCase());\n"
                    "console.log('url ' + encodeURIComponent(v));\n"
                    "console.log('json ' + JSON.stringify(v));\n"
                    "console.log('basic ' + Buffer.from('ada:' + v).toString('base64'));\n"
                    "console.log(process.env.PEM_KEY);\n"
                    "console.log(require('fs').readFileSync('.env', 'utf8'));\n"
                    + NODE_BUILD["build.js"],
    })
    project = await session.project(repo, secrets={"API_KEY": value, "PEM_KEY": PEM_KEY})
    build = await session.finished(project["latest_build"]["id"])
    lines = [line["log"] for line in await session.logs(build["id"])]
    assert build["status"] == "passed", lines
    for name in ("base64", "base64url", "hex", "HEX", "url", "json"):
        assert f"{name} ***" in lines or f'{name} "***"' in lines, (name, lines)
    assert any(re.fullmatch(r"basic [\w+/]{0,7}\*\*\*[\w+/]{0,3}=*", line) for line in lines)
    assert lines.count("***") >= 4  # the key, every line of it, even its short one
    assert "API_KEY='***'" in lines  # the .env file the build read, quoted by Slipway
    assert "PEM_KEY='***" in lines
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT array_agg(text) FROM build_logs").fetchone()[0]
    assert "Zq" not in stored
    stored_text = "\n".join(stored)
    for leak in (value, "pass\\w0rd", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", *encoded.values()):
        assert leak not in stored_text, leak


@pytest.mark.gen_test(timeout=120)
async def test_a_build_over_the_time_limit_fails_with_that_reason(builds, tmp_path):
    session = await builds(build_timeout=4)
    repo = make_repo(tmp_path / "repo", {**NODE_BUILD, "build.js": "setTimeout(() => {}, 600000)"})
    project = await session.project(repo)
    started = time.monotonic()
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "failed"
    assert build["error"] == "timed out after 4 s (SLIPWAY_BUILD_TIMEOUT)"
    assert time.monotonic() - started < 30


@pytest.mark.gen_test(timeout=120)
async def test_a_running_build_can_be_canceled(builds, tmp_path, docker_client):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {
        **NODE_BUILD, "build.js": "console.log('started'); setTimeout(() => {}, 600000)"})
    project = await session.project(repo)
    build_id = project["latest_build"]["id"]
    deadline = time.monotonic() + 60
    while "started" not in await session.text(build_id):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)

    response = await session.api.post(f"/api/builds/{build_id}/cancel",
                                      headers=session.owner.headers)
    assert response.status == 202
    build = await session.finished(build_id)
    assert (build["status"], build["error"]) == ("canceled", "canceled by the user")
    assert not docker_client.containers.list(all=True,
                                             filters={"label": f"slipway.build={build_id}"})
    again = await session.api.post(f"/api/builds/{build_id}/cancel",
                                   headers=session.owner.headers)
    assert again.status == 409


@pytest.mark.gen_test(timeout=120)
async def test_a_memory_hog_is_stopped_by_the_memory_limit(builds, tmp_path):
    session = await builds(build_memory=64 * 1024**2)
    repo = make_repo(tmp_path / "repo", {
        **NODE_BUILD,
        "build.js": "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));"})
    project = await session.project(repo)
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "failed"
    assert build["error"] == "out of memory: the build needed more than 64m (SLIPWAY_BUILD_MEMORY)"


@pytest.mark.gen_test(timeout=120)
async def test_a_fork_bomb_is_contained_by_the_process_limit(builds, tmp_path):
    session = await builds(build_timeout=8)
    repo = make_repo(tmp_path / "repo", {"index.html": "x"})
    bomb = "i=0; while [ $i -lt 5000 ]; do sleep 60 & i=$((i+1)); done; wait"
    project = await session.project(repo, build_command=bomb, output_dir=".")
    build = await session.finished(project["latest_build"]["id"])
    health = await session.api.get("/api/health")
    assert health.status == 200
    assert build["status"] == "failed"
    text = await session.text(build["id"])
    assert "fork" in text.lower() or "timed out" in build["error"], text


@pytest.mark.gen_test(timeout=180)
async def test_a_flood_of_output_is_capped_and_the_server_stays_responsive(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {
        **NODE_BUILD,
        "build.js": "let s = ''; for (let i = 1; i <= 200000; i++) s += 'line ' + i + '\\n';"
                    "process.stdout.write(s);" + NODE_BUILD["build.js"]})
    project = await session.project(repo)
    build_id = project["latest_build"]["id"]
    slowest = 0.0
    while (await session.api.get(f"/api/builds/{build_id}",
                                 headers=session.owner.headers)).json()["status"] in (
            "queued", "running"):
        started = time.monotonic()
        assert (await session.api.get("/api/health")).status == 200
        slowest = max(slowest, time.monotonic() - started)
        await asyncio.sleep(0.05)
    build = await session.finished(build_id)
    lines = await session.logs(build_id)
    assert build["status"] == "passed"
    assert lines[100_000]["log"] == "… log truncated after 100000 lines"
    # Slipway's own lines after the flood are kept: the output, where it went live, the end.
    after = [(line["stream"], line["log"]) for line in lines[100_001:]]
    assert after[0] == ("system", "Output: dist/ (1 file)")
    assert after[-1] == ("system", "Build passed")
    assert len(after) == 3
    assert slowest < 2.0, f"the API took {slowest:.2f} s to answer during the flood"


@pytest.mark.gen_test(timeout=180)
async def test_after_a_flood_of_output_the_log_still_says_why_the_build_failed(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {
        **NODE_BUILD,
        "build.js": "let s = ''; for (let i = 1; i <= 200000; i++) s += 'line ' + i + '\\n';"
                    "process.stdout.write(s, () => process.exit(3));"})
    project = await session.project(repo)
    build = await session.finished(project["latest_build"]["id"], seconds=120)
    lines = await session.logs(build["id"])
    assert (build["status"], build["exit_code"]) == ("failed", 3)
    assert lines[100_000]["log"] == "… log truncated after 100000 lines"
    # The reason is said once, by the last line (the dashboard's banner says it too).
    assert [(line["stream"], line["log"]) for line in lines[100_001:]] == [
        ("system", "Build failed: the build command exited with code 3")]


@pytest.mark.gen_test(timeout=120)
async def test_a_private_github_repository_clones_with_the_owners_token(builds, tmp_path,
                                                                         github):
    session = await builds()
    ada_github = github.add_user("ada")
    repo = github.add_repo(ada_github, "private-site", private=True,
                           files={"index.html": "<p>private</p>"})
    ada = await sign_in_github_user(session.running, session.api, ada_github.id, "ada",
                                    ada_github.token)
    response = await session.api.post("/api/projects", headers=ada.headers, json_body={
        "name": "private-site", "repo_url": repo.html_url})
    build = await session.finished(response.json()["latest_build"]["id"], who=ada)
    assert build["status"] == "passed", build
    git_requests = [r for r in github.requests if "/private-site.git/" in r.path]
    assert git_requests
    assert all(ada_github.token not in r.path + str(r.query) for r in github.requests)
    assert any(r.headers.get("Authorization", "").startswith("Basic ") for r in git_requests)

    ada_github.token = "gho_rotated"  # the stored token no longer works
    retry = await session.api.post(f"/api/projects/{response.json()['id']}/builds",
                                   headers=ada.headers)
    failed = await session.finished(retry.json()["build"]["id"], who=ada)
    assert failed["status"] == "failed"
    assert failed["error"].startswith("the repository refused access")


@pytest.mark.gen_test(timeout=120)
async def test_builds_interrupted_by_a_crash_fail_and_queued_ones_resume(build_config, tmp_path,
                                                                        io_loop):
    repo = make_repo(tmp_path / "repo", {"index.html": "<h1>resumed</h1>"})
    first = await open_app(build_config)  # builds stay queued: the "crashed" server
    api = ApiClient(first.url)
    try:
        owner = await sign_in_local_admin(first, api)
        project = (await api.post("/api/projects", headers=owner.headers,
                                  json_body={"name": "site", "repo_url": str(repo)})).json()
        queued_id = project["latest_build"]["id"]
        async with first.app.db.pool.connection() as conn:
            cursor = await conn.execute(
                "INSERT INTO builds (project_id, trigger, branch, status, started_at) "
                "VALUES (%s, 'manual', 'other', 'running', now()) RETURNING id",
                (project["id"],))
            stuck_id = (await cursor.fetchone())[0]
    finally:
        api.close()
        await close_app(first)

    second = await open_app(build_config, run_builds=True)
    api = ApiClient(second.url)
    try:
        owner = await sign_in_local_admin(second, api)
        session = Builds(second, api, owner)
        stuck = (await api.get(f"/api/builds/{stuck_id}", headers=owner.headers)).json()
        assert (stuck["status"], stuck["error"]) == ("failed", "interrupted by restart")
        resumed = await session.finished(queued_id)
        assert resumed["status"] == "passed"
    finally:
        api.close()
        await close_app(second)


@pytest.mark.gen_test(timeout=120)
async def test_a_newer_build_of_a_branch_cancels_older_queued_ones(build_config, tmp_path):
    repo = make_repo(tmp_path / "repo", {"index.html": "x"})
    running = await open_app(build_config)  # nothing dispatches: builds stay queued
    api = ApiClient(running.url)
    try:
        owner = await sign_in_local_admin(running, api)
        project = (await api.post("/api/projects", headers=owner.headers,
                                  json_body={"name": "site", "repo_url": str(repo)})).json()
        second = (await api.post(f"/api/projects/{project['id']}/builds",
                                 headers=owner.headers)).json()["build"]
        first = (await api.get(f"/api/builds/{project['latest_build']['id']}",
                               headers=owner.headers)).json()
        assert (first["status"], first["error"]) == ("canceled",
                                                      f"superseded by build #{second['id']}")
        history = (await api.get(f"/api/projects/{project['id']}/builds?limit=1",
                                 headers=owner.headers)).json()
        assert [b["id"] for b in history] == [second["id"]]
        older = (await api.get(f"/api/projects/{project['id']}/builds?before={second['id']}",
                               headers=owner.headers)).json()
        assert [b["id"] for b in older] == [first["id"]]
    finally:
        api.close()
        await close_app(running)


@pytest.mark.gen_test(timeout=120)
async def test_without_a_docker_engine_builds_fail_with_a_clear_message(builds, tmp_path):
    session = await builds(docker_host=f"unix://{tmp_path}/no-docker.sock")
    repo = make_repo(tmp_path / "repo", NODE_BUILD)
    project = await session.project(repo)
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "failed"
    assert build["error"] == (f"Docker engine not reachable at unix://{tmp_path}/no-docker.sock:"
                              " No such file or directory")
    assert build["error"] in await session.text(build["id"])


@pytest.mark.gen_test(timeout=120)
async def test_a_missing_base_image_that_cannot_be_pulled_fails_the_build_clearly(builds,
                                                                                  tmp_path):
    session = await builds(node_image="slipway-test/not-built-anywhere:1")
    repo = make_repo(tmp_path / "repo", {"index.html": "x"})
    project = await session.project(repo, build_command="echo hi", output_dir=".")
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "failed"
    assert build["error"].startswith("the image slipway-test/not-built-anywhere:1 is not available")
    assert build["error"].endswith("(SLIPWAY_NODE_IMAGE)")


@pytest.mark.gen_test(timeout=60)
async def test_a_hook_build_of_a_project_without_git_fails_saying_how_to_deploy(builds):
    session = await builds()
    created = await session.api.post("/api/projects", headers=session.owner.headers,
                                     json_body={"name": "uploads"})
    assert created.status == 201, created.body
    hook = await session.api.post(f"/api/projects/{created.json()['id']}/deploy-hook",
                                  headers=session.owner.headers)
    triggered = await session.api.post("/api/hooks/" + hook.json()["url"].rsplit("/", 1)[1])
    build = await session.finished(triggered.json()["build"]["id"])
    assert build["status"] == "failed"
    assert "slipway deploy" in build["error"]


@pytest.mark.gen_test(timeout=120)
async def test_the_log_counts_the_files_published_and_leads_with_the_production_address(
        builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": "<h1>hello</h1>", "style.css": "h1 {}",
                                         ".env": "SECRET=1", ".env.local": "B=2"})
    project = await session.project(repo, name="hello", output_dir="./")
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "passed", build
    text = await session.text(build["id"])
    # .git, .env and .env.local are never published: two files are.
    assert "Output: ./ (2 files)" in text, text
    production = (await session.api.get(f"/api/projects/{project['id']}",
                                        headers=session.owner.headers)).json()["production_url"]
    assert f"Live at {production} (this build: " in text, text
    assert f"{build['id']}--hello." in text.split("Live at", 1)[1]
