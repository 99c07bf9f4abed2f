"""A site's `_redirects` and `_headers`: the Netlify subset Slipway reads, and what it ignores."""

import pytest

from engine.sites.site_rules import (
    compile_pattern,
    headers_for,
    match_redirect,
    parse_headers,
    parse_redirects,
)


def _redirect(text: str, path: str, **kwargs):
    return match_redirect(parse_redirects(text), path, **kwargs)


def test_a_rule_without_status_is_a_permanent_redirect():
    found = _redirect("/old /new", "/old")
    assert (found.target, found.status, found.force) == ("/new", 301, False)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308, 200, 404])
def test_supported_statuses_are_kept(status):
    assert _redirect(f"/a /b {status}", "/a").status == status


@pytest.mark.parametrize("line", [
    "/a /b 418",                        # not a redirect or rewrite status
    "/a /b 3o1",                        # not a number
    "/a",                               # no target
    "/a /b 301 Country=nz",             # conditions are not supported
    "/store id=:id /blog/:id 301",      # neither are query-parameter matches
    "a /b",                             # `from` must be a path
    "/a b",                             # `to` must be a path or a URL
    "/a https://example.com/ 200",      # a rewrite to a URL would be a proxy
    "/a https://example.com/ 404",
    "/a/*/b/* /c",                      # one splat only
    "/:x/:x /c",                        # placeholders are named once
    "https://old.example.com/* /new",   # domain-level rules are not supported
    "# /a /b",                          # a comment
    "",
])
def test_unsupported_or_malformed_lines_are_ignored(line):
    assert parse_redirects(line) == ()


def test_bad_lines_do_not_hide_the_good_ones():
    rules = parse_redirects("garbage\n\x00\x01 nonsense here too\n/a /b 302\n/c\n")
    assert len(rules) == 1
    assert match_redirect(rules, "/a").status == 302


def test_first_matching_rule_wins():
    rules = parse_redirects("/a /first 302\n/a /second 301\n")
    assert match_redirect(rules, "/a").target == "/first"


def test_trailing_slashes_do_not_matter():
    rules = parse_redirects("/blog/ /news 301\n")
    assert match_redirect(rules, "/blog").target == "/news"
    assert match_redirect(rules, "/blog/").target == "/news"
    assert match_redirect(rules, "/blogs") is None


def test_matching_is_on_whole_paths_and_case_sensitive():
    rules = parse_redirects("/about /team 301\n")
    assert match_redirect(rules, "/about/more") is None
    assert match_redirect(rules, "/About") is None


def test_a_splat_takes_the_rest_of_the_path():
    rules = parse_redirects("/blog/* /posts/:splat 301\n")
    assert match_redirect(rules, "/blog/2024/hello").target == "/posts/2024/hello"
    assert match_redirect(rules, "/blog").target == "/posts/"
    assert match_redirect(rules, "/blogger") is None


def test_placeholders_take_one_segment_each():
    rules = parse_redirects("/news/:year/:slug /articles/:year-:slug.html 302\n")
    assert match_redirect(rules, "/news/2024/launch").target == "/articles/2024-launch.html"
    assert match_redirect(rules, "/news/2024") is None
    assert match_redirect(rules, "/news/2024/launch/extra") is None


def test_substituted_values_are_percent_encoded():
    rules = parse_redirects("/go/* https://example.com/:splat 302\n")
    assert match_redirect(rules, "/go/a b/ü").target == "https://example.com/a%20b/%C3%BC"


def test_unknown_placeholders_and_ports_are_left_alone():
    rules = parse_redirects("/a https://example.com:8443/:nothing 302\n")
    assert match_redirect(rules, "/a").target == "https://example.com:8443/:nothing"


def test_non_ascii_targets_become_ascii_for_the_location_header():
    assert _redirect("/café /menü 301", "/café").target == "/men%C3%BC"


def test_forced_rules_are_marked_and_can_be_asked_for_alone():
    rules = parse_redirects("/a /soft 302\n/a /hard 302!\n")
    assert match_redirect(rules, "/a").target == "/soft"
    forced = match_redirect(rules, "/a", forced_only=True)
    assert (forced.target, forced.force) == ("/hard", True)


def test_rewrites_are_told_apart_from_redirects():
    assert _redirect("/a /b 200", "/a").is_rewrite
    assert _redirect("/a /b 404", "/a").is_rewrite
    assert not _redirect("/a /b 302", "/a").is_rewrite


def test_root_and_catch_all_patterns():
    assert compile_pattern("/").match("/") == {}
    assert compile_pattern("/").match("/a") is None
    assert compile_pattern("/*").match("/") == {"splat": ""}
    assert compile_pattern("/*").match("/x/y") == {"splat": "x/y"}


def test_a_star_inside_a_segment_matches_any_characters():
    assert compile_pattern("/*.js").match("/deep/app.js") == {"splat": "deep/app"}
    assert compile_pattern("/*.js").match("/app.css") is None


def test_encoded_pattern_segments_match_decoded_paths():
    assert compile_pattern("/caf%C3%A9").match("/café") == {}


HEADERS = """
# security for everything
/*
  X-Frame-Options: DENY
  Permissions-Policy: camera=()

/assets/*
  Cache-Control: public, max-age=600
  X-Frame-Options: SAMEORIGIN

/api/:version/data.json
  Access-Control-Allow-Origin: *
"""


def test_every_matching_block_adds_its_headers_and_later_blocks_win():
    found = dict(headers_for(parse_headers(HEADERS), "/assets/app.js"))
    assert found == {"X-Frame-Options": "SAMEORIGIN", "Permissions-Policy": "camera=()",
                     "Cache-Control": "public, max-age=600"}


def test_placeholders_work_in_header_paths():
    found = dict(headers_for(parse_headers(HEADERS), "/api/v2/data.json"))
    assert found["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in dict(headers_for(parse_headers(HEADERS), "/"))


def test_a_name_repeated_in_one_block_is_joined():
    rules = parse_headers("/*\n  Link: </a.css>; rel=preload\n  Link: </b.js>; rel=preload\n")
    assert headers_for(rules, "/") == (("Link", "</a.css>; rel=preload, </b.js>; rel=preload"),)


@pytest.mark.parametrize("line", [
    "Set-Cookie: session=stolen", "set-cookie: a=b", "Content-Length: 1",
    "Content-Encoding: gzip", "Transfer-Encoding: chunked", "Connection: close", "ETag: \"x\"",
    "X-Content-Type-Options: sniff",
])
def test_headers_that_would_break_framing_or_guarantees_are_dropped(line):
    rules = parse_headers(f"/*\n  {line}\n  X-Kept: yes\n")
    assert headers_for(rules, "/") == (("X-Kept", "yes"),)


@pytest.mark.parametrize("line", [
    "No colon here", "Bad Name: x", ": no name", "X-Control: a\x01b", "X-Unicode: é",
])
def test_malformed_header_lines_are_dropped(line):
    rules = parse_headers(f"/*\n  {line}\n  X-Kept: yes\n")
    assert headers_for(rules, "/") == (("X-Kept", "yes"),)


def test_header_lines_before_any_path_or_under_a_bad_path_are_ignored():
    rules = parse_headers("  X-Orphan: 1\nnot-a-path\n  X-Bad: 1\n/ok\n  X-Good: 1\n")
    assert headers_for(rules, "/ok") == (("X-Good", "1"),)
    assert len(rules) == 1


def test_a_binary_rules_file_yields_no_rules():
    junk = bytes(range(256)).decode("latin1") * 4
    assert parse_redirects(junk) == ()
    assert parse_headers(junk) == ()
