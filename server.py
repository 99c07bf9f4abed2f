"""Slipway's entry point: read the configuration, open the database, serve everything on one port
(two with HTTPS on).

    python server.py [--reload] [--port 8080] [...]     serve (every flag also reads its variable)
    python server.py login-link [...]                   print a fresh local sign-in link
    python server.py nginx-config [...]                 print an nginx config for the sites

The Application below owns the shared resources and lists every route in the order requests are
matched: ACME challenges, deployed sites by Host (custom domains included), then Socket.io, then
the JSON API, then the dashboard. With SLIPWAY_HTTPS=on it is served on the HTTPS port, and the
plain-HTTP port only answers ACME challenges and redirects to https (`plain_http_application`).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import functools
import logging
import os
import shlex
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import socketio
import tornado.ioloop
import tornado.log
import tornado.netutil
import tornado.web
from tornado.routing import PathMatches, Rule

from engine import __version__
from engine.accounts.api_tokens import ApiTokens
from engine.accounts.credentials import authenticate_bearer
from engine.accounts.login_codes import LOCAL_CODE_TTL_SECONDS, local_sign_in_link
from engine.builds.build_queue import BuildQueue
from engine.builds.build_runner import BuildRunner
from engine.config import Config, ConfigError, add_config_arguments, load_config
from engine.containers.docker_engine import EngineStatus
from engine.crypto import Keys
from engine.deploys.deployer import Deployer
from engine.deploys.uploads import Uploads
from engine.domains.custom_domains import Domains
from engine.domains.dns_txt import TxtLookup
from engine.domains.served_domains import ServedDomains
from engine.github.client import GitHubClient
from engine.github.commit_statuses import CommitStatuses
from engine.github.webhooks import GitHubDeliveries
from engine.notifications.delivery_worker import DeliveryWorker
from engine.notifications.event_observer import NotifyingEmitter
from engine.notifications.notifications import Notifications
from engine.preview_access.cookies import PreviewCookies
from engine.preview_access.protected_sites import ProtectedSites
from engine.preview_access.unlock import PreviewUnlock
from engine.projects.deploy_hooks import DeployHooks
from engine.projects.projects import Projects
from engine.projects.secrets import Secrets
from engine.sites.nginx_config import nginx_config
from engine.sites.site_paths import host_url
from engine.storage.release_mirror import ReleaseMirror
from engine.storage.stored_releases import release_storage
from engine.tls.certificate_policy import CertificatePolicy
from engine.tls.certificates import AcmeSettings, Certificates
from engine.tls.renewals import keep_renewing
from engine.tls.tls_contexts import TLSContexts
from handlers.access_log import log_request
from handlers.acme_challenge import CHALLENGE_PATH, AcmeChallengeHandler
from handlers.auth import (
    GitHubCallbackHandler,
    GitHubLoginHandler,
    LogoutHandler,
    MeHandler,
    ProvidersHandler,
    SessionHandler,
)
from handlers.base import API404Handler
from handlers.builds import (
    BuildCacheHandler,
    BuildCancelHandler,
    BuildHandler,
    BuildLogsHandler,
    ProjectBuildsHandler,
)
from handlers.dashboard import DashboardFiles, DashboardHandler, content_security_policy
from handlers.deploy_hooks import (
    DeployHookCreateHandler,
    DeployHookHandler,
    DeployHooksHandler,
    DeployHookTriggerHandler,
)
from handlers.deployments import ProjectDeploymentsHandler, RollbackHandler
from handlers.domains import DomainHandler, DomainsHandler, DomainVerifyHandler
from handlers.github import GitHubReposHandler
from handlers.health import HealthHandler
from handlers.http_server import SlipwayHTTPServer
from handlers.https_redirect import HTTPSRedirectHandler
from handlers.https_server import HTTPSServer
from handlers.notifications import (
    NotificationDeliveriesHandler,
    NotificationHandler,
    NotificationsHandler,
    NotificationTestHandler,
)
from handlers.projects import ProjectHandler, ProjectsHandler
from handlers.realtime import (
    SocketEmitter,
    SocketRevocations,
    create_socket_server,
    redis_manager,
)
from handlers.secrets import SecretHandler, SecretsHandler
from handlers.site_lock import SiteLock, SiteUnlockHandler, SiteUnlockMatcher
from handlers.sites import SiteHostMatcher, SiteServer
from handlers.strict_transport import StrictTransportSecurity
from handlers.tokens import TokenHandler, TokensHandler
from handlers.webhooks import DeliveriesHandler, GitHubWebhookHandler, RedeliverHandler
from sql.database import Database, DatabaseUnavailable
from sql.notices import NoticeListener

ROOT = Path(__file__).resolve().parent
# Where `npm run build` (in frontend/) writes the dashboard; tests serve a directory of their own.
DASHBOARD_DIR = ROOT / "frontend" / "dist"
log = logging.getLogger("slipway")

# The largest request Tornado will read at all; API handlers set far smaller limits of their own.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
SHUTDOWN_GRACE_SECONDS = 10


class StartupError(Exception):
    """Slipway cannot start; the message is one line naming what to fix."""


class Slipway(tornado.web.Application):
    """The one Tornado Application: routes, and the resources handlers share."""

    def __init__(self, config: Config, db: Database, *,
                 dashboard_dir: Path = DASHBOARD_DIR) -> None:
        self.config = config
        self.db = db
        self.keys = Keys.derive(config.secret_key)
        self.github = GitHubClient(config.github_url, config.github_api_url,
                                   config.github_client_id, config.github_client_secret)
        self.notices = NoticeListener(db.url)
        manager = None
        if config.redis_url:
            manager = redis_manager(config.redis_url, config.secret_key,
                                    write_only=not config.serves_web)
        self.sio: socketio.AsyncServer = create_socket_server(
            config.public_url, lambda token: authenticate_bearer(db.pool, self.keys.jwt, token),
            manager)
        self.socket_revocations = SocketRevocations(self.sio, db.pool, self.notices)
        loop = tornado.ioloop.IOLoop.current().asyncio_loop
        # Notifications observe the engine's events on their way to the browsers.
        self.notification_worker = DeliveryWorker(db.pool, self.keys.box)
        self.notifications = Notifications(db.pool, self.keys.box, config.public_url,
                                           wake=self.notification_worker.wake)
        self.events = NotifyingEmitter(SocketEmitter(self.sio, loop),
                                       self.notifications.notify, loop)
        # The deployer queues rebuilds (a rollback to a pruned release) and the queue's runner
        # deploys: the queue is looked up when needed, so construction order does not matter.
        self.mirror, self.stored = release_storage(config, db.pool, self.notices)
        self.deployer = Deployer(db.pool, self.events, config,
                                 enqueue=lambda *a, **k: self.builds.enqueue(*a, **k),
                                 store=self.stored)
        runner = BuildRunner(pool=db.pool, loop=loop, box=self.keys.box, emitter=self.events,
                             config=config, deploy=self.deployer.deploy,
                             cache_secret=self.keys.build_cache,
                             statuses=CommitStatuses(db.pool, self.keys.box, self.github,
                                                     config.public_url))
        self.engine_status = EngineStatus(config.docker_host, config.build_network)
        self.builds = BuildQueue(db.pool, runner, self.events,
                                 concurrency=config.build_concurrency,
                                 timeout=config.build_timeout, runner_id=config.runner_id,
                                 notices=self.notices, roles=",".join(sorted(config.roles)))
        self.uploads = Uploads(db.pool, self.events, config, self.deployer,
                               announce=self.builds.announce)
        self.protected_sites = ProtectedSites(db.pool)
        self.projects = Projects(db.pool, self.keys.box, self.github, config,
                                 enqueue=self.builds.enqueue, clear_cache=runner.clear_cache,
                                 stop_builds=self.builds.stop_project,
                                 protection_changed=self.protected_sites.refresh,
                                 stored=self.stored)
        self.secrets = Secrets(db.pool, self.keys.box)
        self.api_tokens = ApiTokens(db.pool)
        self.deliveries = GitHubDeliveries(db.pool, self.keys.box, config,
                                           enqueue=self.builds.enqueue,
                                           remove_preview=self.deployer.remove_preview)
        self.deploy_hooks = DeployHooks(db.pool, config.public_url,
                                        enqueue=self.builds.enqueue)
        preview_cookies = PreviewCookies(self.keys.preview_cookie)
        sites = SiteServer(config.deployments_dir,
                           lock=SiteLock(self.protected_sites, preview_cookies),
                           fetcher=self.mirror)
        self.served_domains = ServedDomains(db.pool, self.origin)
        self.certificates = Certificates(db.pool, self.keys.box, AcmeSettings(
            config.acme_directory, config.acme_email,
            str(config.acme_ca_bundle) if config.acme_ca_bundle else None))
        self.certificate_policy = CertificatePolicy(
            db.pool, config, self.served_domains,
            published=functools.partial(_published, sites, self.mirror))
        self.tls = TLSContexts(self.certificates, self.certificate_policy.allowed,
                               config.data_dir / "tls")
        self.domains = Domains(db.pool, config, TxtLookup(config.dns_resolver),
                               self.served_domains,
                               certify=self.certificates.ensure if config.https else None)
        self._background: list[asyncio.Task[None]] = []
        project = r"/api/projects/([0-9]+)"
        domain = project + r"/domains/([^/]+)"
        routes = [
            Rule(PathMatches(CHALLENGE_PATH), AcmeChallengeHandler),
            Rule(SiteUnlockMatcher(config.domain), SiteUnlockHandler,
                 {"unlock": PreviewUnlock(db.pool, preview_cookies)}),
            Rule(SiteHostMatcher(config.domain, self.served_domains), sites),
            (r"/socket\.io/", socketio.get_tornado_handler(self.sio)),
            (r"/api/health", HealthHandler),
            (r"/api/auth/providers", ProvidersHandler),
            (r"/api/auth/github", GitHubLoginHandler),
            (r"/api/auth/github/callback", GitHubCallbackHandler),
            (r"/api/auth/session", SessionHandler),
            (r"/api/auth/logout", LogoutHandler),
            (r"/api/me", MeHandler),
            (r"/api/tokens", TokensHandler),
            (r"/api/tokens/([0-9]+)", TokenHandler),
            (r"/api/github/repos", GitHubReposHandler),
            (r"/api/projects", ProjectsHandler),
            (project, ProjectHandler),
            (project + r"/secrets", SecretsHandler),
            (project + r"/secrets/([^/]+)", SecretHandler),
            (project + r"/deploy-hook", DeployHookCreateHandler),
            (project + r"/deploy-hooks", DeployHooksHandler),
            (project + r"/deploy-hooks/([0-9]+)", DeployHookHandler),
            (project + r"/builds", ProjectBuildsHandler),
            (project + r"/build-cache", BuildCacheHandler),
            (project + r"/domains", DomainsHandler),
            (domain, DomainHandler),
            (domain + r"/verify", DomainVerifyHandler),
            (project + r"/notifications", NotificationsHandler),
            (project + r"/notifications/([0-9]+)", NotificationHandler),
            (project + r"/notifications/([0-9]+)/deliveries", NotificationDeliveriesHandler),
            (project + r"/notifications/([0-9]+)/test", NotificationTestHandler),
            (r"/api/builds/([0-9]+)", BuildHandler),
            (r"/api/builds/([0-9]+)/logs", BuildLogsHandler),
            (r"/api/builds/([0-9]+)/cancel", BuildCancelHandler),
            (project + r"/deployments", ProjectDeploymentsHandler),
            (r"/api/deployments/([0-9]+)/rollback", RollbackHandler),
            (r"/api/webhooks/github", GitHubWebhookHandler),
            (project + r"/deliveries", DeliveriesHandler),
            (r"/api/deliveries/([0-9]+)/redeliver", RedeliverHandler),
            (r"/api/hooks/([^/]+)", DeployHookTriggerHandler),
            (r"/api(?:/.*)?", API404Handler),
            (r"/(.*)", DashboardHandler, {
                "files": DashboardFiles(dashboard_dir),
                "policy": content_security_policy(config.github_url),
            }),
        ]
        super().__init__(routes, log_function=log_request, xsrf_cookies=False,
                         cookie_secret=self.keys.cookie)
        self.add_transform(StrictTransportSecurity)

    def origin(self, host: str) -> str:
        """Where visitors reach `host`: https with HTTPS on, else the public URL's scheme."""
        if self.config.https:
            return self.config.https_url(host)
        return host_url(self.config.public_url, host)

    async def start(self, *, builds: bool = True) -> None:
        """Start the build queue (tests may leave builds queued) and the background work:
        custom domains reloaded and checked, notifications delivered, certificates renewed ahead of
        need (HTTPS on)."""
        await self.builds.start(dispatch=builds and self.config.runs_builds)
        loop = asyncio.get_running_loop()
        work = [self.notices.run(), self.notification_worker.run()]
        if self.mirror is not None:
            await self.mirror.start()
            work.append(self.mirror.keep_fresh())
        if self.config.serves_web:
            await loop.run_in_executor(None, self.uploads.remove_leftovers)
            await self.served_domains.refresh()
            await self.protected_sites.refresh()
            work += [self.served_domains.keep_fresh(), self.domains.keep_checking(),
                     self.protected_sites.keep_fresh()]
            if self.config.https:
                work.append(keep_renewing(self.certificates, self.certificate_policy.allowed))
        self._background = [loop.create_task(job) for job in work]

    async def close(self) -> None:
        """Release what the Application owns: builds, sockets' tasks, then the database."""
        try:
            for task in self._background:
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            await self.domains.close()
            if self.mirror is not None:
                await self.mirror.close()
            self.uploads.close()
            await self.builds.stop()
            await self.events.idle()  # the last builds' notifications queued, sent next start
            await self.notification_worker.close()
            await self.sio.shutdown()
        finally:
            await self.db.close()


