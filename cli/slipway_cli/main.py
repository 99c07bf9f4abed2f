"""The `slipway` command: deploy a directory, follow a build's log, roll back, manage secrets.

    slipway login --url https://slipway.example.com --token slw_...
    slipway deploy dist --project blog [--preview feature-x]
    slipway builds --project blog
    slipway logs 42 --follow
    slipway rollback 17
    slipway env set API_URL --project blog --environment preview < value.txt

Made for CI as much as for people: `SLIPWAY_URL` and `SLIPWAY_TOKEN` stand in for `login`,
`--json` prints what the API answered, and the exit code says what happened: 0 done (the
deploy is live, the followed build passed), 1 failed (a failed build, a refused upload, the
server unreachable), 2 a usage error (a bad argument, not signed in). Progress and messages go
to stderr, results to stdout, so `$(slipway deploy dist -p blog --json | jq -r .url)` works.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from slipway_cli import __version__
from slipway_cli.client import ApiError, Client
from slipway_cli.log_follower import LogFollower
from slipway_cli.packing import pack_directory
from slipway_cli.settings import (
    NotConfigured,
    Settings,
    check_url,
    forget_settings,
    load_settings,
    save_settings,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
ENVIRONMENTS = ("production", "preview")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Failed(click.ClickException):
    """Something went wrong that is not the user's typing: exit code 1."""

    exit_code = EXIT_FAILED

    def show(self, file: Any = None) -> None:
        err.print(f"[red]Error:[/red] {escape(self.message)}")


class NotSignedIn(Failed):
    exit_code = EXIT_USAGE


def api_command(function: Callable[..., Awaitable[int | None]]) -> Callable[..., None]:
    """Run an async command with a signed-in client; API failures exit 1, one line each."""

    @functools.wraps(function)
    def command(**options: Any) -> None:
        try:
            settings = load_settings()
        except NotConfigured as exc:
            raise NotSignedIn(str(exc)) from None

        async def main() -> int | None:
            async with Client(settings.url, settings.token) as client:
                return await function(client, **options)

        try:
            code = asyncio.run(main())
        except ApiError as exc:
            raise Failed(exc.message) from None
        except KeyboardInterrupt:
            raise click.Abort() from None
        sys.exit(code or 0)

    return command


def json_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the API's answer as JSON on stdout.")(function)


def project_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--project", "-p", required=True, envvar="SLIPWAY_PROJECT",
                        metavar="NAME", help="The project's name [$SLIPWAY_PROJECT].")(function)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def print_table(columns: list[str], rows: list[list[str]]) -> None:
    """A table for people at a terminal; tab-separated lines, never cut, for a pipe or a
    CI log (`slipway deployments -p blog | cut -f4`)."""
    if not out.is_terminal:
        for row in [columns, *rows]:
            click.echo("\t".join(Text.from_markup(cell).plain for cell in row))
        return
    table = Table(*columns, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*row)
    out.print(table)


class Id(click.ParamType):
    """A build's or deployment's number, as the dashboard and `--json` show it."""

    name = "id"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        text = str(value).lstrip("#")
        if not text.isdigit() or int(text) < 1:
            self.fail(f"{value!r} is not a build or deployment number such as 42", param, ctx)
        return int(text)


# What a secret's name may be (the server checks too): it goes into the request's path.
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")


def secret_path(project_id: int, name: str) -> str:
    if not SECRET_NAME.fullmatch(name):
        raise click.BadParameter(f"{name!r}: a name is letters, digits and _, not starting "
                                 "with a digit", param_hint="NAME")
    return f"/api/projects/{project_id}/secrets/{quote(name, safe='')}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="slipway")
def cli() -> None:
    """Deploy to a Slipway server from a terminal or a CI job."""


@cli.command()
@click.option("--url", required=True, help="The Slipway dashboard's URL.")
@click.option("--token", help="A token from Account → API tokens (else asked for at a "
              "terminal, or read from stdin).")
def login(url: str, token: str | None) -> None:
    """Check a token against a server and save both for the next commands."""
    if token is None:
        token = (click.prompt("Token", hide_input=True) if sys.stdin.isatty()
                 else sys.stdin.readline())
    try:
        settings = Settings(check_url(url), token.strip())
    except NotConfigured as exc:
        raise NotSignedIn(str(exc)) from None
    if not settings.token:
        raise NotSignedIn("no token given: pass --token, or send it on stdin")

    async def check() -> dict[str, Any]:
        async with Client(settings.url, settings.token) as client:
            return await client.get("/api/me")

    try:
        me = asyncio.run(check())
    except ApiError as exc:
        raise Failed(f"{exc.message} (nothing was saved)") from None
    path = save_settings(settings)
    err.print(f"Signed in to {escape(settings.url)} as [bold]{escape(me['username'])}[/bold]; "
              f"saved in {path}")


