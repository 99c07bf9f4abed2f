"""The `slipway` command end to end, as a CI job runs it: a real process against a running
Slipway over HTTP and Socket.io, configured by `slipway login` or by SLIPWAY_URL/SLIPWAY_TOKEN,
its exit code and output checked as a CI script would check them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import slipway_cli
from engine import __version__
from tests.support.accounts import sign_in_local_admin
from tests.support.browser import node_site_files
from tests.support.repos import commit_files, make_repo

CLI_SECONDS = 60
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Ran:
    code: int
    out: str
    err: str


class Cli:
    """Runs `python -m slipway_cli` (what the `slipway` script runs) in its own HOME."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home, self.env = home, env or {}

    async def __call__(self, *args: str, stdin: str | None = None, **env: str) -> Ran:
        environ = {"PATH": os.environ["PATH"], "HOME": str(self.home), "NO_COLOR": "1",
                   **self.env, **env}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "slipway_cli", *args, env=environ,
            cwd=Path(__file__).resolve().parent.parent,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), CLI_SECONDS)
        return Ran(process.returncode, out.decode(), err.decode())


@pytest.fixture
def owner(app_server, api, io_loop):
    return io_loop.run_sync(lambda: sign_in_local_admin(app_server, api))


@pytest.fixture
def project(api, owner, io_loop, tmp_path):
    repo = make_repo(tmp_path / "repo", {"index.html": "<p>from git</p>"})

    async def create():
        response = await api.post("/api/projects", headers=owner.headers, json_body={
            "name": "blog", "repo_url": str(repo)})
        assert response.status == 201, response.body
        return response.json()

    return io_loop.run_sync(create)


