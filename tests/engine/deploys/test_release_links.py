"""Links in a build's output or an upload, as an attacker chains them: each looks inside the
output on its own, together they lead out. Publishing never follows them out, and never takes
a file over from the previous release through a link of that release."""

from __future__ import annotations

import os

from engine.deploys.releases import go_live, publish_release


def test_a_chain_of_links_leading_out_is_left_out(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.key").write_text("host key")
    output = tmp_path / "output"
    (output / "a" / "b").mkdir(parents=True)
    (output / "index.html").write_text("site")
    # `l` climbs back to the output's root; `x` climbs "inside" l, and so out of the output.
    os.symlink("../..", output / "a" / "b" / "l")
    os.symlink("a/b/l/../outside/secret.key", output / "x")
    os.symlink("index.html", output / "home")  # an honest link stays

    release = publish_release(tmp_path / "sites", "site", 1, output)
    assert not (release / "x").is_symlink() and not (release / "x").exists()
    assert os.readlink(release / "home") == "index.html"


def test_an_unchanged_file_is_never_linked_from_outside_through_the_previous_release(tmp_path):
    other = tmp_path / "other-project-release"
    other.mkdir()
    (other / "x.html").write_text("another tenant's protected page")
    sites = tmp_path / "sites"
    first = tmp_path / "first"
    first.mkdir()
    (first / "index.html").write_text("v1")
    release = publish_release(sites, "site", 1, first)
    go_live(sites, "site", 1)
    os.symlink(other, release / "d")  # as a chain of links once made it, pointing away

    second = tmp_path / "second"
    (second / "d").mkdir(parents=True)
    (second / "index.html").write_text("v2")
    (second / "d" / "x.html").write_text("another tenant's protected page")
    published = publish_release(sites, "site", 2, second)
    assert not os.path.samefile(published / "d" / "x.html", other / "x.html")
    assert os.stat(other / "x.html").st_nlink == 1  # no new link to it anywhere
