import subprocess

import pytest

from engine.errors import Invalid
from engine.projects.project_rules import (
    check_branch,
    check_framework,
    check_name,
    check_repo_url,
    check_secret,
    check_subpath,
)

GITHUB = "https://github.com"


@pytest.mark.parametrize("name", ["site", "my-site", "a", "a1", "1a", "x" * 63])
def test_dns_labels_are_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [("..", "lowercase letters"), ("API", "lowercase letters"), ("a--b", "'--'"),
     ("x" * 64, "1 to 63"), ("ünïcode", "lowercase letters"), ("", "1 to 63"),
     ("-a", "starting and ending"), ("a-", "starting and ending"), ("a.b", "lowercase"),
     ("api", "reserved"), ("www", "reserved"), ("dashboard", "reserved")],
)
def test_invalid_names_are_refused_naming_the_field(name, reason):
    with pytest.raises(Invalid) as error:
        check_name(name)
    assert error.value.field == "name"
    assert reason in error.value.message


@pytest.mark.parametrize(
    ("url", "clone_url", "github_repo"),
    [("https://github.com/Ada/Site", "https://github.com/Ada/Site.git", "ada/site"),
     ("https://github.com/ada/site.git", "https://github.com/ada/site.git", "ada/site"),
     ("https://github.com/ada/my.site/", "https://github.com/ada/my.site.git", "ada/my.site"),
     ("https://gitlab.com/ada/site.git", "https://gitlab.com/ada/site.git", None)],
)
def test_https_urls_are_accepted_and_github_is_recognised(url, clone_url, github_repo):
    source = check_repo_url(url, github_url=GITHUB, local_admin=False)
    assert (source.url, source.github_repo) == (clone_url, github_repo)


@pytest.mark.parametrize(
    ("url", "reason"),
    [("http://github.com/ada/site", "https://, not http://"),
     ("https://ada:ghp_x@github.com/ada/site", "credentials"),
     ("https://github.com/ada", "must name a GitHub repository"),
     ("https://github.com/ada/site/tree/main", "must name a GitHub repository"),
     ("https://example.com/repo.git?ref=x", "without a query"),
     ("git@github.com:ada/site.git", "an https:// Git URL"),
     ("ssh://git@github.com/ada/site.git", "an https:// Git URL"),
     ("/srv/repos/site", "an https:// Git URL"),
     ("file:///srv/repos/site", "an https:// Git URL"),
     ("", "a Git repository URL")],
)
def test_github_users_may_only_use_https_urls(url, reason):
    with pytest.raises(Invalid) as error:
        check_repo_url(url, github_url=GITHUB, local_admin=False)
    assert error.value.field == "repo_url"
    assert reason in error.value.message


@pytest.fixture
def local_repo(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "site")], check=True)
    return tmp_path / "site"


def test_the_local_administrator_may_use_a_repository_path(local_repo):
    for value in (str(local_repo), f"file://{local_repo}"):
        source = check_repo_url(value, github_url=GITHUB, local_admin=True)
        assert source.url == str(local_repo.resolve())
        assert source.github_repo is None


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p])
def test_a_local_path_must_be_a_git_repository(tmp_path, make):
    with pytest.raises(Invalid, match="repo_url is not"):
        check_repo_url(str(make(tmp_path)), github_url=GITHUB, local_admin=True)


@pytest.mark.parametrize("branch", ["main", "feature/login", "release-1.2", "dependabot/npm/x"])
def test_valid_branches(branch):
    assert check_branch(branch) == branch


@pytest.mark.parametrize("branch", ["", "-x", "a..b", "a b", "a~1", "x.lock", "a/", "/a",
                                    "a//b", "a:b", "@", "a\\b", "x" * 256])
def test_invalid_branches(branch):
    with pytest.raises(Invalid) as error:
        check_branch(branch)
    assert error.value.field == "branch"


@pytest.mark.parametrize(("raw", "normal"), [("dist", "dist"), ("./dist/", "dist"),
                                             ("apps/web/../site", "apps/site"), ("", None),
                                             (".", None), (None, None)])
def test_paths_are_normalised_inside_the_repository(raw, normal):
    assert check_subpath(raw, "output_dir") == normal


@pytest.mark.parametrize("raw", ["..", "../site", "a/../../b", "/etc", "C:/x", "a\\..\\b",
                                 "a\0b"])
def test_paths_escaping_the_repository_are_refused(raw):
    with pytest.raises(Invalid) as error:
        check_subpath(raw, "root_dir")
    assert error.value.field == "root_dir"


def test_frameworks_are_known_ids():
    assert check_framework("vite") == "vite"
    assert check_framework(None) is None
    with pytest.raises(Invalid, match="framework must be one of"):
        check_framework("rails")


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", "", "É"])
def test_secret_names_are_environment_variable_names(name):
    with pytest.raises(Invalid):
        check_secret(name, "v")


def test_secret_values_are_at_most_64_kib():
    check_secret("OK", "x" * 65536)
    with pytest.raises(Invalid, match="larger than 64 KiB"):
        check_secret("BIG", "x" * 65537)
