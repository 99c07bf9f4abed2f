"""How to build an app directory: framework, package manager, commands and output directory.

Pure functions over the files of one directory (the checkout joined with the project's root
directory): nothing here runs a process or touches Docker or the network. Every fact found is
explained by a sentence in `BuildPlan.reasons` for the build log, and every project setting given
overrides what detection found.

Decisions worth knowing:

- A package.json naming no framework Slipway knows is built as framework "static": its build
  script runs and the output is assumed to be dist/ (the most common choice); without a build
  script its files are published as they are, like a site without package.json.
- A plain static site publishes its root directory, or public/ when only public/ has an
  index.html.
- Files are read only when they resolve inside the app directory: a symlink pointing elsewhere
  is treated as absent, so a repository cannot make Slipway read the host's files.
- Commands detected here are plain words for `sh -c`; commands from project settings may be any
  shell, and are never repeated in `reasons` since they may carry values the user typed.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.builds.frameworks import FRAMEWORKS
from engine.builds.node_version import VERSION_FILES, NodeChoice, NodeVersionError, choose_node

MAX_JSON_BYTES = 1024 * 1024
MAX_SCAN_BYTES = 256 * 1024
FROM_SETTINGS = "set in project settings"
WHOLE_DIRECTORY = "."
UNKNOWN_OUTPUT = "dist"
# Where Corepack's pnpm and yarn shims go in a generated image (first in its PATH).
COREPACK_BIN = "/usr/local/slipway/corepack"
_SCRIPT_EXTENSIONS = ("js", "mjs", "cjs", "ts", "mts", "cts")
_PACKAGE_MANAGER_FIELD = re.compile(r"^(?P<name>[a-z]+)@(?P<version>[^\s+]+)(\+\S*)?$")
_EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
_SAFE_VERSION = re.compile(r"^\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?$")
_LEADING_MAJOR = re.compile(r"^\s*(?:npm:[^@]+@)?[\^~>=<v\s]*(\d+)")
_NEXT_STATIC_EXPORT = re.compile(r"""output\s*:\s*["'`]export["'`]""")
_PNPM_WORKSPACE_PACKAGES = re.compile(r"^packages\s*:", re.MULTILINE)
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true or false", type(None): "null"}


@dataclass(frozen=True)
class BuildPlan:
    """How to build one app directory, and why: what `detect_build` found or was told."""

    framework: str                # an id of engine.frameworks.FRAMEWORKS
    package_manager: str | None   # "npm", "yarn", "pnpm", "bun"; None when nothing is installed
    install_command: str | None   # run by the image build (see engine.builds.dockerfile)
    build_command: str | None     # run with `sh -c` in a container with the checkout mounted
    output_dir: str               # relative to the app directory; "." is the directory itself
    reasons: tuple[str, ...]      # sentences for the build log
    has_dockerfile: bool          # the app directory has its own Dockerfile
    # What the install step copies into the image: file names, directory names ending in "/",
    # or just "." for the whole directory (workspaces, a custom install command).
    install_files: tuple[str, ...] = ()
    # Run before the install to provide a package manager the base image may lack.
    setup_command: str | None = None
    # The Node major of the base image; None when the repository's Dockerfile is the image,
    # or when nothing is installed or built.
    node: NodeChoice | None = None


class DetectionError(ValueError):
    """The app directory cannot be built as it is; the message tells the user why."""


@dataclass(frozen=True)
class _Framework:
    id: str
    name: str                     # short, for sentences: "Next.js" rather than its full label
    dependency: str
    config_files: tuple[str, ...]
    cli: str                      # the build run through the package manager without a script
    output_dir: str
    needs_config: bool = False    # the dependency alone is not enough (Angular: angular.json)


def _scripts(stem: str) -> tuple[str, ...]:
    return tuple(f"{stem}.{extension}" for extension in _SCRIPT_EXTENSIONS)


# In order of precedence: meta-frameworks first, since most of them depend on Vite too.
_KNOWN = (
    _Framework("astro", "Astro", "astro", _scripts("astro.config"), "astro build", "dist"),
    _Framework("sveltekit", "SvelteKit", "@sveltejs/kit", _scripts("svelte.config"),
               "vite build", "build"),
    _Framework("nuxt", "Nuxt", "nuxt", _scripts("nuxt.config"), "nuxt generate",
               ".output/public"),
    _Framework("gatsby", "Gatsby", "gatsby", _scripts("gatsby-config"), "gatsby build",
               "public"),
    _Framework("nextjs", "Next.js", "next", _scripts("next.config"), "next build", "out"),
    _Framework("docusaurus", "Docusaurus", "@docusaurus/core", _scripts("docusaurus.config"),
               "docusaurus build", "build"),
    _Framework("eleventy", "Eleventy", "@11ty/eleventy",
               (".eleventy.js", *_scripts("eleventy.config")), "eleventy", "_site"),
    _Framework("angular", "Angular", "@angular/core", ("angular.json",), "ng build", "dist",
               needs_config=True),
    _Framework("vue-cli", "Vue CLI", "@vue/cli-service", _scripts("vue.config"),
               "vue-cli-service build", "dist"),
    _Framework("create-react-app", "Create React App", "react-scripts", (),
               "react-scripts build", "build"),
    _Framework("vite", "Vite", "vite", _scripts("vite.config"), "vite build", "dist"),
)
_BY_ID = {framework.id: framework for framework in _KNOWN}

# Lockfiles in order of precedence, with the package manager that writes each.
_LOCKFILES = (("package-lock.json", "npm"), ("npm-shrinkwrap.json", "npm"),
              ("yarn.lock", "yarn"), ("pnpm-lock.yaml", "pnpm"),
              ("bun.lockb", "bun"), ("bun.lock", "bun"))
# Besides package.json and the lockfile, what each package manager reads while installing.
_CONFIG_FILES = {"npm": (".npmrc",), "yarn": (".yarnrc", ".yarnrc.yml", ".npmrc"),
                 "pnpm": ("pnpm-workspace.yaml", ".pnpmfile.cjs", ".npmrc"),
                 "bun": ("bunfig.toml", ".npmrc")}
_CONFIG_DIRS = {"npm": ("patches/",), "yarn": (".yarn/releases/", ".yarn/plugins/",
                                               ".yarn/patches/", "patches/"),
                "pnpm": ("patches/",), "bun": ("patches/",)}
_RUN_SCRIPT = {"npm": "npm run", "yarn": "yarn", "pnpm": "pnpm run", "bun": "bun run"}
_RUN_BINARY = {"npm": "npx", "yarn": "yarn", "pnpm": "pnpm", "bun": "bunx"}


@dataclass(frozen=True)
class NodeOffer:
    """The Node majors builds may use (SLIPWAY_NODE_VERSIONS) and the default one."""

    versions: tuple[int, ...] = (20, 22, 24)
    default: int = 22


def detect_build(app_dir: Path, *, framework: str | None = None,
                 install_command: str | None = None, build_command: str | None = None,
                 output_dir: str | None = None, node_version: int | None = None,
                 node_offer: NodeOffer = NodeOffer()) -> BuildPlan:
    """The plan for building `app_dir`, each given setting overriding what detection found.

    Raises DetectionError, and nothing else, when the directory cannot be built as it is.
    """
    files = _AppFiles(app_dir)
    package = _read_package(files)
    if framework is not None:
        if framework not in FRAMEWORKS:
            raise DetectionError(f"framework must be one of {', '.join(FRAMEWORKS)}")
        chosen, why = framework, FROM_SETTINGS
    else:
        chosen, why = _detect_framework(files, package)
    name = _BY_ID[chosen].name if chosen in _BY_ID else "static site"
    reasons = [f"framework: {name} ({why})"]
    settings = _Settings(install_command, build_command, output_dir)
    if chosen == "static":
        plan = _static_plan(files, package, settings, reasons)
    else:
        if package is None:
            raise DetectionError(f"{name} needs a package.json in the root directory")
        plan = _node_plan(files, package, _BY_ID[chosen], settings, reasons)
    has_dockerfile = files.is_file("Dockerfile")
    if has_dockerfile:
        reasons = _with_own_dockerfile(plan, reasons, settings)
    elif plan["install_command"] or plan["build_command"]:
        plan["node"] = _node(files, package, node_version, node_offer)
        reasons.insert(1, plan["node"].reason)
    return BuildPlan(framework=chosen, reasons=tuple(reasons), has_dockerfile=has_dockerfile,
                     **plan)


def _with_own_dockerfile(plan: dict[str, Any], reasons: list[str],
                         settings: _Settings) -> list[str]:
    """The repository's Dockerfile installs and builds: what detection found about the
    toolchain does not apply, and only a build command from the settings runs after it."""
    kept = [reason for reason in reasons
            if not reason.startswith(("package manager:", "install command:", "install step:",
                                      "build command:"))]
    kept.insert(1, "Dockerfile: the root directory's own installs and builds")
    if settings.build_command is None:
        plan["build_command"] = None
        kept.insert(2, "build command: none (the output directory is copied out of the image)")
    else:
        kept.insert(2, f"build command: {FROM_SETTINGS}, run in the image")
    return kept


def _node(files: _AppFiles, package: _Package | None, setting: int | None,
          offer: NodeOffer) -> NodeChoice:
    version_files = {name: files.read(name, limit=4096, whole=False) for name in VERSION_FILES}
    try:
        return choose_node(setting=setting, version_files=version_files,
                           engines=package.engines_node if package else None,
                           offered=offer.versions, default=offer.default)
    except NodeVersionError as exc:
        raise DetectionError(str(exc)) from None


@dataclass(frozen=True)
class _Settings:
    install_command: str | None
    build_command: str | None
    output_dir: str | None


@dataclass(frozen=True)
class _Package:
    dependencies: dict[str, tuple[str, str]]   # name -> (field it is in, version range)
    scripts: dict[str, str]
    package_manager: str | None
    has_workspaces: bool
    engines_node: str | None = None

    def script(self, name: str) -> str | None:
        value = self.scripts.get(name)
        return value if value and value.strip() else None


@dataclass(frozen=True)
class _Toolchain:
    name: str
    install_command: str
    install_files: tuple[str, ...]
    setup_command: str | None
    reasons: tuple[str, ...]


class _AppFiles:
    """Read access to one directory's files that never leaves it through a symlink."""

    def __init__(self, app_dir: Path) -> None:
        try:
            if not app_dir.is_dir():
                problem = "is not a directory" if app_dir.exists() else "does not exist"
                raise DetectionError(f"the root directory {app_dir.name} {problem} "
                                     "in the repository")
            self.root = app_dir.resolve()
            self.names = frozenset(os.listdir(self.root))
        except (OSError, RuntimeError) as exc:
            raise DetectionError(f"the root directory could not be read: {_why(exc)}") from None

    def is_file(self, relative: str) -> bool:
        real = self._inside(relative)
        try:
            return real is not None and real.is_file()
        except OSError:
            return False

    def is_dir(self, relative: str) -> bool:
        real = self._inside(relative)
        try:
            return real is not None and real.is_dir()
        except OSError:
            return False

    def first_file(self, names: tuple[str, ...]) -> str | None:
        return next((name for name in names if self.is_file(name)), None)

    def read(self, relative: str, *, limit: int, whole: bool = True) -> str | None:
        """The text of a file, None when absent; with `whole`, a larger file is an error,
        otherwise only its first `limit` bytes are read."""
        real = self._inside(relative)
        if real is None or not self.is_file(relative):
            return None
        try:
            with open(real, "rb") as file:
                data = file.read(limit + 1)
        except OSError as exc:
            raise DetectionError(f"{relative} could not be read: {_why(exc)}") from None
        if len(data) > limit:
            if whole:
                raise DetectionError(f"{relative} is larger than {limit // 1024} KiB")
            data = data[:limit]
        try:
            return data.decode("utf-8-sig", errors="strict" if whole else "ignore")
        except UnicodeDecodeError:
            raise DetectionError(f"{relative} is not UTF-8 text") from None

    def _inside(self, relative: str) -> Path | None:
        if relative.split("/")[0] not in self.names:
            return None
        try:
            real = (self.root / relative).resolve()
        except (OSError, RuntimeError):  # a symlink loop
            return None
        return real if real.is_relative_to(self.root) else None


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# --- package.json and other JSON files ---


def _read_json(files: _AppFiles, name: str) -> Any:
    text = files.read(name, limit=MAX_JSON_BYTES)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DetectionError(f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                             f"column {exc.colno}") from None
    except (ValueError, RecursionError):
        raise DetectionError(f"{name} is not valid JSON: it nests or numbers too deeply") from None


def _read_package(files: _AppFiles) -> _Package | None:
    if not files.is_file("package.json"):
        return None
    data = _read_json(files, "package.json")
    if not isinstance(data, dict):
        raise DetectionError(f"package.json must hold a JSON object, not {_json_type(data)}")
    dependencies: dict[str, tuple[str, str]] = {}
    for field in ("dependencies", "devDependencies"):
        for name, version in _object_field(data, field).items():
            dependencies.setdefault(name, (field, version if isinstance(version, str) else ""))
    scripts = {name: value for name, value in _object_field(data, "scripts").items()
               if isinstance(value, str)}
    package_manager = data.get("packageManager")
    if package_manager is not None and not isinstance(package_manager, str):
        raise DetectionError('package.json: packageManager must be a string such as '
                             f'"pnpm@9.1.0", not {_json_type(package_manager)}')
    engines = data.get("engines")
    node = engines.get("node") if isinstance(engines, dict) else None
    return _Package(dependencies, scripts, package_manager, bool(data.get("workspaces")),
                    node if isinstance(node, str) else None)


def _object_field(data: dict[str, Any], field: str) -> dict[str, Any]:
    value = data.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DetectionError(f"package.json: {field} must be an object, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "an object")


# --- framework ---


def _detect_framework(files: _AppFiles, package: _Package | None) -> tuple[str, str]:
    if package is None:
        return "static", "no package.json"
    for framework in _KNOWN:
        found = package.dependencies.get(framework.dependency)
        config = files.first_file(framework.config_files)
        if found and (config or not framework.needs_config):
            why = f"{framework.dependency} in {found[0]}"
            why += f" and {config}" if framework.needs_config else ""
            return framework.id, why
    for framework in _KNOWN:
        config = files.first_file(framework.config_files)
        if config:
            return framework.id, f"{config}"
    return "static", "package.json names no framework Slipway knows"


def _node_plan(files: _AppFiles, package: _Package, framework: _Framework,
               settings: _Settings, reasons: list[str]) -> dict[str, Any]:
    tools = _toolchain(files, package, settings)
    reasons.extend(tools.reasons)
    if settings.build_command is not None:
        build, build_why = settings.build_command, FROM_SETTINGS
    else:
        build, build_why = _framework_build(framework, package, tools.name)
        build_why = f"{build} ({build_why})"
    reasons.append(f"build command: {build_why}")
    if settings.output_dir is not None:
        output, output_why = settings.output_dir, FROM_SETTINGS
    else:
        output, output_why = _framework_output(files, package, framework)
    reasons.append(f"output directory: {output} ({output_why})")
    reasons.extend(_warnings(files, package, framework))
    return {"package_manager": tools.name, "install_command": tools.install_command,
            "build_command": build, "output_dir": output, "install_files": tools.install_files,
            "setup_command": tools.setup_command}


def _framework_build(framework: _Framework, package: _Package, manager: str) -> tuple[str, str]:
    if framework.id == "nuxt":
        # `nuxt build` makes a server; only `nuxt generate` makes a site Slipway can publish.
        if package.script("generate"):
            return f"{_RUN_SCRIPT[manager]} generate", "generate script in package.json"
        return f"{_RUN_BINARY[manager]} nuxt generate", "Nuxt publishes a static site with it"
    if package.script("build"):
        return f"{_RUN_SCRIPT[manager]} build", "build script in package.json"
    return (f"{_RUN_BINARY[manager]} {framework.cli}",
            f"no build script in package.json; {framework.name} default")


def _framework_output(files: _AppFiles, package: _Package,
                      framework: _Framework) -> tuple[str, str]:
    if framework.id == "angular":
        return _angular_output(files)
    if framework.id == "nuxt" and _major(package, "nuxt") == 2:
        return "dist", "Nuxt 2 default"
    return framework.output_dir, f"{framework.name} default"


def _warnings(files: _AppFiles, package: _Package, framework: _Framework) -> list[str]:
    if framework.id == "nextjs" and not _next_exports(files, package):
        return ["warning: next.config does not set output: 'export'; Slipway serves only "
                "static exports, so the build may not write out/"]
    if framework.id == "sveltekit" and "@sveltejs/adapter-static" not in package.dependencies:
        return ["warning: @sveltejs/adapter-static is not a dependency; Slipway serves only "
                "static sites, so the build may not write build/"]
    return []


def _next_exports(files: _AppFiles, package: _Package) -> bool:
    if "next export" in (package.script("build") or ""):
        return True  # Next.js before 13.3 exported with a command rather than a setting
    for name in _BY_ID["nextjs"].config_files:
        text = files.read(name, limit=MAX_SCAN_BYTES, whole=False)
        if text is not None and _NEXT_STATIC_EXPORT.search(text):
            return True
    return False


def _major(package: _Package, dependency: str) -> int | None:
    match = _LEADING_MAJOR.match(package.dependencies.get(dependency, ("", ""))[1])
    return int(match.group(1)) if match else None


def _angular_output(files: _AppFiles) -> tuple[str, str]:
    """Where `ng build` writes, from angular.json: the build target's outputPath, which the
    application builder (Angular 17+) follows with browser/ unless told otherwise."""
    if not files.is_file("angular.json"):
        return "dist", "no angular.json; assuming dist/"
    workspace = _read_json(files, "angular.json")
    projects = workspace.get("projects") if isinstance(workspace, dict) else None
    if not isinstance(projects, dict) or not projects:
        return "dist", "angular.json names no project; assuming dist/"
    name = _angular_project(workspace, projects)
    project = projects[name] if isinstance(projects[name], dict) else {}
    targets = _dict(project.get("architect")) or _dict(project.get("targets"))
    build = _dict(targets.get("build"))
    application = str(build.get("builder", "")).endswith(":application")
    output = _dict(build.get("options")).get("outputPath")
    if isinstance(output, dict):
        base = output.get("base") if isinstance(output.get("base"), str) else f"dist/{name}"
        browser = output.get("browser", "browser")
        browser = browser if isinstance(browser, str) else "browser"
        path = posixpath.join(base, browser) if browser else base
        why = f"outputPath base and browser of project {name} in angular.json"
    elif isinstance(output, str) and output.strip():
        path = posixpath.join(output, "browser") if application else output
        why = f"outputPath of project {name} in angular.json"
        why += ", with browser/ for the application builder" if application else ""
    else:
        path = f"dist/{name}/browser" if application else f"dist/{name}"
        why = f"Angular default for project {name}"
    return _relative_path(path, "angular.json: outputPath"), why


def _angular_project(workspace: dict[str, Any], projects: dict[str, Any]) -> str:
    default = workspace.get("defaultProject")
    if isinstance(default, str) and default in projects:
        return default
    applications = [name for name, project in projects.items()
                    if isinstance(project, dict) and project.get("projectType") == "application"]
    return applications[0] if applications else next(iter(projects))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _relative_path(raw: str, source: str) -> str:
    path = posixpath.normpath(raw.replace("\\", "/"))
    if path.startswith("/") or path == ".." or path.startswith("../") or path == ".":
        raise DetectionError(f"{source} must be a directory inside the project, not {raw!r}")
    return path


# --- package manager ---


def _toolchain(files: _AppFiles, package: _Package, settings: _Settings) -> _Toolchain:
    found = [(lockfile, owner) for lockfile, owner in _LOCKFILES if files.is_file(lockfile)]
    declared = _declared_manager(package)
    reasons = []
    if declared is not None:
        name, version = declared
        why = f"packageManager {name}@{version} in package.json"
        if name in ("pnpm", "yarn") and _EXACT_VERSION.match(version):
            why += "; through Corepack, at exactly that version"
    elif found:
        name, version = found[0][1], None
        why = found[0][0]
        others = [lockfile for lockfile, owner in found if owner != name]
        why += f"; {', '.join(others)} ignored" if others else ""
    else:
        name, version, why = "npm", None, "no lockfile; the default"
    if package.package_manager is not None and declared is None:
        reasons.append(f"packageManager {package.package_manager!r} in package.json is not "
                       "one Slipway knows; ignored")
    lockfile = next((lockfile for lockfile, owner in found if owner == name), None)
    berry = name == "yarn" and _is_yarn_berry(files, version)
    install, install_why = _install(name, lockfile, berry)
    reasons.append(f"package manager: {name} ({why}" + ("; Yarn 2 or later)" if berry else ")"))
    if settings.install_command is not None:
        install = settings.install_command
        reasons.append(f"install command: {FROM_SETTINGS}")
    else:
        reasons.append(f"install command: {install} ({install_why})")
    # Only the manifests go in before the install, whichever command it is, so the installed
    # layer is reused by every commit that leaves them unchanged.
    install_files = _install_files(files, package, name)
    if install_files == (WHOLE_DIRECTORY,):
        reasons.append("install step: copies the whole root directory for the workspaces")
    else:
        reasons.append(f"install step: copies {', '.join(install_files)} first, so the "
                       "installed packages are reused until they change")
    return _Toolchain(name, install, install_files, _setup(name, version, berry), tuple(reasons))


def _declared_manager(package: _Package) -> tuple[str, str] | None:
    match = _PACKAGE_MANAGER_FIELD.match(package.package_manager or "")
    if match is None or match.group("name") not in _RUN_SCRIPT:
        return None
    return match.group("name"), match.group("version")


def _is_yarn_berry(files: _AppFiles, declared_version: str | None) -> bool:
    major = re.match(r"\d+", declared_version or "")
    if major is not None:
        return int(major.group()) >= 2
    if files.is_file(".yarnrc.yml"):
        return True
    # A Yarn 1 lockfile starts with a comment; Yarn 2 and later write a __metadata entry.
    lockfile = files.read("yarn.lock", limit=4096, whole=False) or ""
    return "__metadata:" in lockfile


def _install(name: str, lockfile: str | None, berry: bool) -> tuple[str, str]:
    if lockfile is None:
        expected = next(lockfile for lockfile, owner in _LOCKFILES if owner == name)
        return f"{name} install", f"no {expected}"
    if name == "npm":
        # As Vercel and Netlify do: `npm install` follows the lockfile, and mends one that a
        # newer npm wrote (Node 22's npm 10 refuses some of npm 11's lockfiles in `npm ci`).
        return "npm install", f"{lockfile}; npm install follows it"
    flag = "--immutable" if berry else "--frozen-lockfile"
    return f"{name} install {flag}", lockfile


def _install_files(files: _AppFiles, package: _Package, name: str) -> tuple[str, ...]:
    workspace = files.read("pnpm-workspace.yaml", limit=MAX_SCAN_BYTES, whole=False)
    if package.has_workspaces or (workspace and _PNPM_WORKSPACE_PACKAGES.search(workspace)):
        # Installing workspaces needs each workspace's package.json, wherever it is.
        return (WHOLE_DIRECTORY,)
    lockfiles = tuple(lockfile for lockfile, owner in _LOCKFILES if owner == name)
    present = [path for path in (*lockfiles, *_CONFIG_FILES[name]) if files.is_file(path)]
    present += [path for path in _CONFIG_DIRS[name] if files.is_dir(path.rstrip("/"))]
    return ("package.json", *present)


def _setup(name: str, version: str | None, berry: bool) -> str | None:
    """What provides the package manager before the install. pnpm and Yarn come through
    Corepack, which runs exactly the version the packageManager field names (or its own
    default without one); its shims go to a directory of their own, first in PATH
    (COREPACK_BIN), so a Yarn 1 the base image ships does not stand in the way. Corepack
    refuses a field that is not an exact version (`pnpm@9`): pnpm then comes through npm, and
    Yarn 1 is the one Node images ship, as it is for a Yarn 1 lockfile alone. Bun is not in
    Corepack: it comes through npm."""
    if name == "npm":
        return None
    pinned = f"{name}@{version}" if version and _SAFE_VERSION.match(version) else name
    if name == "bun":
        if version and _SAFE_VERSION.match(version):
            return f"npm install --global {pinned}"
        return "command -v bun >/dev/null 2>&1 || npm install --global bun"
    corepack = (f"(command -v corepack >/dev/null 2>&1 || npm install --global corepack) && "
                f"mkdir -p {COREPACK_BIN} && corepack enable --install-directory {COREPACK_BIN} "
                f"{name}")
    exact = version is not None and _EXACT_VERSION.match(version) is not None
    if version is not None and not exact:
        if name == "pnpm":
            return f"command -v pnpm >/dev/null 2>&1 || npm install --global {pinned}"
        if not berry:
            return None
    if name == "yarn" and version is None and not berry:
        return f"command -v yarn >/dev/null 2>&1 || {{ {corepack}; }}"
    return corepack


# --- static sites and unknown Node projects ---


def _static_plan(files: _AppFiles, package: _Package | None, settings: _Settings,
                 reasons: list[str]) -> dict[str, Any]:
    """A site without a framework Slipway knows: package.json's build script runs if there is
    one (or the build command from the settings), else the files are published as they are."""
    script = package.script("build") if package is not None else None
    builds = script is not None or settings.build_command is not None
    if package is not None and (builds or settings.install_command is not None):
        tools = _toolchain(files, package, settings)
        reasons.extend(tools.reasons)
        plan: dict[str, Any] = {
            "package_manager": tools.name, "install_command": tools.install_command,
            "install_files": tools.install_files, "setup_command": tools.setup_command}
        build = f"{_RUN_SCRIPT[tools.name]} build" if script is not None else None
    elif settings.install_command is not None:
        reasons.append(f"install command: {FROM_SETTINGS}")
        plan = {"package_manager": None, "install_command": settings.install_command,
                "install_files": (WHOLE_DIRECTORY,)}
        build = None
    else:
        reasons.append("install command: none, nothing to install")
        plan = {"package_manager": None, "install_command": None}
        build = None
    if settings.build_command is not None:
        build = settings.build_command
        reasons.append(f"build command: {FROM_SETTINGS}")
    elif build is not None:
        reasons.append(f"build command: {build} (build script in package.json)")
    else:
        reasons.append("build command: none, the files are published as they are")
    output = settings.output_dir
    if output is not None:
        reasons.append(f"output directory: {output} ({FROM_SETTINGS})")
    elif builds:
        output = UNKNOWN_OUTPUT
        reasons.append(f"output directory: {output} (unknown framework: assuming the build "
                       f"writes {output}/; set the output directory in project settings if not)")
    else:
        output, why = _static_site_dir(files, package)
        reasons.append(f"output directory: {output} ({why})")
    return {**plan, "build_command": build, "output_dir": output}


def _static_site_dir(files: _AppFiles, package: _Package | None) -> tuple[str, str]:
    if files.is_file("index.html"):
        return ".", "index.html in the root directory"
    if files.is_file("public/index.html"):
        return "public", "public/index.html, and no index.html in the root directory"
    if package is None:
        raise DetectionError("nothing to build: the root directory has no package.json and no "
                             "index.html (set a build command and output directory in the "
                             "project settings if it builds another way)")
    raise DetectionError("nothing to build: package.json has no build script and names no "
                         "framework Slipway knows, and there is no index.html")
