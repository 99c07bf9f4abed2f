"""Reading Dockerfiles for Slipway's own builder: what is understood, and what is refused."""

from __future__ import annotations

import pytest

from engine.containers.dockerfile_parser import DockerfileError, parse_dockerfile, substitute


def test_continuations_comments_and_blank_lines_are_joined_and_dropped():
    instructions = parse_dockerfile(
        "# syntax=docker/dockerfile:1\n"
        "FROM node:22 AS build\n\n"
        "RUN npm ci \\\n"
        "# a comment inside the continuation\n"
        "    && npm run build\n"
        "copy --from=build /app/dist /srv\n")
    assert [(i.line, i.keyword, i.arguments) for i in instructions] == [
        (2, "FROM", "node:22 AS build"),
        (4, "RUN", "npm ci  && npm run build"),
        (7, "COPY", "/app/dist /srv"),
    ]
    assert instructions[2].flags == {"from": "build"}


def test_the_exec_form_is_read_as_json():
    [_, run] = parse_dockerfile('FROM x\nRUN ["sh", "-c", "echo hi"]\n')
    assert run.exec_form == ["sh", "-c", "echo hi"]
    [_, shell] = parse_dockerfile("FROM x\nRUN [not json\n")
    assert shell.exec_form is None


@pytest.mark.parametrize("text, reason", [
    ("RUN echo\n", "no FROM"),
    ("ENV A=1\nFROM x\n", "first instruction must be FROM"),
    ("FROM x\nRUN --mount=type=cache,target=/root npm ci\n", "BuildKit"),
    ("FROM x\nRUN <<EOF\necho hi\nEOF\n", "heredocs need BuildKit"),
    ("FROM x\nFROBNICATE now\n", "unknown instruction FROBNICATE"),
    ("# escape=`\nFROM x\n", "escape character"),
])
def test_what_needs_buildkit_or_is_not_a_dockerfile_is_refused_with_the_reason(text, reason):
    with pytest.raises(DockerfileError, match=reason):
        parse_dockerfile(text)


def test_a_shift_in_a_command_is_not_taken_for_a_heredoc():
    [_, run] = parse_dockerfile('FROM x\nRUN node -e "Buffer.alloc(1<<20)"\n')
    assert run.keyword == "RUN"


def test_variables_are_substituted_as_docker_does():
    variables = {"NODE": "22", "EMPTY": ""}
    assert substitute("node:${NODE}-slim $NODE", variables) == "node:22-slim 22"
    assert substitute("${MISSING:-fallback} ${EMPTY:-fallback}", variables) == (
        "fallback fallback")
    assert substitute("${NODE:+set}${MISSING:+set}", variables) == "set"
    assert substitute(r"\$NODE costs $$", variables) == "$NODE costs $$"
