"""An nginx configuration that serves the deployments directory the way Slipway's own server does.

For installations that outgrow one Python process: nginx serves every site straight from
`<deployments dir>/<project>/{current,releases/<build-id>,previews/<slug>}` and proxies the
dashboard and API hosts to Slipway. The text is a function of the configuration only (no clock,
no file system), so generating it twice gives the same file and a diff shows what changed.
"""

from __future__ import annotations

import ipaddress
import re
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

from engine.config import SETTINGS, Config, ConfigError
from engine.sites.names import RESERVED_NAMES

# A project label (engine.names.PROJECT_NAME) that also has no "--", which separates a preview
# or release prefix from the project. The lookahead cannot cross a dot, so it reads one label.
PROJECT_PATTERN = r"(?![a-z0-9-]*--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
BUILD_ID_PATTERN = r"[0-9]{1,19}"  # builds.id is a bigint identity.
PREVIEW_SLUG_PATTERN = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"

# A content-hashed file name: a hex or base36 segment of 8 or more characters holding at least
# one digit, set off by ".", "-" or "_", right before the extension(s): app.3f9a1c2b.js,
# index-4b1e9f0a.css, main.8f3e2a1b.chunk.js. Matched case-insensitively against the path.
HASHED_ASSET_PATTERN = r"[._-](?=[a-z0-9]*[0-9])[a-z0-9]{8,}(?:\.[a-z0-9]+)+$"
IMMUTABLE = "public, max-age=31536000, immutable"

# Larger than any body the API accepts (1 MiB), so Slipway itself still answers with its JSON 413.
PROXY_MAX_BODY = "4m"

_UNQUOTABLE = re.compile(r'["\\$\x00-\x1f\x7f]')
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")
_LISTEN = re.compile(r"^[A-Za-z0-9.:\[\]_ -]+$")


def nginx_config(config: Config, listen: int | str = 80) -> str:
    """The server blocks (and two maps) to include in nginx's `http {}` block.

    `listen` is what every generated `listen` directive says: a port, or `address:port`.
    Raises ConfigError when a setting cannot be written into nginx's syntax.
    """
    domain = _domain(config)
    deployments = _deployments_dir(config)
    listen_line = f"listen {_listen(listen)};"
    sites = domain.replace(".", r"\.")
    project = f"(?<project>{PROJECT_PATTERN})"
    blocks = [
        _header(config, domain, deployments),
        _maps(),
        _slipway_server(config, domain, listen_line),
        _site_server(
            "A release by its build id: <build-id>--<project>.<domain>.",
            f"^(?<build_id>{BUILD_ID_PATTERN})--{project}\\.{sites}$",
            f"{deployments}/$project/releases/$build_id", listen_line),
        _site_server(
            "A branch preview: git-<slug>--<project>.<domain>.",
            f"^git-(?<slug>{PREVIEW_SLUG_PATTERN})--{project}\\.{sites}$",
            f"{deployments}/$project/previews/$slug", listen_line),
        _site_server(
            "A project's live release: <project>.<domain>.",
            f"^{project}\\.{sites}$",
            f"{deployments}/$project/current", listen_line),
        _block(
            "server",
            "# Any other host under the domain names no site (a.b.<domain>, bad labels): 404,",
            "# as Slipway answers. Regex server names are tried in order, so this one is last.",
            listen_line,
            f'server_name "~\\.{sites}$";',
            "return 404;",
        ),
    ]
    return "\n\n".join(blocks) + "\n"


def _header(config: Config, domain: str, deployments: str) -> str:
    env = {s.attr: s.env for s in SETTINGS}
    settings = [
        f"{env['domain']}={domain}",
        f"{env['deployments_dir']}={deployments}",
        f"{env['port']}={config.port}",
        f"{env['bind']}={config.bind}",
        f"{env['public_url']}={config.public_url}",
    ]
    lines = [
        "nginx configuration for Slipway, printed by `python server.py nginx-config`.",
        "Generated from these settings; generate it again when one of them changes:",
        *(f"    {setting}" for setting in settings),
        "",
        "Include it inside the http {} block of nginx.conf (on Debian: save it as",
        "/etc/nginx/conf.d/slipway.conf); that block must include mime.types, as Debian's does.",
        "nginx reads the sites straight from the deployments directory, so the user its",
        "workers run as (www-data on Debian) needs read access to it. The dashboard and API",
        "hosts are proxied to Slipway; SLIPWAY_BIND=127.0.0.1 keeps Slipway itself off the",
        "network. Plain HTTP only: for HTTPS add `listen 443 ssl` and a certificate covering",
        f"{domain} and *.{domain} to each server block.",
        "",
        "NOT applied here: a site's _redirects and _headers files. Only Slipway's built-in",
        "server reads them; nginx merely keeps them private (404). A site that relies on",
        "redirect or header rules behaves differently behind this configuration.",
        "Also different from the built-in server: every symbolic link inside a release is",
        "refused (not only those pointing out of it), and a path without extension through",
        "a refused link gets the app's index.html as if it were missing; a path that climbs",
        "above the root is a 400, not a 404; ETags are nginx's own (modification time and",
        "size). Hosts outside the domain reach Slipway only when named below or when no other",
        "server is nginx's default (Slipway sends every such host to the dashboard; add",
        "default_server to Slipway's listen line below for that).",
    ]
    return "\n".join(f"# {line}".rstrip() for line in lines)


