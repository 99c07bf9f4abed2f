"""Which Node major a build runs on, and why: the contract's order of precedence.

The project's `node_version` setting wins; then `.nvmrc` or `.node-version`; then the highest
offered major (SLIPWAY_NODE_VERSIONS) that satisfies package.json's `engines.node`; then
SLIPWAY_NODE_DEFAULT. A version file naming a major this Slipway does not offer is an error
rather than a silent substitute: the user asked for it by name. An `engines.node` range no
offered major satisfies, or one that cannot be read, falls back to the default with a warning,
as npm itself only warns about engines.

Ranges are npm's (node-semver) grammar, read as intervals of versions: a major satisfies a range
when some version of that major does, so `>=22.12.0` is met by 22 and 24, and `^20.19 || >=22`
by 20, 22 and 24. Prerelease tags are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION_FILES = (".nvmrc", ".node-version")
# nvm's names of the LTS lines (`lts/iron`), by major.
LTS_CODENAMES = {"argon": 4, "boron": 6, "carbon": 8, "dubnium": 10, "erbium": 12,
                 "fermium": 14, "gallium": 16, "hydrogen": 18, "iron": 20, "jod": 22,
                 "krypton": 24}
_NEWEST = {"node", "latest", "current", "stable"}
_PART = r"(?:\d+|[xX*])"
_VERSION = re.compile(rf"^v?(?P<major>{_PART})(?:\.(?P<minor>{_PART}))?(?:\.(?P<patch>{_PART}))?"
                      r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_COMPARATOR = re.compile(r"^(?P<op>\^|~>?|>=|<=|>|<|=)?(?P<version>.*)$")
_INFINITY = (1 << 30, 0, 0)

Version = tuple[int, int, int]


class NodeVersionError(ValueError):
    """The project asks for a Node major this Slipway does not offer; the message says so."""


@dataclass(frozen=True)
class NodeChoice:
    major: int
    reason: str        # for the build log: "Node 22 (engines.node >=22.12.0 in package.json)"


def choose_node(*, setting: int | None, version_files: dict[str, str | None],
                engines: str | None, offered: tuple[int, ...], default: int) -> NodeChoice:
    """The Node major for a build. `version_files` maps .nvmrc / .node-version to their text
    (None when absent); `engines` is package.json's engines.node."""
    offer = ", ".join(map(str, offered))
    if setting is not None:
        if setting not in offered:
            raise NodeVersionError(f"Node {setting} (node_version in project settings) is not "
                                   f"offered here; SLIPWAY_NODE_VERSIONS offers {offer}")
        return NodeChoice(setting, f"Node {setting} (node_version in project settings)")
    for name in VERSION_FILES:
        text = version_files.get(name)
        if text is None:
            continue
        wanted = (text.strip().splitlines() or [""])[0].strip()
        major = _major_of_version_file(wanted, offered)
        if major is None:
            continue
        if major not in offered:
            raise NodeVersionError(f"Node {major} ({name} says {wanted!r}) is not offered here; "
                                   f"SLIPWAY_NODE_VERSIONS offers {offer}: change {name}, or set "
                                   "node_version in the project settings")
        return NodeChoice(major, f"Node {major} ({name} says {wanted!r})")
    if engines is not None and engines.strip():
        shown = engines.strip()[:100]
        try:
            fitting = [major for major in offered if satisfies_major(engines, major)]
        except ValueError:
            return NodeChoice(default, f"Node {default} (the default, SLIPWAY_NODE_DEFAULT; "
                                       f"warning: engines.node {shown!r} could not be read)")
        if fitting:
            return NodeChoice(max(fitting), f"Node {max(fitting)} (the highest offered major "
                                            f"satisfying engines.node {shown!r} in package.json)")
        return NodeChoice(default, f"Node {default} (the default, SLIPWAY_NODE_DEFAULT; "
                                   f"warning: no offered major ({offer}) satisfies engines.node "
                                   f"{shown!r})")
    return NodeChoice(default, f"Node {default} (the default, SLIPWAY_NODE_DEFAULT)")


