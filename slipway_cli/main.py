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
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from engine import __version__
from engine.config import readable_size
from slipway_cli.client import ApiError, Client
from slipway_cli.log_follower import LogFollower
from slipway_cli.packing import pack_directory
from slipway_cli.settings import (
    NotConfigured,
    Settings,
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
        err.print(f"[red]error:[/red] {escape(self.message)}")


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="slipway")
def cli() -> None:
    """Deploy to a Slipway server from a terminal or a CI job."""


@cli.command()
@click.option("--url", required=True, help="The Slipway dashboard's URL.")
@click.option("--token", prompt=True, hide_input=True,
              help="A token from Account → Tokens (asked for when left out).")
def login(url: str, token: str) -> None:
    """Check a token against a server and save both for the next commands."""
    settings = Settings(url.rstrip("/"), token.strip())

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
        with Progress("Uploading", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("upload", total=size)
            answer = await client.upload(f"/api/projects/{target['id']}/deployments",
                                         packed.path, params,
                                         lambda sent: progress.advance(task, sent))
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
    if as_json and not follow:
        print_json(answer)
        return 0
    err.print(f"Queued build #{build['id']} of {escape(build['branch'])}")
    return await _follow(client, build["id"]) if follow else 0


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
    table = Table("build", "status", "trigger", "branch", "commit", "started", box=None)
    for row in rows:
        table.add_row(f"#{row['id']}", _status(row["status"]), row["trigger"], row["branch"],
                      (row["commit_sha"] or "")[:7], row["started_at"] or "")
    out.print(table)


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
    table = Table("deployment", "status", "build", "url", "created", box=None)
    for row in rows:
        table.add_row(str(row["id"]), _status(row["status"]), f"#{row['build_id']}",
                      row["url"], row["created_at"])
    out.print(table)


@cli.command()
@click.argument("build_id", metavar="BUILD", type=click.IntRange(1))
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
@click.argument("deployment_id", metavar="DEPLOYMENT", type=click.IntRange(1))
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
    table = Table("name", "environments", "updated", box=None)
    for row in rows:
        table.add_row(row["name"], ", ".join(row.get("environments", ENVIRONMENTS)),
                      row["updated_at"])
    out.print(table)


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
    """Set a secret. Without VALUE it is read from stdin, keeping it out of shell history."""
    if value is None:
        value = (click.prompt(f"{name}", hide_input=True) if sys.stdin.isatty()
                 else sys.stdin.read().rstrip("\n"))
    target = await client.project(project)
    body: dict[str, Any] = {"value": value}
    if environments:
        body["environments"] = sorted(set(environments))
    await client.request("PUT", f"/api/projects/{target['id']}/secrets/{name}", json=body)
    err.print(f"Set {escape(name)} on {escape(project)}; the next build uses it")


@env.command("unset")
@click.argument("name")
@project_option
@api_command
async def env_unset(client: Client, name: str, project: str) -> None:
    """Remove a secret."""
    target = await client.project(project)
    await client.request("DELETE", f"/api/projects/{target['id']}/secrets/{name}")
    err.print(f"Removed {escape(name)} from {escape(project)}")


async def _follow(client: Client, build_id: int) -> int:
    status = await LogFollower(client, build_id, _print_line).follow()
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


def _status(status: str) -> str:
    colour = {"passed": "green", "live": "green", "failed": "red", "running": "yellow",
              "queued": "yellow"}.get(status)
    return f"[{colour}]{status}[/{colour}]" if colour else status


def main() -> int:
    cli()
    return 0
