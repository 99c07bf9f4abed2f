"""Projects: creating, changing and deleting them, with their GitHub webhook and site.

A GitHub-hosted project gets a push webhook registered through its owner's token, with a fresh
secret stored encrypted. Registration can fail for reasons outside the user's request (GitHub
refuses hook URLs on localhost, the token lacks admin rights, GitHub is down), so a failure is
recorded on the project and shown, never a reason to refuse the project: builds can still be
started by hand or by deploy hook.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg_pool import AsyncConnectionPool

from engine.accounts.github_tokens import load_github_token
from engine.builds.git_checkout import BranchNotFound, CheckoutError, probe_remote
from engine.builds.repo_address import (
    AddressRefused,
    HostUnresolved,
    PinnedHost,
    check_public,
    trusted_hosts,
)
from engine.config import Config
from engine.crypto import SecretBox
from engine.errors import Conflict, Invalid, NotFound, Refused, Unavailable
from engine.github.client import GitHubClient
from engine.preview_access.passwords import check_preview_password, hash_password
from engine.projects.project_rules import (
    MAX_SECRETS,
    check_branch,
    check_command,
    check_framework,
    check_name,
    check_node_version,
    check_repo_url,
    check_secret,
    check_subpath,
)
from engine.sites.site_paths import (
    put_site_back,
    remove_site_files,
    rename_site,
    site_url,
    take_site_down,
)
from engine.storage.stored_releases import StoredReleases
from sql.preview_passwords import set_preview_password
from sql.projects import (
    delete_project,
    get_project,
    insert_project,
    list_projects_json,
    set_production_url,
    set_webhook,
    update_project,
)
from sql.secrets import put_secret

log = logging.getLogger(__name__)

# The branch name an upload-only project's production deploys are recorded under.
UPLOAD_ONLY_BRANCH = "main"
PROBE_TIMEOUT_SECONDS = 20  # for `git ls-remote` when a project is created or repointed
# The remote checks run on threads of their own, so that servers that never answer (up to the
# timeout each) cannot take the threads DNS checks and site renames use.
_PROBES = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="slipway-probe")


class Projects:
    """Every change to a project goes through here, so its rules hold whoever asks."""

    def __init__(self, pool: AsyncConnectionPool, box: SecretBox, github: GitHubClient,
                 config: Config, enqueue: Callable[..., Awaitable[dict[str, Any]]],
                 clear_cache: Callable[[int], None] = lambda project_id: None,
                 stop_builds: Callable[[int], Awaitable[None]] | None = None,
                 protection_changed: Callable[[], Awaitable[None]] | None = None,
                 stored: StoredReleases | None = None) -> None:
        self.pool = pool
        self.box = box
        self.github = github
        self.config = config
        self.enqueue = enqueue  # the build queue's, so new projects build at once
        self.clear_cache = clear_cache  # blocking: a deleted project's cached images go too
        self.stop_builds = stop_builds or _no_builds  # ends a project's builds, waiting
        # Reloads the protected previews the site server reads, so a password set, changed or
        # removed (or a protected project renamed) applies in this process at once.
        self.protection_changed = protection_changed or _nothing_changed
        self.stored = stored  # S3 storage: renames and deletions reach every web process

    async def list_json(self, owner_id: int, before: int | None = None,
                        limit: int = 50) -> str:
        """A page of the owner's projects, newest first (those with an id below `before`),
        already encoded as the API's JSON array of project models."""
        async with self.pool.connection() as conn:
            return await list_projects_json(conn, owner_id, before, limit)

    async def get(self, owner_id: int, project_id: int) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            project = await get_project(conn, owner_id, project_id)
        if project is None:
            raise NotFound("no such project")
        return project

    async def create(self, owner: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Validate, store the project, its secrets and its first build, then register the
        webhook. Without a `repo_url` the project has no Git: nothing to probe or build, it
        is published by upload deploys (`slipway deploy`) only."""
        settings = self._settings(body, owner)
        secret_values = body.get("secrets") or {}
        _check_secrets(secret_values)
        if settings.get("repo_url") is None:
            settings.update(repo_url=None, github_repo=None,
                            branch=settings.get("branch") or UPLOAD_ONLY_BRANCH)
        else:
            pinned = await self._check_address(settings, owner)
            # Without a branch, the remote's HEAD is its default one (GitHub's too).
            settings["branch"] = await self._reachable_branch(owner, settings, pinned)
        try:
            async with self.pool.connection() as conn, conn.transaction():
                project_id = await insert_project(conn, owner["id"], settings)
                for name, value in secret_values.items():
                    nonce, ciphertext = self.box.seal(value, "secret", project_id, name)
                    await put_secret(conn, project_id, name, nonce, ciphertext)
        except UniqueViolation:
            raise _name_taken(settings["name"]) from None
        log.info("user %s created project %s (%s)", owner["id"], project_id, settings["name"])
        if settings.get("github_repo"):
            await self._register_webhook(owner, project_id, settings["github_repo"])
        if settings["repo_url"] is not None:
            await self.enqueue(project_id, trigger="manual", branch=settings["branch"])
        return await self.get(owner["id"], project_id)

    async def update(self, owner: dict[str, Any], project_id: int,
                     body: dict[str, Any]) -> dict[str, Any]:
        current = await self.get(owner["id"], project_id)
        changes = self._settings(body, owner)
        password = await _preview_password_hash(body)
        if not changes and password is _KEEP:
            return current
        pinned = await self._check_address(changes, owner)
        if "repo_url" in changes or "branch" in changes:
            source = {"repo_url": current["repo_url"], "github_repo": current["github_repo"],
                      "branch": current["branch"], **changes}
            if source["repo_url"] is not None:  # an upload-only project's branch is a name
                await self._reachable_branch(owner, source, pinned)
        repo_changed = "repo_url" in changes and changes["repo_url"] != current["repo_url"]
        if repo_changed and current["webhook_id"]:
            await self._remove_webhook(owner, current)
        try:
            async with self.pool.connection() as conn:
                await update_project(conn, owner["id"], project_id, changes)
                if password is not _KEEP:
                    await set_preview_password(conn, owner["id"], project_id, password)
        except UniqueViolation:
            raise _name_taken(changes["name"]) from None
        renamed = changes.get("name", current["name"]) != current["name"]
        if password is not _KEEP or (renamed and current["preview_protected"]):
            await self.protection_changed()
        if changes.get("name", current["name"]) != current["name"]:
            await asyncio.get_running_loop().run_in_executor(
                None, rename_site, self.config.deployments_dir, current["name"], changes["name"])
            if current["production_url"]:
                url = site_url(self.config.public_url, self.config.domain, changes["name"])
                async with self.pool.connection() as conn:
                    await set_production_url(conn, project_id, url)
            if self.stored is not None:
                await self.stored.renamed(project_id)
        if repo_changed and changes.get("github_repo"):
            await self._register_webhook(owner, project_id, changes["github_repo"])
        return await self.get(owner["id"], project_id)

    async def delete(self, owner: dict[str, Any], project_id: int) -> None:
        """Stop the project's builds, take its site down, delete the project with all it owns,
        then remove the webhook (best effort) and the site's files.

        The order matters: a build still running could publish a release after its project
        is gone, so builds end first; the site goes in one rename that either happens (nothing
        of it is served from then on) or is refused before anything is deleted."""
        project = await self.get(owner["id"], project_id)
        await self.stop_builds(project_id)
        loop = asyncio.get_running_loop()
        sites = self.config.deployments_dir
        try:
            aside = await loop.run_in_executor(None, take_site_down, sites, project["name"])
        except OSError as exc:
            raise Unavailable(f"the site's files could not be removed ({exc.strerror or exc}); "
                              "nothing was deleted") from None
        try:
            async with self.pool.connection() as conn:
                deleted = await delete_project(conn, owner["id"], project_id)
        except BaseException:
            await loop.run_in_executor(None, put_site_back, sites, project["name"], aside)
            raise
        if not deleted:
            await loop.run_in_executor(None, put_site_back, sites, project["name"], aside)
            raise NotFound("no such project")
        log.info("user %s deleted project %s (%s)", owner["id"], project_id, project["name"])
        if project["preview_protected"]:
            await self.protection_changed()
        if project["webhook_id"]:
            await self._delete_hook_on_github(owner, project)
        await loop.run_in_executor(None, remove_site_files, aside)
        await loop.run_in_executor(None, self.clear_cache, project_id)
        if self.stored is not None:
            await self.stored.deleted(project_id)

    def _settings(self, body: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
        """The validated, normalised settings present in `body`."""
        settings: dict[str, Any] = {}
        if "name" in body:
            settings["name"] = check_name(body["name"])
        if body.get("repo_url") is not None:
            source = check_repo_url(body["repo_url"], github_url=self.config.github_url,
                                    local_admin=owner["is_local_admin"])
            settings.update(repo_url=source.url, github_repo=source.github_repo)
        if body.get("branch") is not None:
            settings["branch"] = check_branch(body["branch"])
        for field in ("install_command", "build_command"):
            if field in body:
                settings[field] = check_command(body[field], field)
        for field in ("output_dir", "root_dir"):
            if field in body:
                settings[field] = check_subpath(body[field], field)
        if "framework" in body:
            settings["framework"] = check_framework(body["framework"])
        if "node_version" in body:
            settings["node_version"] = check_node_version(body["node_version"],
                                                          self.config.node_versions)
        return settings

    async def _check_address(self, settings: dict[str, Any],
                             owner: dict[str, Any]) -> PinnedHost | None:
        """A GitHub user's repository URL must lead to a public address (see repo_address);
        the addresses checked are the only ones git may then connect to."""
        url = settings.get("repo_url")
        if not url or owner["is_local_admin"] or not url.startswith("https://"):
            return None
        trusted = trusted_hosts(self.config.github_url, self.config.github_api_url)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, check_public, url, trusted)
        except HostUnresolved as exc:
            raise Refused(f"repo_url cannot be reached: {exc}", field="repo_url") from None
        except AddressRefused as exc:
            raise Invalid(f"repo_url is refused: {exc}", field="repo_url") from None

    async def _reachable_branch(self, owner: dict[str, Any], settings: dict[str, Any],
                                pinned: PinnedHost | None) -> str:
        """The branch to build, asked of the remote itself: the one given, which must exist,
        or the remote's HEAD. A repository git cannot reach is refused now, with git's
        reason, rather than failing its first build."""
        token = None
        if settings.get("github_repo"):
            with contextlib.suppress(Refused):
                token = await load_github_token(self.pool, self.box, owner["id"])
        probe = functools.partial(probe_remote, settings["repo_url"], settings.get("branch"),
                                  token=token, timeout=PROBE_TIMEOUT_SECONDS, pinned=pinned)
        try:
            return await asyncio.get_running_loop().run_in_executor(_PROBES, probe)
        except BranchNotFound as exc:
            raise Refused(f"branch cannot be used: {exc}", field="branch") from None
        except CheckoutError as exc:
            raise Refused(f"repo_url cannot be used: {exc}", field="repo_url") from None

    async def _register_webhook(self, owner: dict[str, Any], project_id: int,
                                github_repo: str) -> None:
        secret = secrets.token_hex(32)
        hook_url = f"{self.config.public_url}/api/webhooks/github"
        try:
            token = await load_github_token(self.pool, self.box, owner["id"])
            hook_id = await self.github.create_push_hook(token, github_repo, hook_url, secret)
        except (Refused, Unavailable) as exc:
            log.warning("project %s: webhook on %s not registered: %s", project_id,
                        github_repo, exc)
            async with self.pool.connection() as conn:
                await set_webhook(conn, project_id, hook_id=None, secret_nonce=None,
                                  secret_ciphertext=None, error=str(exc))
            return
        nonce, ciphertext = self.box.seal(secret, "webhook-secret", project_id)
        async with self.pool.connection() as conn:
            await set_webhook(conn, project_id, hook_id=hook_id, secret_nonce=nonce,
                              secret_ciphertext=ciphertext, error=None)

    async def _remove_webhook(self, owner: dict[str, Any], project: dict[str, Any]) -> None:
        """Delete the project's hook on GitHub and forget it."""
        await self._delete_hook_on_github(owner, project)
        async with self.pool.connection() as conn:
            await set_webhook(conn, project["id"], hook_id=None, secret_nonce=None,
                              secret_ciphertext=None, error=None)

    async def _delete_hook_on_github(self, owner: dict[str, Any],
                                     project: dict[str, Any]) -> None:
        """A failure is logged, never blocking: the hook's deliveries then find no project."""
        try:
            token = await load_github_token(self.pool, self.box, owner["id"])
            await self.github.delete_hook(token, project["github_repo"], project["webhook_id"])
        except (Refused, Unavailable) as exc:
            log.warning("project %s: webhook %s on %s not removed: %s", project["id"],
                        project["webhook_id"], project["github_repo"], exc)


async def _no_builds(project_id: int) -> None:
    return None


async def _nothing_changed() -> None:
    return None


_KEEP = object()  # a PATCH without preview_password leaves the protection as it is


async def _preview_password_hash(body: dict[str, Any]) -> object:
    """What a PATCH does to the preview password: _KEEP, None (remove) or the new hash,
    computed off the event loop (scrypt is slow on purpose)."""
    if "preview_password" not in body:
        return _KEEP
    password = check_preview_password(body["preview_password"])
    if password is None:
        return None
    return await asyncio.get_running_loop().run_in_executor(None, hash_password, password)


def _check_secrets(values: dict[str, Any]) -> None:
    if len(values) > MAX_SECRETS:
        raise Invalid(f"at most {MAX_SECRETS} secrets per project", field="secrets")
    for name, value in values.items():
        field = f"secrets.{name}"
        if not isinstance(value, str):
            raise Invalid(f"the value of secret {name} must be a string", field=field)
        check_secret(name, value, at=field)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"the name {name} is already taken", field="name")
