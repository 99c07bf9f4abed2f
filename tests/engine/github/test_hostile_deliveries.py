"""Deliveries built to break or flood the webhook endpoint: malformed payloads with a valid
signature, floods of forged deliveries, and over-long delivery ids. Builds stay queued (no
Docker needed): what matters is what GitHub is answered and what the owner's inbox keeps."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.accounts import sign_in_github_user
from tests.support.webhooks import GitHubSide, push_payload


@pytest.fixture
def tracked(app_server, api, github, io_loop):
    """A GitHub user's project tracking their repository, its hook registered on the fake."""

    async def setup():
        ada_github = github.add_user("ada")
        repo = github.add_repo(ada_github, "site", files={"index.html": "<p>main</p>"})
        ada = await sign_in_github_user(app_server, api, ada_github.id, "ada", ada_github.token)
        response = await api.post("/api/projects", headers=ada.headers,
                                  json_body={"name": "site", "repo_url": repo.html_url})
        assert response.status == 201, response.body
        return ada, GitHubSide(api, github, repo), response.json()

    return io_loop.run_sync(setup)


async def _deliveries(api, owner, project) -> list[dict]:
    response = await api.get(f"/api/projects/{project['id']}/deliveries", headers=owner.headers)
    assert response.status == 200
    return response.json()


async def _builds(api, owner, project) -> list[dict]:
    response = await api.get(f"/api/projects/{project['id']}/builds?limit=100",
                             headers=owner.headers)
    return response.json()


def _push(gh, **changes) -> dict:
    head = gh.github.head(gh.repo)
    payload = push_payload(gh.repo, ref="refs/heads/main", before=head, after=head)
    payload.update(changes)
    return payload


def _with_repository(gh, member) -> dict:
    payload = _push(gh)
    payload["repository"] = member
    return payload


BAD_SHAPES = {
    "repository a string": lambda gh: _with_repository(gh, "x"),
    "repository an array": lambda gh: _with_repository(gh, [1]),
    "repository missing": lambda gh: {k: v for k, v in _push(gh).items() if k != "repository"},
    "full_name a number": lambda gh: _with_repository(gh, {"full_name": 5}),
    "ref a number": lambda gh: _push(gh, ref=5),
    "ref missing": lambda gh: {k: v for k, v in _push(gh).items() if k != "ref"},
    "after not a commit": lambda gh: _push(gh, after="z" * 40),
    "commits a string": lambda gh: _push(gh, commits="x"),
    "a commit not an object": lambda gh: _push(gh, commits=[1]),
    "a commit message an object": lambda gh: _push(gh, commits=[{"message": {"a": 1}}]),
    "head_commit a string": lambda gh: _push(gh, head_commit="x"),
    "author an array": lambda gh: _push(gh, head_commit={"message": "m", "author": [1]}),
    "deleted a string": lambda gh: _push(gh, deleted="yes"),
}


@pytest.mark.gen_test
@pytest.mark.parametrize("shape", BAD_SHAPES.values(), ids=BAD_SHAPES.keys())
async def test_signed_deliveries_of_the_wrong_shape_are_a_400(tracked, shape):
    owner, gh, project = tracked
    response = await gh.deliver("push", shape(gh))
    assert response.status == 400, response.body
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] in ("validation_failed", "invalid_json")
    assert len(await _builds(gh.api, owner, project)) == 1  # only the project's first build


@pytest.mark.gen_test
@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000, b'{"n": ' + b"9" * 5000 + b"}",
                                 b'{"repository": {"full_name": "\\ud800"}}',
                                 b'{"ref": "refs/heads/a\\u0000b"}'],
                         ids=["deep nesting", "5000-digit integer", "lone surrogate", "NUL"])
async def test_hostile_json_in_a_signed_delivery_is_a_400(tracked, raw):
    owner, gh, project = tracked
    response = await gh.deliver("push", {}, body=raw)
    assert response.status == 400, response.body
    assert response.json()["error"]["code"] == "invalid_json"