async def _published(sites: SiteServer, mirror: ReleaseMirror | None, label: str) -> bool:
    """Whether a site label has a release to serve (and so may get a certificate)."""
    if mirror is not None and mirror.wants(label):
        await mirror.fetch_host(label)
    return sites.files.site(label) is not None


def plain_http_application(app: Slipway) -> tornado.web.Application:
    """What the plain-HTTP port serves with HTTPS on: ACME's HTTP-01 answers, and a 308 to
    https (same host, path and query, the HTTPS port) for everything else."""
    plain = tornado.web.Application([
        Rule(PathMatches(CHALLENGE_PATH), AcmeChallengeHandler),
        (r".*", HTTPSRedirectHandler),
    ], log_function=log_request)
    plain.db, plain.config = app.db, app.config
    return plain


async def serve(config: Config, on_listening: asyncio.Future[int] | None = None) -> None:
    """Run until SIGINT or SIGTERM, then stop accepting, close the pool, stop the database.
    A worker-only process (SLIPWAY_ROLES=worker) listens on no port: it runs builds."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    sockets, tls_sockets = _bind_all(config) if config.serves_web else ([], [])
    try:
        db = await Database.open(config.database_url, config.data_dir)
    except DatabaseUnavailable as exc:
        for sock in sockets + tls_sockets:
            sock.close()
        raise StartupError(f"{_database_setting(config)}: {exc}") from None
    app = Slipway(config, db)
    await app.start()
    options = {"max_body_size": MAX_REQUEST_BYTES, "idle_connection_timeout": 120}
    servers: list[SlipwayHTTPServer] = []
    if config.serves_web and config.https:
        servers = [SlipwayHTTPServer(plain_http_application(app), **options),
                   HTTPSServer(app, tls=app.tls, **options)]
    elif config.serves_web:
        servers = [SlipwayHTTPServer(app, **options)]
    try:
        port = _start_listening(config, servers, sockets, tls_sockets)
        if config.serves_web and not config.github_oauth_enabled:
            print_sign_in_link(await local_sign_in_link(db.pool, config.public_url))
        if on_listening is not None:
            on_listening.set_result(port)
        await stop.wait()
        log.info("shutting down")
        for server in servers:
            server.stop()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(server.close_all_connections() for server in servers)),
                SHUTDOWN_GRACE_SECONDS)
        except TimeoutError:
            log.warning("connections still open after %d s; closing anyway",
                        SHUTDOWN_GRACE_SECONDS)
    finally:
        await app.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _start_listening(config: Config, servers: list[SlipwayHTTPServer],
                     sockets: list[socket.socket], tls_sockets: list[socket.socket]) -> int:
    """Hand the bound sockets to the servers and say where everything is; the plain-HTTP
    port (0 for a worker-only process, which serves nothing)."""
    if not servers:
        log.info("Slipway %s worker %s: running up to %d builds at once; no HTTP port "
                 "(SLIPWAY_ROLES=worker)", __version__, config.runner_id,
                 config.build_concurrency)
        return 0
    servers[0].add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    roles = "" if config.runs_builds else " (web only: builds run on workers)"
    log.info("Slipway %s listening on %s:%d%s", __version__, config.bind, port, roles)
    if config.https:
        servers[1].add_sockets(tls_sockets)
        https_port = tls_sockets[0].getsockname()[1]
        log.info("HTTPS on %s:%d with certificates from %s; plain HTTP on %d answers "
                 "ACME challenges and redirects to https", config.bind, https_port,
                 config.acme_directory, port)
        log.info("dashboard: %s   sites: https://<project>.%s%s", config.public_url,
                 config.domain, "" if https_port == 443 else f":{https_port}")
    else:
        log.info("dashboard: %s   sites: http://<project>.%s:%d", config.public_url,
                 config.domain, port)
    return port


def print_sign_in_link(link: str) -> None:
    """The local administrator's link goes to the terminal, never into the log."""
    print(f"\n  Sign in as the local administrator (single use, valid "
          f"{LOCAL_CODE_TTL_SECONDS // 60} minutes):\n\n      {link}\n\n"
          f"  Another link at any time (same settings): {login_link_command()}\n", flush=True)


