"""A Dockerfile read into instructions, for Slipway's own image builder.

Docker's classic builder runs each `RUN` in a container Slipway cannot limit (no process limit,
default capabilities) nor stop while it is silent, so Slipway builds images itself, step by
step (`engine.containers.image_builder`). This module only reads the file: line continuations,
comments, the exec (JSON) and shell forms, flags such as `--from=`, and `$VAR` / `${VAR}` /
`${VAR:-default}` / `${VAR:+alternative}` substitution where Docker applies it. What needs
BuildKit (heredocs, `RUN --mount`) is refused with a message saying so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

MAX_DOCKERFILE_BYTES = 1024 * 1024
# Instructions that only describe how the image runs: a static build never runs it, so they are
# accepted and have no effect.
METADATA_ONLY = {"EXPOSE", "LABEL", "MAINTAINER", "HEALTHCHECK", "STOPSIGNAL", "VOLUME",
                 "ONBUILD", "CMD", "ENTRYPOINT"}
SUPPORTED = {"FROM", "ARG", "ENV", "WORKDIR", "USER", "RUN", "COPY", "ADD", "SHELL"}
_FLAGS = {"FROM": {"platform"}, "COPY": {"from", "chown", "chmod", "link"},
          "ADD": {"chown", "chmod", "link"}, "RUN": set()}
_HEREDOC = re.compile(r"(?:^|\s)<<-?[\"']?[A-Za-z_]\w*[\"']?(?:\s|$)")
_VARIABLE = re.compile(r"\\\$|\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
                       r"(?::(?P<op>[-+])(?P<word>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


class DockerfileError(ValueError):
    """The Dockerfile cannot be built by Slipway; the message names the line and the reason."""


@dataclass(frozen=True)
class Instruction:
    line: int                  # where it starts in the file, for messages
    keyword: str               # upper case: "RUN", "COPY", ...
    arguments: str             # the text after the keyword, continuations joined
    flags: dict[str, str]      # "--from=build" -> {"from": "build"}
    exec_form: list[str] | None  # the JSON array form, when used

    def __str__(self) -> str:
        return f"{self.keyword} {self.arguments}".strip()


def parse_dockerfile(text: str) -> list[Instruction]:
    """The file's instructions in order; raises DockerfileError."""
    if len(text.encode()) > MAX_DOCKERFILE_BYTES:
        raise DockerfileError("the Dockerfile is larger than 1 MiB")
    instructions: list[Instruction] = []
    for line, logical in _logical_lines(text):
        keyword, _, rest = logical.strip().partition(" ")
        keyword = keyword.upper()
        if keyword not in SUPPORTED | METADATA_ONLY:
            raise DockerfileError(f"line {line}: unknown instruction {keyword}")
        flags, rest = _flags(keyword, rest.strip(), line)
        if keyword in ("RUN", "COPY", "ADD") and _HEREDOC.search(rest):
            raise DockerfileError(f"line {line}: heredocs need BuildKit, which Slipway does "
                                  "not use; write the command on one line or in a script")
        instructions.append(Instruction(line, keyword, rest, flags, _exec_form(rest)))
    if not any(i.keyword == "FROM" for i in instructions):
        raise DockerfileError("the Dockerfile has no FROM instruction")
    first = next(i for i in instructions if i.keyword != "ARG")
    if first.keyword != "FROM":
        raise DockerfileError(f"line {first.line}: the first instruction must be FROM (or ARG)")
    return instructions


def substitute(text: str, variables: dict[str, str]) -> str:
    """Docker's variable substitution in `text`; `\\$` stands for a literal `$`."""
    def replace(match: re.Match[str]) -> str:
        if match[0] == "\\$":
            return "$"
        name = match["braced"] or match["plain"]
        value = variables.get(name)
        if match["op"] == "-":
            return value if value else match["word"]
        if match["op"] == "+":
            return match["word"] if value else ""
        return value or ""

    return _VARIABLE.sub(replace, text)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each instruction: continuations joined, comments and
    parser directives dropped."""
    lines = text.splitlines()
    result: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            if number == 1 or not result and not pending:
                _check_directive(stripped, number)
            continue
        if not stripped and not pending:
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        result.append((start, " ".join(p for p in pending if p)))
        pending = []
    if pending:
        result.append((start, " ".join(p for p in pending if p)))
    return result


def _check_directive(comment: str, line: int) -> None:
    match = re.match(r"#\s*escape\s*=\s*(\S+)", comment, re.IGNORECASE)
    if match and match[1] != "\\":
        raise DockerfileError(f"line {line}: only the default escape character \\ is supported")


def _flags(keyword: str, rest: str, line: int) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        name, _, value = word[2:].partition("=")
        if name not in _FLAGS.get(keyword, set()):
            hint = " (BuildKit's, which Slipway does not use)" if keyword == "RUN" else ""
            raise DockerfileError(f"line {line}: {keyword} --{name} is not supported{hint}")
        flags[name] = value
        rest = rest.lstrip()
    return flags, rest


def _exec_form(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except (ValueError, RecursionError):  # not JSON (or nested beyond reason): shell form
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None
