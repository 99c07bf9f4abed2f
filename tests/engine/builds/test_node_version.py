"""Which Node major a build runs on (SPEC, Builds, 4): settings, version files, engines."""

from __future__ import annotations

import json

import pytest

from engine.builds.detect import DetectionError, NodeOffer, detect_build
from engine.builds.node_version import NodeVersionError, choose_node, satisfies_major

OFFERED = (20, 22, 24)


def choose(setting=None, nvmrc=None, node_version=None, engines=None):
    return choose_node(setting=setting, version_files={".nvmrc": nvmrc,
                                                       ".node-version": node_version},
                       engines=engines, offered=OFFERED, default=22)


@pytest.mark.parametrize(("engines", "majors"), [
    (">=22.12.0", [22, 24]),                  # Astro 6
    ("^20.19.0 || >=22.12.0", [20, 22, 24]),  # Vite 7, Angular 21
    ("20.x", [20]), ("<21", [18, 20]), ("18 - 20", [18, 20]), ("~20.1", [20]),
    ("^18", [18]), ("*", [18, 20, 22, 24]), (">=20 <22", [20]), ("22", [22]),
    ("v22.1.0", [22]), (">= 20.0.0", [20, 22, 24]), ("<=20", [18, 20]), (">20", [22, 24]),
    (">=18.0.0-beta", [18, 20, 22, 24]), ("20 || 24", [20, 24]),
])
def test_a_major_satisfies_a_range_when_some_version_of_it_does(engines, majors):
    assert [major for major in (18, 20, 22, 24) if satisfies_major(engines, major)] == majors


def test_the_highest_offered_major_satisfying_engines_is_chosen():
    chosen = choose(engines=">=22.12.0")
    assert chosen.major == 24
    assert chosen.reason == ("Node 24 (the highest offered major satisfying engines.node "
                             "'>=22.12.0' in package.json)")
    assert choose(engines="^20.19 || ^22.12").major == 22


def test_the_setting_wins_over_version_files_and_engines():
    assert choose(setting=20, nvmrc="24", engines=">=22").major == 20


@pytest.mark.parametrize(("text", "major"), [
    ("22\n", 22), ("v20.11.1", 20), ("lts/iron", 20), ("lts/*", 24), ("node", 24),
    ("24.1", 24)])
def test_nvmrc_names_the_major(text, major):
    chosen = choose(nvmrc=text, engines="^20")
    assert chosen.major == major
    assert ".nvmrc says" in chosen.reason


def test_node_version_file_is_read_when_there_is_no_nvmrc():
    assert choose(node_version="20.18.0").major == 20


def test_a_version_file_naming_a_major_not_offered_is_an_error_that_says_what_is():
    with pytest.raises(NodeVersionError, match=r"Node 18 \(.nvmrc says '18'\) is not offered "
                                               r"here; SLIPWAY_NODE_VERSIONS offers 20, 22, 24"):
        choose(nvmrc="18")


def test_unreadable_version_file_falls_through_to_engines():
    assert choose(nvmrc="some words", engines="20.x").major == 20


def test_engines_no_offered_major_satisfies_falls_back_to_the_default_with_a_warning():
    chosen = choose(engines="^16")
    assert chosen.major == 22
    assert "warning: no offered major (20, 22, 24) satisfies engines.node '^16'" in chosen.reason


def test_unreadable_engines_fall_back_to_the_default():
    assert "could not be read" in choose(engines=">=banana").reason


def test_nothing_said_is_the_default():
    assert choose().reason == "Node 22 (the default, SLIPWAY_NODE_DEFAULT)"


def test_detection_says_which_node_and_why(tmp_path):
    (tmp_path / "package.json").write_text(json.dumps({
        "scripts": {"build": "astro build"}, "dependencies": {"astro": "^6.0.0"},
        "engines": {"node": ">=22.12.0"}}))
    plan = detect_build(tmp_path, node_offer=NodeOffer((20, 22), 20))
    assert plan.node is not None and plan.node.major == 22
    assert plan.reasons[1].startswith("Node 22 (the highest offered major")


def test_a_project_setting_not_offered_fails_the_build_clearly(tmp_path):
    (tmp_path / "package.json").write_text(json.dumps({"scripts": {"build": "vite build"}}))
    with pytest.raises(DetectionError, match="node_version in project settings"):
        detect_build(tmp_path, node_version=18)


def test_a_site_with_nothing_to_build_needs_no_node(tmp_path):
    (tmp_path / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / ".nvmrc").write_text("12")  # not offered, and irrelevant
    assert detect_build(tmp_path).node is None


def test_a_repositorys_own_dockerfile_is_the_toolchain(tmp_path):
    (tmp_path / "package.json").write_text(json.dumps({"scripts": {"build": "vite build"},
                                                       "devDependencies": {"vite": "^7"}}))
    (tmp_path / "Dockerfile").write_text("FROM node:22\n")
    plan = detect_build(tmp_path)
    assert plan.node is None
    assert plan.build_command is None  # the Dockerfile builds; its output is copied out
    assert not any(reason.startswith(("package manager:", "install command:"))
                   for reason in plan.reasons)