def login_link_command() -> str:
    """The command that works from where the user is: `scripts/run` brings the venv (plain
    `python server.py` fails outside it)."""
    script = ROOT / "scripts" / "run"
    if Path.cwd().resolve() == ROOT:
        return "./scripts/run login-link"
    return f"{shlex.quote(str(script))} login-link"


async def login_link(config: Config) -> None:
    """`server.py login-link`: works beside a running server (same database)."""
    try:
        db = await Database.open(config.database_url, config.data_dir, max_size=1)
    except DatabaseUnavailable as exc:
        raise StartupError(f"{_database_setting(config)}: {exc}") from None
    try:
        print_sign_in_link(await local_sign_in_link(db.pool, config.public_url))
    finally:
        await db.close()


def _bind_all(config: Config) -> tuple[list[socket.socket], list[socket.socket]]:
    """The plain-HTTP sockets, and the HTTPS ones when HTTPS is on."""
    plain_setting = ("SLIPWAY_HTTP_PORT (--http-port)" if config.http_port is not None
                     else "SLIPWAY_PORT (--port)")
    plain = _bind(config, config.plain_http_port, plain_setting)
    if not config.https:
        return plain, []
    try:
        return plain, _bind(config, config.https_port, "SLIPWAY_HTTPS_PORT (--https-port)")
    except StartupError:
        for sock in plain:
            sock.close()
        raise


