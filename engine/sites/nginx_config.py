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
from engine.sites.immutable_paths import IMMUTABLE_PATH_PATTERNS
from engine.sites.names import RESERVED_NAMES
from engine.sites.site_routes import STATIC_ASSET_EXTENSIONS

# A project label (engine.names.PROJECT_NAME) that also has no "--", which separates a preview
# or release prefix from the project. The lookahead cannot cross a dot, so it reads one label.
PROJECT_PATTERN = r"(?![a-z0-9-]*--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
BUILD_ID_PATTERN = r"[0-9]{1,19}"  # builds.id is a bigint identity.
PREVIEW_SLUG_PATTERN = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"
# Nested 404.html pages looked for, walking up from a path's directory (deeper paths start
# their walk at this depth).
NOT_FOUND_DEPTH = 8

# Larger than any body the API accepts (1 MiB), so Slipway itself still answers with its JSON 413.
PROXY_MAX_BODY = "4m"

_UNQUOTABLE = re.compile(r'["\\$\x00-\x1f\x7f]')
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")
_LISTEN = re.compile(r"^[A-Za-z0-9.:\[\]_ -]+$")


def nginx_config(config: Config, listen: int | str = 80) -> str:
    """The server blocks (and two maps) to include in nginx's `http {}` block.

    `listen` is what every generated `listen` directive says: a port, or `address:port`.
    Raises ConfigError when a setting cannot be written into nginx's syntax, or when releases
    live in S3 (nginx reads files; each web process's cache holds only what it fetched).
    """
    if config.uses_s3:
        raise ConfigError(f"SLIPWAY_STORAGE (--storage) is {config.storage}: nginx can only "
                          "serve releases from the deployments directory (file storage); with "
                          "S3, put nginx in front of Slipway's web processes as a proxy")
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
            "A release by its build id: <build-id>--<project>.<domain>. Its files never\n"
            "# change, so all but HTML is cached forever.",
            f"^(?<build_id>{BUILD_ID_PATTERN})--{project}\\.{sites}$",
            f"{deployments}/$project/releases/$build_id", listen_line,
            cache_control="$slipway_pinned_cache_control"),
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
        "Route matching is Slipway's (clean URLs, canonical 308 redirects, the nearest",
        "404.html of a multi-page site, a single-page app's index.html for its routes,",
        "immutable caching of hashed names and framework folders).",
        "",
        "NOT applied here: a site's _redirects and _headers files. Only Slipway's built-in",
        "server reads them; nginx merely keeps them private (404). A site that relies on",
        "redirect or header rules behaves differently behind this configuration.",
        "Also different from the built-in server: every symbolic link inside a release is",
        "refused (not only those pointing out of it), and a path through a refused link is",
        "answered as if it were missing; a path that climbs above the root is a 400, not a",
        f"404; nested 404.html pages are looked for up to {NOT_FOUND_DEPTH} folders deep; a",
        "canonical redirect of a path whose name is itself percent-encoded (%2E for the dot)",
        "goes to the home page; ETags are nginx's own (modification time and size). Hosts",
        "outside the domain reach Slipway only when named below or when no other server is",
        "nginx's default (Slipway sends every such host to the dashboard; add",
        "default_server to Slipway's listen line below for that).",
    ]
    return "\n".join(f"# {line}".rstrip() for line in lines)


def _maps() -> str:
    immutable = [f'"~{pattern}" "{IMMUTABLE}";' for pattern in IMMUTABLE_PATH_PATTERNS]
    path_cache_control = _block(
        "map $uri $slipway_path_cache_control",
        "# HTML is revalidated so that a deploy shows at once; content-hashed names and the",
        "# frameworks' immutable folders never change at the same URL (engine.sites.",
        "# immutable_paths); the rest may be cached but is asked for again every time.",
        "# A 304 carries no Content-Type, so HTML is also known by its name.",
        '"~*\\.html?$" "no-cache";',
        *immutable,
        f'default "{REVALIDATE}";',
    )
    cache_control = _block(
        "map $sent_http_content_type $slipway_cache_control",
        "# That covers index.html served for a route, 404 pages and redirects.",
        '"~^text/html" "no-cache";',
        "default $slipway_path_cache_control;",
    )
    pinned = _block(
        "map $sent_http_content_type:$uri $slipway_pinned_cache_control",
        '"~^text/html" "no-cache";',
        '"~*\\.html?$" "no-cache";',
        f'default "{IMMUTABLE}";',
    )
    routes = [
        _block(
            "map $request_uri $slipway_request_path",
            "# The path as sent (still percent-encoded), leading slashes made one: redirects",
            "# are built from it, so they are encoded as sent and never lead to //other-host.",
            '"~^/*(?<slipway_raw>[^?]*)" /$slipway_raw;',
        ),
        _block(
            "map $slipway_request_path $slipway_page",
            "# A page file's canonical URL: /docs/index.html -> /docs/, /about.html -> /about.",
            '"~^(?<slipway_folder>.*/)index\\.html$" $slipway_folder;',
            '"~^(?<slipway_stem>.+)\\.html$" $slipway_stem;',
            'default "/";',
        ),
        _block(
            "map $uri $slipway_page_file",
            "# The file that canonical URL would serve instead of the page (none for folders).",
            '"~/index\\.html$" "";',
            '"~^(?<slipway_name>.+)\\.html$" $slipway_name;',
            'default "";',
        ),
        _block(
            "map $slipway_request_path $slipway_unslashed",
            "# /about/ -> /about, when about.html exists and about/index.html does not.",
            '"~^(?<slipway_raw_page>.*[^/])/+$" $slipway_raw_page;',
            'default "/";',
        ),
        _block(
            "map $uri $slipway_unslashed_file",
            '"~^(?<slipway_page_name>.*[^/])/+$" $slipway_page_name;',
            'default "";',
        ),
    ]
    for depth in range(1, NOT_FOUND_DEPTH + 1):
        routes.append(_block(
            f"map $uri $slipway_404_in_{depth}",
            *(["# The 404.html of the path's folder at this depth (from its own folder up)."]
              if depth == 1 else []),
            f'"~^(?<slipway_up_{depth}>(?:/[^/]+){{{depth}}})/" $slipway_up_{depth}/404.html;',
            '# Shallower paths: the release root itself, which is no file, so it is passed.',
            'default "";',
        ))
    upgrade = _block(
        "map $http_upgrade $slipway_connection_upgrade",
        "default upgrade;",
        '"" close;',
    )
    return "\n\n".join([path_cache_control, cache_control, pinned, *routes, upgrade])


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


