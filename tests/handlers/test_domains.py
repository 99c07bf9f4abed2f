"""Custom domains through the API, with HTTPS off: added pending with the TXT record to
create, verified through a real DNS server (pebble-challtestsrv, as SLIPWAY_DNS_RESOLVER),
then serving the project's live release; redirects between domains; owners only."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import psycopg
import pytest

from sql.domains import list_domains
from tests.support import pebble as pebble_support
from tests.support.accounts import sign_in_github_user
from tests.support.repos import make_repo
from tests.support.sites import publish_site


@pytest.fixture
def dns(tmp_path):
    with pebble_support.running(tmp_path / "pebble",
                                http_port=pebble_support.free_port()) as pebble:
        yield pebble


@pytest.fixture
def config(config, dns):
    host, port = dns.dns_address.rsplit(":", 1)
    return replace(config, dns_resolver=(host, int(port)))


def _create_project(api, owner, io_loop, tmp_path, name):
    repo = make_repo(tmp_path / name, {"index.html": f"<p>{name}</p>"})

    async def create():
        response = await api.post("/api/projects", headers=owner.headers,
                                  json_body={"name": name, "repo_url": str(repo)})
        assert response.status == 201, response.body
        return response.json()

    return io_loop.run_sync(create)


@pytest.fixture
def project(api, owner, io_loop, tmp_path, app_server):
    created = _create_project(api, owner, io_loop, tmp_path, "shop")
    publish_site(app_server.app.config.deployments_dir, "shop",
                 {"index.html": "<h1>the shop</h1>", "about.html": "<h1>about us</h1>"})
    return created


async def _add(api, owner, project, hostname, **extra):
    return await api.post(f"/api/projects/{project['id']}/domains", headers=owner.headers,
                          json_body={"hostname": hostname, **extra})


async def _verify(api, owner, project, hostname):
    response = await api.post(f"/api/projects/{project['id']}/domains/{hostname}/verify",
                              headers=owner.headers)
    assert response.status == 200, response.body
    return response.json()["domain"]


async def _get_site(api, host, path="/"):
    return await api.get(path, headers={"Host": host})


@pytest.mark.gen_test(timeout=60)
async def test_a_domain_is_pending_until_its_txt_record_exists_then_serves_the_site(
        api, owner, project, dns):
    added = await _add(api, owner, project, "WWW.Shop.Example.")
    assert added.status == 201, added.body
    domain = added.json()["domain"]
    assert domain["hostname"] == "www.shop.example"
    assert domain["status"] == "pending"
    assert domain["verification"]["type"] == "TXT"
    assert domain["verification"]["name"] == "_slipway.www.shop.example"
    assert domain["verification"]["value"].startswith("slipway-verify=")
    assert domain["target"] == "shop.localhost"
    assert domain["certificate"] is None  # HTTPS is off
    assert "no TXT record at _slipway.www.shop.example" in domain["error"]
    # Not served before it is proved: the host is the dashboard's, as any unknown one.
    assert b"the shop" not in (await _get_site(api, "www.shop.example")).body

    dns.add_txt("_slipway.www.shop.example", domain["verification"]["value"])
    verified = await _verify(api, owner, project, "www.shop.example")
    assert verified["status"] == "active" and verified["error"] is None
    assert verified["verified_at"] is not None

    page = await _get_site(api, "www.shop.example", "/about")
    assert page.status == 200 and page.body == b"<h1>about us</h1>"
    listed = (await api.get(f"/api/projects/{project['id']}/domains",
                            headers=owner.headers)).json()
    assert [d["hostname"] for d in listed] == ["www.shop.example"]
    assert listed[0]["status"] == "active"


@pytest.mark.gen_test(timeout=60)
async def test_a_wrong_txt_record_fails_with_what_was_found(api, owner, project, dns):
    await _add(api, owner, project, "shop.example")
    dns.add_txt("_slipway.shop.example", "slipway-verify=someone-elses")
    domain = await _verify(api, owner, project, "shop.example")
    assert domain["status"] == "failed"
    assert "slipway-verify=someone-elses" in domain["error"]
    assert b"the shop" not in (await _get_site(api, "shop.example")).body


@pytest.mark.gen_test(timeout=60)
async def test_an_apex_domain_redirects_to_www_keeping_path_and_query(api, owner, project,
                                                                      dns):
    for host in ("www.shop.example", "shop.example"):
        domain = (await _add(api, owner, project, host)).json()["domain"]
        dns.add_txt(f"_slipway.{host}", domain["verification"]["value"])
        await _verify(api, owner, project, host)
    changed = await api.request(
        "PATCH", f"/api/projects/{project['id']}/domains/shop.example", headers=owner.headers,
        json_body={"redirect_to": "www.shop.example"})
    assert changed.status == 200 and changed.json()["domain"]["redirect_to"] == \
        "www.shop.example"

    moved = await _get_site(api, "shop.example", "/about?ref=ad")
    assert moved.status == 308
    port = api.base_url.rsplit(":", 1)[1]
    assert moved.headers["Location"] == f"http://www.shop.example:{port}/about?ref=ad"
    assert (await _get_site(api, "www.shop.example", "/about")).status == 200

    # The target cannot redirect in turn (a loop), and removing it ends the redirect.
    loop = await api.request(
        "PATCH", f"/api/projects/{project['id']}/domains/www.shop.example",
        headers=owner.headers, json_body={"redirect_to": "shop.example"})
    assert loop.status == 400 and loop.json()["error"]["field"] == "redirect_to"
    removed = await api.request(
        "DELETE", f"/api/projects/{project['id']}/domains/www.shop.example",
        headers=owner.headers)
    assert removed.status == 204
    assert (await _get_site(api, "shop.example", "/about")).status == 200
    assert b"about us" not in (await _get_site(api, "www.shop.example", "/about")).body


@pytest.mark.gen_test
@pytest.mark.parametrize(("hostname", "reason"), [
    ("shop.localhost", "under localhost"),
    ("localhost", "domain name"),
    ("127.0.0.1", "IP address"),
    ("https://www.shop.example/", "bare host name"),
    ("www.shop.example:8443", "bare host name"),
    ("under_score.example", "domain name"),
    ("-bad.example", "domain name"),
    ("shop", "domain name"),
    ("*.shop.example", "domain name"),
    ("a" * 64 + ".example", "domain name"),
])
async def test_a_host_name_slipway_cannot_serve_is_refused_with_why(api, owner, project,
                                                                    hostname, reason):
    response = await _add(api, owner, project, hostname)
    assert response.status == 400, response.body
    error = response.json()["error"]
    assert error["field"] == "hostname" and reason in error["message"]


@pytest.mark.gen_test
async def test_the_dashboard_host_cannot_be_a_custom_domain(api, owner, project,
                                                            app_server):
    response = await _add(api, owner, project, app_server.app.config.dashboard_host)
    assert response.status == 400


@pytest.mark.gen_test(timeout=60)
async def test_a_verified_host_name_belongs_to_one_project_only(api, owner, project, dns,
                                                                tmp_path):
    domain = (await _add(api, owner, project, "www.shop.example")).json()["domain"]
    again = await _add(api, owner, project, "www.shop.example")
    assert again.status == 409 and "already one of this project's" in again.json()["error"][
        "message"]
    dns.add_txt("_slipway.www.shop.example", domain["verification"]["value"])
    assert (await _verify(api, owner, project, "www.shop.example"))["status"] == "active"
    repo = make_repo(tmp_path / "blog", {"index.html": "<p>blog</p>"})
    other = (await api.post("/api/projects", headers=owner.headers,
                            json_body={"name": "blog", "repo_url": str(repo)})).json()
    taken = await _add(api, owner, other, "www.shop.example")
    assert taken.status == 409 and taken.json()["error"]["field"] == "hostname"
    assert "another project verified it" in taken.json()["error"]["message"]
    bad_redirect = await _add(api, owner, other, "blog.example",
                              redirect_to="www.shop.example")
    assert bad_redirect.status == 400
    assert bad_redirect.json()["error"]["field"] == "redirect_to"


@pytest.mark.gen_test(timeout=60)
async def test_a_name_claimed_by_someone_who_cannot_prove_it_still_goes_to_its_owner(
        api, owner, project, app_server, dns, db_url, io_loop, tmp_path):
    # Mallory adds the shop's name to a project of hers before the shop does: without the
    # shop's DNS she can never prove it, and her claim must not keep the name from the shop.
    mallory = await sign_in_github_user(app_server, api, 666, "mallory")
    created = await api.post("/api/projects", headers=mallory.headers,
                             json_body={"name": "squat"})  # deployed by upload
    assert created.status == 201, created.body
    squat = created.json()
    publish_site(app_server.app.config.deployments_dir, "squat", {"index.html": "<p>squat</p>"})
    claimed = await _add(api, mallory, squat, "www.shop.example")
    assert claimed.status == 201, claimed.body

    mine = await _add(api, owner, project, "www.shop.example")
    assert mine.status == 201, mine.body
    dns.add_txt("_slipway.www.shop.example", mine.json()["domain"]["verification"]["value"])
    assert (await _verify(api, owner, project, "www.shop.example"))["status"] == "active"
    assert (await _get_site(api, "www.shop.example")).body == b"<h1>the shop</h1>"

    hers = await _verify(api, mallory, squat, "www.shop.example")
    assert hers["status"] == "failed" and "another project" in hers["error"]
    with psycopg.connect(db_url, autocommit=True) as conn:  # as if the shop's were issued
        conn.execute("INSERT INTO certificates (hostname, status) "
                     "VALUES ('www.shop.example', 'pending')")
    async with app_server.app.db.pool.connection() as conn:  # (the API shows it over HTTPS)
        hers_seen = await list_domains(conn, squat["id"])
        ours_seen = await list_domains(conn, project["id"])
    assert [(d["status"], d["certificate_status"]) for d in hers_seen] == [("failed", None)]
    assert [d["certificate_status"] for d in ours_seen] == ["pending"]

    removed = await api.request("DELETE", f"/api/projects/{squat['id']}/domains/"
                                "www.shop.example", headers=mallory.headers)
    assert removed.status == 204
    with psycopg.connect(db_url) as conn:  # her leaving takes nothing of the shop's
        assert conn.execute("SELECT count(*) FROM certificates").fetchone()[0] == 1
    assert (await _get_site(api, "www.shop.example")).body == b"<h1>the shop</h1>"


@pytest.mark.gen_test(timeout=60)
async def test_two_proofs_of_one_name_at_once_give_it_to_one_project(
        api, owner, project, app_server, dns, tmp_path):
    repo = make_repo(tmp_path / "blog", {"index.html": "<p>blog</p>"})
    other = (await api.post("/api/projects", headers=owner.headers,
                            json_body={"name": "blog", "repo_url": str(repo)})).json()
    values = []
    for each in (project, other):
        added = await _add(api, owner, each, "www.shop.example")
        assert added.status == 201, added.body
        values.append(added.json()["domain"]["verification"]["value"])
    for value in values:  # a TXT record may hold several values: both proofs hold
        dns.add_txt("_slipway.www.shop.example", value)
    results = await asyncio.gather(*(_verify(api, owner, each, "www.shop.example")
                                     for each in (project, other) for _ in range(3)))
    assert sorted({r["status"] for r in results}) == ["active", "failed"]
    final = [(await api.get(f"/api/projects/{each['id']}/domains", headers=owner.headers)
              ).json()[0]["status"] for each in (project, other)]
    assert sorted(final) == ["active", "failed"]


@pytest.mark.gen_test(timeout=60)
async def test_another_users_project_domains_are_not_found(api, owner, project, app_server,
                                                           dns):
    domain = (await _add(api, owner, project, "www.shop.example")).json()["domain"]
    dns.add_txt("_slipway.www.shop.example", domain["verification"]["value"])
    stranger = await sign_in_github_user(app_server, api, 4242, "stranger")
    base = f"/api/projects/{project['id']}/domains"
    attempts = [
        await api.get(base, headers=stranger.headers),
        await api.post(base, headers=stranger.headers, json_body={"hostname": "x.example"}),
        await api.post(f"{base}/www.shop.example/verify", headers=stranger.headers),
        await api.request("PATCH", f"{base}/www.shop.example", headers=stranger.headers,
                          json_body={"redirect_to": None}),
        await api.request("DELETE", f"{base}/www.shop.example", headers=stranger.headers),
    ]
    assert [a.status for a in attempts] == [404] * 5
    listed = (await api.get(base, headers=owner.headers)).json()
    assert [(d["hostname"], d["status"]) for d in listed] == [("www.shop.example", "pending")]
    assert (await api.get(base)).status == 401


@pytest.mark.gen_test(timeout=60)
async def test_waiting_domains_are_checked_in_the_background(api, owner, project, dns,
                                                             app_server, db_url):
    domain = (await _add(api, owner, project, "www.shop.example")).json()["domain"]
    dns.add_txt("_slipway.www.shop.example", domain["verification"]["value"])
    with psycopg.connect(db_url, autocommit=True) as conn:  # as if checked long ago
        conn.execute("UPDATE domains SET checked_at = now() - interval '1 hour'")
    await app_server.app.domains.check_waiting()
    await asyncio.sleep(0)
    assert (await _get_site(api, "www.shop.example")).body == b"<h1>the shop</h1>"


@pytest.mark.gen_test
async def test_deleting_the_project_removes_its_domains_and_their_certificates(
        api, owner, project, db_url):
    await _add(api, owner, project, "www.shop.example")
    with psycopg.connect(db_url, autocommit=True) as conn:  # as if verified and issued one
        conn.execute("UPDATE domains SET status = 'verified'")
        conn.execute("INSERT INTO certificates (hostname, status) VALUES "
                     "('www.shop.example', 'pending'), ('other.example', 'pending')")
    deleted = await api.request("DELETE", f"/api/projects/{project['id']}",
                                headers=owner.headers)
    assert deleted.status == 204
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM domains").fetchone()[0] == 0
        assert conn.execute("SELECT hostname FROM certificates").fetchall() == [
            ("other.example",)]