@pytest.fixture
def site(tmp_path) -> Path:
    """A built site, as `npm run build` leaves it in dist/."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<h1>from CI</h1>")
    (dist / "assets" / "app.js").write_text("console.log('hi')")
    (dist / ".env").write_text("API_KEY=never-sent")
    (dist / "leak").symlink_to("/etc/hostname")
    return dist


@pytest.fixture
def cli(tmp_path, app_server, owner) -> Cli:
    """Configured as CI would be: the two variables, no file."""
    return Cli(tmp_path / "home", {"SLIPWAY_URL": app_server.url, "SLIPWAY_TOKEN": owner.token})


async def visit(api, host: str, path: str = "/"):
    return await api.get(path, headers={"Host": host})


@pytest.mark.gen_test(timeout=120)
async def test_deploy_a_directory_prints_the_url_and_it_is_live(cli, site, project, api,
                                                                app_server):
    ran = await cli("deploy", str(site), "--project", "blog")
    assert ran.code == 0, ran.err
    assert ran.out.strip() == f"http://blog.localhost:{app_server.port}"
    assert "Packed 2 files" in ran.err
    assert "left out: leak -> /etc/hostname" in ran.err
    assert (await visit(api, "blog.localhost")).body == b"<h1>from CI</h1>"
    # Neither was sent: the link's path falls back to the single-page app's index.html.
    assert b"never-sent" not in (await visit(api, "blog.localhost", "/.env")).body
    assert (await visit(api, "blog.localhost", "/leak")).body == b"<h1>from CI</h1>"

    listed = await cli("builds", "--project", "blog", "--json")
    builds = json.loads(listed.out)
    assert builds[0]["trigger"] == "upload" and builds[0]["status"] == "passed"
    logged = await cli("logs", str(builds[0]["id"]))
    assert logged.code == 0 and "Upload received: 2 files" in logged.out


@pytest.mark.gen_test(timeout=120)
async def test_json_output_then_rollback_by_deployment_id(cli, site, project, api):
    first = json.loads((await cli("deploy", str(site), "-p", "blog", "--json")).out)
    (site / "index.html").write_text("<h1>second</h1>")
    second = await cli("deploy", str(site), "-p", "blog", "--json")
    assert json.loads(second.out)["deployment"]["status"] == "live"
    assert (await visit(api, "blog.localhost")).body == b"<h1>second</h1>"

    rolled = await cli("rollback", str(first["deployment"]["id"]))
    assert rolled.code == 0, rolled.err
    assert (await visit(api, "blog.localhost")).body == b"<h1>from CI</h1>"
    history = json.loads((await cli("deployments", "-p", "blog", "--json")).out)
    assert [d["status"] for d in history] == ["rolled_back", "live"]


@pytest.mark.gen_test(timeout=120)
async def test_a_preview_deploy_leaves_production_alone(cli, site, project, api):
    await cli("deploy", str(site), "-p", "blog")
    (site / "index.html").write_text("<h1>preview</h1>")
    ran = await cli("deploy", str(site), "-p", "blog", "--preview", "feature-x")
    assert ran.code == 0, ran.err
    assert ran.out.strip().startswith("http://git-feature-x--blog.localhost:")
    assert (await visit(api, "git-feature-x--blog.localhost")).body == b"<h1>preview</h1>"
    assert (await visit(api, "blog.localhost")).body == b"<h1>from CI</h1>"


@pytest.mark.gen_test(timeout=120)
async def test_login_saves_the_token_privately_and_logout_forgets_it(
        tmp_path, app_server, owner, site, project, api):
    cli = Cli(tmp_path / "home")
    ran = await cli("login", "--url", app_server.url, "--token", owner.token)
    assert ran.code == 0, ran.err
    saved = tmp_path / "home" / ".config" / "slipway" / "config.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text()) == {"url": app_server.url, "token": owner.token}

    assert (await cli("deploy", str(site), "-p", "blog")).code == 0
    assert (await cli("logout")).code == 0
    signed_out = await cli("deploy", str(site), "-p", "blog")
    assert signed_out.code == 2
    assert "slipway login" in signed_out.err


@pytest.mark.gen_test(timeout=120)
async def test_a_wrong_token_is_refused_and_nothing_is_saved(tmp_path, app_server):
    cli = Cli(tmp_path / "home")
    ran = await cli("login", "--url", app_server.url, "--token", "slw_not-a-real-token")
    assert ran.code == 1
    assert "invalid" in ran.err and "nothing was saved" in ran.err
    assert not (tmp_path / "home" / ".config" / "slipway").exists()


@pytest.mark.gen_test(timeout=120)
async def test_exit_codes_tell_ci_what_happened(cli, site, project, tmp_path):
    assert (await cli("deploy", str(site), "-p", "no-such-project")).code == 1
    assert (await cli("deploy", str(tmp_path / "missing"), "-p", "blog")).code == 2
    assert (await cli("deploy", str(site))).code == 2  # no --project
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = await cli("deploy", str(empty), "-p", "blog")
    assert nothing.code == 1 and "holds no files" in nothing.err
    unreachable = await cli("builds", "-p", "blog", SLIPWAY_URL="http://127.0.0.1:9")
    assert unreachable.code == 1 and "cannot reach Slipway" in unreachable.err
    assert "Traceback" not in unreachable.err + nothing.err


@pytest.mark.gen_test(timeout=120)
async def test_env_set_reads_the_value_from_stdin_and_never_prints_it(cli, project):
    ran = await cli("env", "set", "API_TOKEN", "-p", "blog", stdin="hunter2-value\n")
    assert ran.code == 0, ran.err
    listed = await cli("env", "list", "-p", "blog", "--json")
    assert [s["name"] for s in json.loads(listed.out)] == ["API_TOKEN"]
    assert "hunter2" not in listed.out + ran.out + ran.err
    preview_only = await cli("env", "set", "PREVIEW_URL", "https://staging", "-p", "blog",
                             "-e", "preview")
    assert preview_only.code == 0, preview_only.err
    listing = (await cli("env", "list", "-p", "blog")).out
    table = [line.split("\t") for line in listing.splitlines()]
    assert table[0] == ["name", "environments", "updated"]  # a pipe gets tab-separated lines
    assert [row[:2] for row in table[1:]] == [["API_TOKEN", "production,preview"],
                                              ["PREVIEW_URL", "preview"]]
    moved = await cli("env", "set", "API_TOKEN", "-p", "blog", "-e", "production", stdin="")
    assert moved.code == 0 and "Moved API_TOKEN (production)" in moved.err
    listed = json.loads((await cli("env", "list", "-p", "blog", "--json")).out)
    assert {s["name"]: s["environments"] for s in listed}["API_TOKEN"] == ["production"]
    empty = await cli("env", "set", "EMPTY", "-p", "blog", stdin="")
    assert empty.code == 2 and "no value" in empty.err
    assert (await cli("env", "unset", "PREVIEW_URL", "-p", "blog")).code == 0
    assert (await cli("env", "unset", "API_TOKEN", "-p", "blog")).code == 0
    assert json.loads((await cli("env", "list", "-p", "blog", "--json")).out) == []


@pytest.mark.gen_test(timeout=300)
async def test_build_follow_streams_every_line_once_and_exits_with_the_result(
        builds, tmp_path):
    session = await builds()
    files = node_site_files("followed", log_lines=15, delay_ms=120)
    repo = make_repo(tmp_path / "node-site", files)
    project = await session.project(repo, name="live")
    await session.finished(project["latest_build"]["id"], seconds=120)
    cli = Cli(tmp_path / "home", {"SLIPWAY_URL": session.running.url,
                                  "SLIPWAY_TOKEN": session.owner.token})

    ran = await cli("build", "-p", "live", "--follow")
    assert ran.code == 0, ran.err
    pages = [line for line in ran.out.splitlines() if line.startswith("building page")]
    assert pages == [f"building page {n} of 15" for n in range(1, 16)]
    assert "wrote dist/index.html" in ran.out
    assert "passed" in ran.err

    files["build.js"] = "console.log('about to fail'); process.exit(3);\n"
    commit_files(repo, files, "break it")
    failed = await cli("build", "-p", "live", "--follow")
    assert failed.code == 1
    assert "about to fail" in failed.out and "failed" in failed.err


def test_the_console_script_is_installed_with_the_package():
    # What `pip install` puts on PATH: the entry point named in pyproject.toml.
    script = Path(sys.executable).parent / "slipway"
    ran = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                         timeout=CLI_SECONDS, check=False)
    assert (ran.returncode, ran.stdout.strip()) == (0, f"slipway, version {__version__}")
    usage = subprocess.run([str(script), "deploy", "--nope"], capture_output=True, text=True,
                           timeout=CLI_SECONDS, check=False)
    assert usage.returncode == 2 and "No such option" in usage.stderr


async def new_token(api, owner, *scopes: str) -> dict:
    created = await api.post("/api/tokens", headers=owner.headers,
                             json_body={"name": f"ci {' '.join(scopes)}", "scopes": list(scopes)})
    assert created.status == 201, created.body
    return created.json()


@pytest.mark.gen_test(timeout=180)
async def test_each_token_scope_allows_what_it_says_and_a_revoked_token_is_refused(
        tmp_path, app_server, api, owner, site, project):
    read, deploy, admin = [await new_token(api, owner, scope)
                           for scope in ("read", "deploy", "admin")]

    def as_(token: dict) -> Cli:
        return Cli(tmp_path / "home", {"SLIPWAY_URL": app_server.url,
                                       "SLIPWAY_TOKEN": token["token"]})

    assert (await as_(read)("builds", "-p", "blog")).code == 0
    refused = await as_(read)("deploy", str(site), "-p", "blog")
    assert refused.code == 1 and "it needs deploy" in refused.err
    assert (await visit(api, "blog.localhost")).status == 404  # nothing went live

    deployed = await as_(deploy)("deploy", str(site), "-p", "blog", "--json")
    assert deployed.code == 0, deployed.err
    first = json.loads(deployed.out)["deployment"]["id"]
    assert (await as_(deploy)("deploy", str(site), "-p", "blog")).code == 0
    assert (await as_(deploy)("rollback", str(first))).code == 0
    secret = await as_(deploy)("env", "set", "KEY", "value", "-p", "blog")
    assert secret.code == 1 and "it needs admin" in secret.err
    assert (await as_(admin)("env", "set", "KEY", "value", "-p", "blog")).code == 0

    revoked = await api.request("DELETE", f"/api/tokens/{deploy['id']}", headers=owner.headers)
    assert revoked.status == 204
    after = await as_(deploy)("deploy", str(site), "-p", "blog")
    assert after.code == 1 and "revoked" in after.err
    login = await Cli(tmp_path / "other")("login", "--url", app_server.url,
                                          "--token", deploy["token"])
    assert login.code == 1


@pytest.mark.gen_test(timeout=300)
async def test_logs_follow_works_with_an_api_token(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "node-site", node_site_files("token", log_lines=5, delay_ms=50))
    project = await session.project(repo, name="tokened")
    token = await new_token(session.api, session.owner, "read")
    cli = Cli(tmp_path / "home", {"SLIPWAY_URL": session.running.url,
                                  "SLIPWAY_TOKEN": token["token"]})
    ran = await cli("logs", str(project["latest_build"]["id"]), "--follow")
    assert ran.code == 0, ran.err
    assert [line for line in ran.out.splitlines() if line.startswith("building page")] == [
        f"building page {n} of 5" for n in range(1, 6)]


@pytest.mark.gen_test(timeout=120)
async def test_a_secret_name_cannot_reach_another_endpoint(cli, project, api, owner):
    for name in (f"../../{project['id']}", "../../../tokens/1", "KEY#x", "KEY?x=1"):
        ran = await cli("env", "unset", name, "-p", "blog")
        assert ran.code == 2, (name, ran.err)
    still = await api.get(f"/api/projects/{project['id']}", headers=owner.headers)
    assert still.status == 200


@pytest.mark.gen_test(timeout=120)
async def test_a_project_is_found_by_name_before_id(cli, site, project, api, owner, tmp_path):
    repo = make_repo(tmp_path / "five", {"index.html": "x"})
    named = await api.post("/api/projects", headers=owner.headers,
                           json_body={"name": str(project["id"] + 1), "repo_url": str(repo)})
    assert named.status == 201, named.body
    # A project named like the other's id: the name wins.
    ran = await cli("deploy", str(site), "-p", str(project["id"] + 1), "--json")
    assert json.loads(ran.out)["build"]["project_id"] == named.json()["id"]
    by_id = await cli("deploy", str(site), "-p", str(project["id"]), "--json")
    assert json.loads(by_id.out)["build"]["project_id"] == project["id"]


@pytest.mark.gen_test(timeout=120)
async def test_mistakes_a_ci_script_makes_are_usage_errors(cli, site, project, tmp_path,
                                                          app_server, owner):
    empty_branch = await cli("deploy", str(site), "-p", "blog", "--preview", "")
    assert empty_branch.code == 2 and "--preview" in empty_branch.err
    no_scheme = await Cli(tmp_path / "h1")("login", "--url", "127.0.0.1:8080", "--token", "t")
    assert no_scheme.code == 2 and "http://" in no_scheme.err
    not_slipway = await Cli(tmp_path / "h2")("login", "--url", app_server.url + "/login",
                                             "--token", owner.token)
    assert not_slipway.code == 1 and "did not answer like Slipway" in not_slipway.err
    assert "Traceback" not in not_slipway.err
    from_stdin = await Cli(tmp_path / "h3")("login", "--url", app_server.url,
                                            stdin=owner.token + "\n")
    assert from_stdin.code == 0, from_stdin.err
    assert "Warning" not in from_stdin.err
    nothing = await Cli(tmp_path / "h4")("login", "--url", app_server.url, stdin="")
    assert nothing.code == 2


@pytest.mark.gen_test(timeout=120)
async def test_a_saved_token_never_goes_to_another_server(tmp_path, app_server, owner, project):
    cli = Cli(tmp_path / "home")
    assert (await cli("login", "--url", app_server.url, "--token", owner.token)).code == 0
    elsewhere = await cli("builds", "-p", "blog", SLIPWAY_URL="http://127.0.0.1:9")
    assert elsewhere.code == 2 and "SLIPWAY_TOKEN" in elsewhere.err
    same = await cli("builds", "-p", "blog", SLIPWAY_URL=app_server.url + "/")
    assert same.code == 0, same.err


@pytest.mark.gen_test(timeout=120)
async def test_tables_in_a_pipe_are_whole_lines(cli, site, project, app_server):
    await cli("deploy", str(site), "-p", "blog")
    rows = [line.split("\t") for line in
            (await cli("deployments", "-p", "blog")).out.splitlines()]
    assert rows[0] == ["deployment", "status", "build", "url", "created"]
    assert rows[1][1] == "live"
    assert rows[1][3].startswith("http://") and rows[1][3].endswith(f":{app_server.port}")


def test_the_cli_stands_alone_for_ci(tmp_path):
    # CI installs cli/ alone: it must import nothing of the server, and build as its own
    # package with the same command and version.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, slipway_cli.main; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True, cwd=tmp_path)
    modules = set(loaded.stdout.split())
    # (tornado may appear: python-socketio imports it when it is installed, as here.)
    server_side = {"engine", "handlers", "sql", "server", "psycopg", "docker", "pgserver"}
    assert not modules & server_side, modules & server_side
    assert slipway_cli.__version__ == __version__

    # Built from a copy: setuptools leaves build/ and egg-info beside the sources it builds.
    source = shutil.copytree(ROOT / "cli", tmp_path / "cli",
                             ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120)
    [wheel] = tmp_path.glob("slipway_cli-*.whl")
    with zipfile.ZipFile(wheel) as contents:
        names = contents.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "slipway = slipway_cli.main:main" in contents.read(entry_points).decode()
    assert "slipway_cli/main.py" in names and not any(n.startswith("engine/") for n in names)