@pytest.mark.gen_test
async def test_lone_surrogates_and_nul_in_a_commit_message_are_a_400(tracked):
    owner, gh, project = tracked
    head = gh.github.push(gh.repo, {"index.html": "<p>v2</p>"})
    payload = push_payload(gh.repo, ref="refs/heads/main", before="0" * 40, after=head,
                           messages=("PLACEHOLDER",))
    for raw in ('"\\udc00 fix"', '"fix\\u0000"'):
        body = json.dumps(payload).replace('"PLACEHOLDER"', raw).encode()
        assert (await gh.deliver("push", {}, body=body)).status == 400
    assert len(await _builds(gh.api, owner, project)) == 1


@pytest.mark.gen_test(timeout=60)
async def test_a_flood_of_forged_deliveries_never_evicts_valid_ones(tracked):
    owner, gh, project = tracked
    valid = []
    for n in range(3):
        head = gh.github.push(gh.repo, {"index.html": f"<p>{n}</p>"})
        response = await gh.deliver("push", push_payload(
            gh.repo, ref="refs/heads/main", before="0" * 40, after=head))
        assert response.status == 202
        valid.append(response.json()["decisions"][0]["delivery_id"])

    statuses = []
    for _ in range(205):
        response = await gh.deliver("push", _push(gh), signature="sha256=" + "0" * 64)
        statuses.append(response.status)
        if response.status == 429:
            assert response.json()["error"]["code"] == "too_many_requests"
            assert int(response.headers["Retry-After"]) >= 1
    assert set(statuses) == {401, 429}
    assert statuses.count(429) > 150  # most of the flood is turned away unrecorded

    # A genuine delivery during the flood is still acted on.
    head = gh.github.push(gh.repo, {"index.html": "<p>during</p>"})
    during = await gh.deliver("push", push_payload(gh.repo, ref="refs/heads/main",
                                                   before="0" * 40, after=head))
    assert during.status == 202

    inbox = await _deliveries(gh.api, owner, project)
    kept_valid = [d["id"] for d in inbox if d["signature_valid"]]
    assert set(valid) <= set(kept_valid)
    assert sum(not d["signature_valid"] for d in inbox) == statuses.count(401)
    for delivery_id in valid:
        again = await gh.api.post(f"/api/deliveries/{delivery_id}/redeliver",
                                  headers=owner.headers)
        assert again.status == 202


@pytest.mark.gen_test
async def test_an_over_long_delivery_id_is_a_400_and_builds_nothing(tracked):
    owner, gh, project = tracked
    payload = push_payload(gh.repo, ref="refs/heads/main", before="0" * 40,
                           after=gh.github.push(gh.repo, {"index.html": "<p>v2</p>"}))
    guid = "d" * 150
    for _ in range(2):
        response = await gh.deliver("push", payload, guid=guid)
        assert response.status == 400
        assert response.json()["error"]["field"] == "X-GitHub-Delivery"
    assert len(await _builds(gh.api, owner, project)) == 1


@pytest.mark.gen_test
async def test_a_repeated_delivery_id_of_the_longest_length_builds_once(tracked):
    owner, gh, project = tracked
    payload = push_payload(gh.repo, ref="refs/heads/main", before="0" * 40,
                           after=gh.github.push(gh.repo, {"index.html": "<p>v2</p>"}))
    guid = "d" * 100
    first = await gh.deliver("push", payload, guid=guid)
    again = await gh.deliver("push", payload, guid=guid)
    assert (first.status, again.status) == (202, 200)
    assert again.json()["decisions"][0]["decision"] == "duplicate"
    assert len(await _builds(gh.api, owner, project)) == 2


@pytest.mark.gen_test
async def test_the_same_delivery_arriving_twice_at_once_builds_once(tracked):
    # GitHub redelivers when it believes a delivery failed, possibly while it is handled.
    owner, gh, project = tracked
    payload = push_payload(gh.repo, ref="refs/heads/main", before="0" * 40,
                           after=gh.github.push(gh.repo, {"index.html": "<p>v2</p>"}))
    answers = await asyncio.gather(*(gh.deliver("push", payload, guid="same-delivery")
                                     for _ in range(3)))
    assert sorted(a.status for a in answers) == [200, 200, 202]
    assert len(await _builds(gh.api, owner, project)) == 2