def _site_server(comment: str, host_pattern: str, root: str, listen_line: str, *,
                 cache_control: str = "$slipway_cache_control") -> str:
    assets = "|".join(sorted(STATIC_ASSET_EXTENSIONS))
    # What a path that names no file answers (engine.sites.site_routes, step 4): a site with
    # a root 404.html is a multi-page site (404, then the nearest 404.html), any other a
    # single-page app (its index.html with 200).
    fallback = ("if (-f $document_root/404.html) {\n    return 404;\n}",
                "try_files /index.html =404;")
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
        f"add_header Cache-Control {cache_control} always;",
        "add_header X-Content-Type-Options nosniff always;",
        "# Redirects say Location: /about, as Slipway's own server does.",
        "absolute_redirect off;",
        "error_page 403 404 =404 @slipway_not_found;",
        "log_not_found off;",
        "# What a file path must not hold (Slipway answers these 404 too): encoded slashes,",
        "# backslashes or NUL, and control characters once decoded.",
        _block('if ($request_uri ~* "%(?:2f|5c|00)|\\\\\\\\")', "return 404;"),
        _block('if ($uri ~ "[\\x00-\\x1f\\x7f]")', "return 404;"),
        "",
        "# Route matching, as engine.sites.site_routes does it. A file through its clean URL:",
        "# /about serves about.html; else /docs answers 308 /docs/ when docs/index.html exists.",
        _block("location /", "try_files $uri $uri.html @slipway_folder;"),
        _block("location = /", "try_files /index.html @slipway_fallback;"),
        "# Regex locations are tried in order and win over \"location /\".",
        _block('location ~ "^/.+/\\.|^/\\.(?!well-known/)"', "# Dotfiles and dot-directories.",
               "return 404;"),
        _block('location ~ "^/_(?:redirects|headers)(?:/|$)"', "return 404;"),
        _block('location ~ "^/\\.well-known/"', "try_files $uri =404;"),
        _block(
            'location ~ "\\.html$"',
            "# /about.html -> 308 /about (unless a file \"about\" exists, which /about would",
            "# serve), /docs/index.html -> 308 /docs/; the query string is kept.",
            'set $slipway_to "";',
            _block("if (-f $request_filename)", "set $slipway_to $slipway_page;"),
            _block("if (-f $document_root$slipway_page_file)", 'set $slipway_to "";'),
            _block("if ($slipway_to)", "return 308 $slipway_to$is_args$args;"),
            "try_files $uri @slipway_fallback;",
        ),
        _block(f'location ~* "\\.(?:{assets})$"',
               "# A static asset: that file or a 404, never a page in its place.",
               "try_files $uri =404;"),
        _block('location ~ "./$"',
               "# /docs/ serves docs/index.html; else /about/ answers 308 /about.",
               "try_files ${uri}index.html @slipway_unslash;"),
        _block("location @slipway_folder",
               _block("if (-f $request_filename/index.html)",
                      "return 308 $slipway_request_path/$is_args$args;"),
               *fallback),
        _block("location @slipway_unslash",
               _block("if (-f $document_root${slipway_unslashed_file}.html)",
                      "return 308 $slipway_unslashed$is_args$args;"),
               *fallback),
        _block("location @slipway_fallback", *fallback),
        _block(
            "location @slipway_not_found",
            "# A single-page app's 404 is nginx's own; a multi-page site's is its nearest",
            "# 404.html, from the path's folder up to the root.",
            _block("if (!-f $document_root/404.html)", "return 404;"),
            "try_files "
            + " ".join(f"$slipway_404_in_{depth}" for depth in range(NOT_FOUND_DEPTH, 0, -1))
            + " /404.html =404;",
        ),
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