def _bind(config: Config, port: int, setting: str) -> list[socket.socket]:
    """Listen on `port`; a failure names the setting at fault: the bind address when it
    does not resolve or is not this machine's, else the port (in use, privileged)."""
    try:
        return tornado.netutil.bind_sockets(port, config.bind)
    except OSError as exc:
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            setting = "SLIPWAY_BIND (--bind)"
        raise StartupError(
            f"{setting}: cannot listen on {config.bind}:{port}: {exc.strerror or exc}"
        ) from None


def _database_setting(config: Config) -> str:
    if config.database_url:
        return "DATABASE_URL (--database-url)"
    return "SLIPWAY_DATA_DIR (--data-dir)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="server.py",
        description="Slipway: push a Git repository, get a site. Serves API, dashboard and sites.",
    )
    parser.add_argument("command", nargs="?", default="serve",
                        choices=["serve", "login-link", "nginx-config"],
                        help="serve (default), print a fresh local sign-in link, or print an "
                             "nginx configuration serving the sites")
    parser.add_argument("--reload", action="store_true",
                        help="restart when a Python or SQL source file changes (development)")
    add_config_arguments(parser)
    return parser


def configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(tornado.log.LogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("SLIPWAY_LOG_LEVEL", "INFO").upper())


def run_with_reload(argv: Sequence[str]) -> int:
    """Run the server in a child process that watchfiles restarts when sources change."""
    from watchfiles import PythonFilter, run_process

    # A shell starting us in the background hands down SIGINT ignored; Ctrl-C must still stop
    # the watcher, which then stops the server (and so the embedded database) with SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    command = shlex.join([sys.executable, str(ROOT / "server.py"),
                          *(a for a in argv if a != "--reload")])
    watched = [ROOT / "server.py", ROOT / "engine", ROOT / "handlers", ROOT / "sql"]
    log.info("watching %s for changes", ", ".join(str(p.relative_to(ROOT)) for p in watched))
    run_process(*watched, target=command, target_type="command",
                watch_filter=PythonFilter(extra_extensions=(".sql",)), sigint_timeout=15)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        config = load_config(args, os.environ)
    except ConfigError as exc:
        print(f"slipway: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "nginx-config":
        try:
            print(nginx_config(config), end="")
        except ConfigError as exc:
            print(f"slipway: configuration error: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.reload and args.command == "serve":
        return run_with_reload(argv)
    try:
        asyncio.run(serve(config) if args.command == "serve" else login_link(config))
    except StartupError as exc:
        print(f"slipway: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