def _major_of_version_file(wanted: str, offered: tuple[int, ...]) -> int | None:
    """The major a version file names, None for one that names nothing this can read."""
    lowered = wanted.lower()
    if lowered in _NEWEST:
        return max(offered)
    if lowered.startswith("lts/"):
        line = lowered[4:]
        if line == "*":
            even = [major for major in offered if major % 2 == 0]
            return max(even or offered)
        return LTS_CODENAMES.get(line)
    match = _VERSION.match(wanted)
    if match is None or not match.group("major").isdigit():
        return None
    return int(match.group("major"))


def satisfies_major(range_text: str, major: int) -> bool:
    """Whether some version of `major` satisfies an npm range; ValueError when unreadable."""
    low, high = (major, 0, 0), (major + 1, 0, 0)
    for bounds in _parse_range(range_text):
        start = max([low] + [floor for floor, _ in bounds if floor is not None])
        end = min([high] + [ceiling for _, ceiling in bounds if ceiling is not None])
        if start < end:
            return True
    return False


def _parse_range(text: str) -> list[list[tuple[Version | None, Version | None]]]:
    """Each `||` alternative as its comparators' [lower, upper) bounds."""
    if len(text) > 1000:
        raise ValueError("range too long")
    alternatives = []
    for alternative in text.split("||"):
        # `>= 18` is `>=18`; a hyphen range is its two ends.
        words = re.sub(r"(\^|~>?|>=|<=|>|<|=)\s+", r"\1", alternative.strip()).split()
        if len(words) == 3 and words[1] == "-":
            bounds = [(_lower(words[0], inclusive=True), None),
                      (None, _upper(words[2], inclusive=True))]
        else:
            bounds = [bound for word in words for bound in _comparator(word)]
        alternatives.append(bounds or [(None, None)])
    return alternatives


def _comparator(word: str) -> list[tuple[Version | None, Version | None]]:
    match = _COMPARATOR.match(word)
    assert match is not None  # the pattern matches any text
    op, version = match.group("op") or "=", match.group("version")
    if op in (">=", ">"):
        return [(_lower(version, inclusive=op == ">="), None)]
    if op in ("<=", "<"):
        return [(None, _upper(version, inclusive=op == "<="))]
    parts = _parts(version)
    given = [part for part in parts if part is not None]
    floor = _pad(given)
    if op == "=":
        if len(given) == 3:
            return [(floor, _next(floor, 2))]
        return [(floor, _next(floor, len(given) - 1) if given else None)]
    if op == "^":
        # The leftmost non-zero part given may not change.
        fixed = next((index for index, part in enumerate(given) if part != 0), len(given) - 1)
        return [(floor, _next(floor, max(fixed, 0)) if given else None)]
    # `~1.2.3` and `~1.2` allow patches, `~1` minors.
    return [(floor, _next(floor, min(len(given) - 1, 1)) if given else None)]


def _parts(version: str) -> list[int | None]:
    match = _VERSION.match(version)
    if match is None:
        raise ValueError(f"not a version: {version!r}")
    parts: list[int | None] = []
    for name in ("major", "minor", "patch"):
        value = match.group(name)
        if value is None or not value.isdigit():
            break
        parts.append(int(value))
    return parts + [None] * (3 - len(parts))


def _pad(given: list[int | None]) -> Version:
    values = [part or 0 for part in given] + [0, 0, 0]
    return values[0], values[1], values[2]


def _next(version: Version, index: int) -> Version:
    """The first version past `version` with part `index` raised."""
    if index == 0:
        return version[0] + 1, 0, 0
    if index == 1:
        return version[0], version[1] + 1, 0
    return version[0], version[1], version[2] + 1


def _lower(version: str, *, inclusive: bool) -> Version:
    given = [part for part in _parts(version) if part is not None]
    if not given:
        return (0, 0, 0) if inclusive else _INFINITY
    floor = _pad(given)
    if inclusive:
        return floor
    # `>1.2` is `>=1.3.0`, `>1.2.3` is `>=1.2.4`.
    return _next(floor, len(given) - 1)


def _upper(version: str, *, inclusive: bool) -> Version:
    given = [part for part in _parts(version) if part is not None]
    if not given:
        return _INFINITY if inclusive else (0, 0, 0)
    ceiling = _pad(given)
    # `<=1.2` is `<1.3.0`; `<1.2` is `<1.2.0`.
    return _next(ceiling, len(given) - 1) if inclusive else ceiling
