"""What start-up removes from a deployments directory that other processes may share."""

from __future__ import annotations

import os

from engine.deploys.releases import remove_leftovers


def test_staging_of_a_build_still_running_elsewhere_is_spared_the_rest_removed(tmp_path):
    releases = tmp_path / "site" / "releases"
    crashed = releases / ".staging-7-abcd1234"          # its build is no longer running
    publishing = releases / ".staging-9-beef0001"       # another worker is publishing it now
    for staging in (crashed, publishing):
        staging.mkdir(parents=True)
        (staging / "index.html").write_text("half")
    os.symlink("releases/3", tmp_path / "site" / ".current-0a0b0c0d")

    assert remove_leftovers(tmp_path, running=frozenset({9})) == 2

    assert not crashed.exists()
    assert not (tmp_path / "site" / ".current-0a0b0c0d").is_symlink()
    assert (publishing / "index.html").read_text() == "half"