def _maps() -> str:
    cache_control = _block(
        'map "$sent_http_content_type:$uri" $slipway_cache_control',
        "# HTML must be revalidated so a deploy shows at once (that covers SPA fallbacks",
        "# and 404.html too); content-hashed assets never change at the same URL.",
        '"~^text/html" "no-cache";',
        "# A 304 carries no Content-Type, so HTML is also known by its name.",
        '"~*\\.html?$" "no-cache";',
        f'"~*{HASHED_ASSET_PATTERN}" "{IMMUTABLE}";',
        'default "";',
    )
    upgrade = _block(
        "map $http_upgrade $slipway_connection_upgrade",
        "default upgrade;",
        '"" close;',
    )
    return f"{cache_control}\n\n{upgrade}"


def _slipway_server(config: Config, domain: str, listen_line: str) -> str:
    # Exact and ".name" (name plus *.name) server names win over every regex below, so a
    # reserved label can never be taken for a project, whatever the site patterns say.
    names = [domain, *(f".{name}.{domain}" for name in sorted(RESERVED_NAMES))]
    public_host = _public_host(config)
    if public_host and not _is_slipway_host(public_host, domain):
        names.append(public_host)
    upstream = f"http://{_upstream_host(config)}:{config.port}"
    forwarded = [
        "proxy_http_version 1.1;",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Host $host;",
    ]
    return _block(
        "server",
        "# Slipway itself: the dashboard, the API, webhooks and Socket.io.",
        listen_line,
        "server_name " + "\n            ".join(names) + ";",
        f"client_max_body_size {PROXY_MAX_BODY};",
        _block("location /", f"proxy_pass {upstream};", *forwarded),
        _block(
            "location /socket.io/",
            f"proxy_pass {upstream};",
            *forwarded,
            "proxy_set_header Upgrade $http_upgrade;",
            "proxy_set_header Connection $slipway_connection_upgrade;",
        ),
    )


def _site_server(comment: str, host_pattern: str, root: str, listen_line: str) -> str:
    return _block(
        "server",
        f"# {comment}",
        listen_line,
        f'server_name "~{host_pattern}";',
        f'root "{root}";',
        "# The root is a symbolic link by design (current and previews/<slug> are swapped",
        "# atomically by rename). With from=$document_root nginx opens that initial part as",
        "# usual, then every later component with O_NOFOLLOW: any link inside the release is",
        "# refused (403, answered as 404 below), wherever it points.",
        "disable_symlinks on from=$document_root;",
        "# Look the link up on every request, so a deploy or rollback shows at once.",
        "open_file_cache off;",
        "etag on;",
        "# x.js.gz beside x.js is sent to clients that accept gzip, with Vary: Accept-Encoding.",
        "gzip_static on;",
        "gzip_vary on;",
        "# x.js.br needs the ngx_brotli module, which Debian's nginx packages lack",
        "# (apt install libnginx-mod-http-brotli-static adds it). Once it is loaded:",
        "#     brotli_static on;",
        "add_header Cache-Control $slipway_cache_control always;",
        "add_header X-Content-Type-Options nosniff always;",
        "# The site's own 404.html; when it has none, nginx's plain 404 (error pages do not",
        "# recurse).",
        "error_page 403 404 =404 /404.html;",
        "log_not_found off;",
        _block(
            "location /",
            "# No file extension: a client-side route, so fall back to the app's index.html.",
            "try_files $uri $uri/index.html /index.html;",
        ),
        "# Regex locations are tried in order and win over \"location /\".",
        _block('location ~ "/\\.(?!well-known/)"', "# Dotfiles and dot-directories.",
               "return 404;"),
        _block('location ~ "/_(?:redirects|headers)$"', "return 404;"),
        _block('location ~ "\\.[^/]*$"', "# A file extension: that file or a 404."),
    )


def _block(head: str, *body: str) -> str:
    inner = "\n".join(textwrap.indent(item, "    ") for item in body)
    return f"{head} {{\n{inner}\n}}"


def _domain(config: Config) -> str:
    domain = config.domain.lower().rstrip(".")
    if not _DOMAIN.match(domain) or ".." in domain:
        raise ConfigError(f"{_label('domain')} must be a host name to serve sites under nginx")
    return domain


def _deployments_dir(config: Config) -> str:
    path = str(Path(config.deployments_dir).expanduser().absolute())
    bad = _UNQUOTABLE.search(path)
    if bad:
        raise ConfigError(f"{_label('deployments_dir')} contains {bad[0]!r}, which nginx "
                          f"cannot take in a path: {path!r}")
    return path


def _listen(listen: int | str) -> str:
    value = str(listen).strip()
    if not value or not _LISTEN.match(value):
        raise ValueError(f"not an nginx listen address: {listen!r}")
    return value


def _public_host(config: Config) -> str | None:
    host = urlsplit(config.public_url).hostname
    if not host:
        return None
    host = host.rstrip(".")
    return f"[{host}]" if ":" in host else host


def _is_slipway_host(host: str, domain: str) -> bool:
    if host == domain:
        return True
    return any(host == f"{name}.{domain}" or host.endswith(f".{name}.{domain}")
               for name in RESERVED_NAMES)


def _upstream_host(config: Config) -> str:
    if config.port == 0:
        raise ConfigError(f"{_label('port')} must be a fixed port for nginx to proxy to")
    try:
        address = ipaddress.ip_address(config.bind)
    except ValueError:
        return config.bind  # a host name Slipway binds to
    if address.is_unspecified:
        return "127.0.0.1" if address.version == 4 else "[::1]"
    return str(address) if address.version == 4 else f"[{address}]"


def _label(attr: str) -> str:
    setting = next(s for s in SETTINGS if s.attr == attr)
    return setting.label