@cli.command()
def logout() -> None:
    """Forget the saved server and token."""
    err.print("Signed out." if forget_settings() else "Nothing was saved.")


@cli.command()
@click.argument("directory", default=".",
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@project_option
@click.option("--preview", metavar="BRANCH", help="Publish as this branch's preview instead "
              "of production.")
@json_option
@api_command
async def deploy(client: Client, directory: Path, project: str, preview: str | None,
                 as_json: bool) -> None:
    """Upload DIRECTORY (a built site: dist, out, build...) and make it live."""
    if preview is not None and not preview.strip():
        # `--preview "$BRANCH"` with the variable empty must not publish to production.
        raise click.BadParameter("the branch name is empty", param_hint="--preview")
    target = await client.project(project)
    loop = asyncio.get_running_loop()
    packed = await loop.run_in_executor(None, pack_directory, directory)
    try:
        for skipped in packed.left_out:
            err.print(f"[yellow]left out:[/yellow] {escape(skipped)}")
        if packed.files == 0:
            raise Failed(f"{directory} holds no files to deploy")
        size = packed.path.stat().st_size
        err.print(f"Packed {packed.files} files ({readable_size(packed.bytes)}) "
                  f"into {readable_size(size)}")
        params = {"preview": preview} if preview else {}
        path = f"/api/projects/{target['id']}/deployments"
        if err.is_terminal:
            with Progress("Uploading", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          console=err, transient=True) as progress:
                task = progress.add_task("upload", total=size)
                answer = await client.upload(path, packed.path, params,
                                             lambda sent: progress.advance(task, sent))
        else:  # a CI log: one line, no bar redrawn into it
            err.print(f"Uploading {readable_size(size)} to {escape(client.url)}")
            answer = await client.upload(path, packed.path, params, lambda sent: None)
    finally:
        packed.path.unlink(missing_ok=True)
    if as_json:
        print_json(answer)
        return
    build = answer["build"]
    where = f"preview of {preview}" if preview else "live"
    err.print(f"[green]Deployed[/green] build #{build['id']} ({where})")
    if answer.get("deployment"):
        err.print(f"This deploy, always: {answer['deployment']['url']}")
    out.print(answer["url"])


@cli.command()
@project_option
@click.option("--follow", "-f", is_flag=True, help="Follow its log; exit 0 only if it passes.")
@json_option
@api_command
async def build(client: Client, project: str, follow: bool, as_json: bool) -> int:
    """Queue a build of the project's branch from Git."""
    target = await client.project(project)
    answer = await client.request("POST", f"/api/projects/{target['id']}/builds", json={})
    build = answer["build"]
    if not follow:
        if as_json:
            print_json(answer)
        else:
            err.print(f"Queued build #{build['id']} of {escape(build['branch'])}")
        return 0
    err.print(f"Queued build #{build['id']} of {escape(build['branch'])}")
    code = await _follow(client, build["id"], to_stderr=as_json)
    if as_json:  # the log went to stderr; stdout gets the build as it ended
        print_json({"build": await client.get(f"/api/builds/{build['id']}")})
    return code


@cli.command()
@project_option
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@json_option
@api_command
async def builds(client: Client, project: str, limit: int, as_json: bool) -> None:
    """The project's latest builds, newest first."""
    target = await client.project(project)
    rows = await client.get(f"/api/projects/{target['id']}/builds", limit=limit)
    if as_json:
        print_json(rows)
        return
    print_table(["build", "status", "trigger", "branch", "commit", "started"], [
        [f"#{row['id']}", _status(row["status"]), row["trigger"], row["branch"],
         (row["commit_sha"] or "")[:7], row["started_at"] or ""] for row in rows])


@cli.command()
@project_option
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@json_option
@api_command
async def deployments(client: Client, project: str, limit: int, as_json: bool) -> None:
    """The project's deployments, newest first (their ids are what `rollback` takes)."""
    target = await client.project(project)
    rows = await client.get(f"/api/projects/{target['id']}/deployments", limit=limit)
    if as_json:
        print_json(rows)
        return
    print_table(["deployment", "status", "build", "url", "created"], [
        [str(row["id"]), _status(row["status"]), f"#{row['build_id']}", row["url"],
         row["created_at"]] for row in rows])


@cli.command()
@click.argument("build_id", metavar="BUILD", type=Id())
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing until the build ends; exit 0 only if it passed.")
@api_command
async def logs(client: Client, build_id: int, follow: bool) -> int:
    """Print a build's log."""
    if follow:
        return await _follow(client, build_id)
    await LogFollower(client, build_id, _print_line).print_stored()
    return 0


@cli.command()
@click.argument("deployment_id", metavar="DEPLOYMENT", type=Id())
@json_option
@api_command
async def rollback(client: Client, deployment_id: int, as_json: bool) -> None:
    """Make an earlier deployment live again (see `slipway deployments`)."""
    answer = await client.request("POST", f"/api/deployments/{deployment_id}/rollback")
    if as_json:
        print_json(answer)
    elif "deployment" in answer:
        err.print(f"[green]Rolled back:[/green] deployment {deployment_id} is live again")
        out.print(answer["deployment"]["url"])
    else:
        err.print(f"Its release was pruned: rebuilding its commit as build "
                  f"#{answer['build']['id']} (slipway logs {answer['build']['id']} --follow)")


@cli.group()
def env() -> None:
    """A project's secrets: names and environments; values are write-only."""


@env.command("list")
@project_option
@json_option
@api_command
async def env_list(client: Client, project: str, as_json: bool) -> None:
    """The project's secrets (never their values)."""
    target = await client.project(project)
    rows = await client.get(f"/api/projects/{target['id']}/secrets")
    if as_json:
        print_json(rows)
        return
    print_table(["name", "environments", "updated"], [
        [row["name"], ",".join(row.get("environments", ENVIRONMENTS)), row["updated_at"]]
        for row in rows])


@env.command("set")
@click.argument("name")
@click.argument("value", required=False)
@project_option
@click.option("--environment", "-e", "environments", multiple=True,
              type=click.Choice(ENVIRONMENTS),
              help="Where the value applies (repeatable) [both for a new secret].")
@api_command
async def env_set(client: Client, name: str, value: str | None, project: str,
                  environments: tuple[str, ...]) -> None:
    """Set a secret. Without VALUE it is read from stdin, keeping it out of shell history;
    with only --environment and nothing on stdin, the secret keeps its value and moves."""
    explicit = value is not None
    if value is None:
        value = (click.prompt(f"{name}", hide_input=True) if sys.stdin.isatty()
                 else sys.stdin.read().rstrip("\n"))
        if not value and not environments:
            raise click.BadParameter("no value: give VALUE, or send it on stdin",
                                     param_hint="VALUE")
    target = await client.project(project)
    keep_value = not explicit and not value  # only --environment: the secret moves
    body: dict[str, Any] = {} if keep_value else {"value": value}
    if environments:
        body["environments"] = sorted(set(environments))
    await client.request("PUT", secret_path(target["id"], name), json=body)
    where = f" ({', '.join(body['environments'])})" if environments else ""
    done = "Moved" if keep_value else "Set"
    err.print(f"{done} {escape(name)}{where} on {escape(project)}; the next build uses it")


@env.command("unset")
@click.argument("name")
@project_option
@api_command
async def env_unset(client: Client, name: str, project: str) -> None:
    """Remove a secret."""
    target = await client.project(project)
    await client.request("DELETE", secret_path(target["id"], name))
    err.print(f"Removed {escape(name)} from {escape(project)}")


async def _follow(client: Client, build_id: int, *, to_stderr: bool = False) -> int:
    show = _print_line_to_stderr if to_stderr else _print_line
    status = await LogFollower(client, build_id, show).follow()
    colour = "green" if status == "passed" else "red"
    err.print(f"Build #{build_id} [{colour}]{status}[/{colour}]")
    return 0 if status == "passed" else EXIT_FAILED


def _print_line(line: dict[str, Any]) -> None:
    text = line["log"]
    if not out.is_terminal:  # a CI log, a pipe: the text as it is, and fast
        click.echo(text)
    elif line.get("stream", "").endswith("stderr"):
        out.print(f"[red]{escape(text)}[/red]")
    else:
        out.print(escape(text))


def _print_line_to_stderr(line: dict[str, Any]) -> None:
    click.echo(line["log"], err=True)


def _status(status: str) -> str:
    colour = {"passed": "green", "live": "green", "failed": "red", "running": "yellow",
              "queued": "yellow"}.get(status)
    return f"[{colour}]{status}[/{colour}]" if colour else status


def readable_size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def main() -> int:
    cli()
    return 0
