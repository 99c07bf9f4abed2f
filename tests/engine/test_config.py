import base64
import os
import re
import stat

import pytest

from engine.config import SECRET_KEY_FILE, ConfigError, parse_config


@pytest.fixture
def dirs(tmp_path):
    return ["--data-dir", str(tmp_path / "data"), "--deployments-dir", str(tmp_path / "sites")]


def test_defaults_match_the_spec(dirs):
    config = parse_config(dirs, environ={})
    assert config.port == 8080
    assert config.bind == "0.0.0.0"
    assert config.domain == "localhost"
    assert config.public_url == "http://localhost:8080"
    assert config.database_url is None
    assert config.github_url == "https://github.com"
    assert config.github_api_url == "https://api.github.com"
    assert config.build_concurrency == 2
    assert config.build_timeout == 900
    assert config.build_memory == 2 * 1024**3
    assert config.build_cpus == 1.0
    assert config.build_network == "bridge"
    assert config.node_image == "node:{major}-slim"
    assert (config.node_versions, config.node_default) == ((20, 22, 24), 22)
    assert config.node_image_for(24) == "node:24-slim"
    assert config.keep_releases == 10
    assert not config.github_oauth_enabled


def test_environment_fills_settings_and_flags_win(dirs):
    env = {"SLIPWAY_PORT": "9000", "SLIPWAY_DOMAIN": "Sites.Example.COM.",
           "SLIPWAY_BUILD_MEMORY": "512m", "SLIPWAY_BUILD_TIMEOUT": "15m"}
    config = parse_config([*dirs, "--port", "9100"], environ=env)
    assert config.port == 9100
    assert config.domain == "sites.example.com"
    assert config.build_memory == 512 * 1024**2
    assert config.build_timeout == 900


def test_public_url_follows_the_port_unless_set(dirs):
    assert parse_config([*dirs, "--port", "9000"], environ={}).public_url == "http://localhost:9000"
    config = parse_config(dirs, environ={"SLIPWAY_PUBLIC_URL": "https://deploy.example.com/"})
    assert config.public_url == "https://deploy.example.com"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SLIPWAY_PORT": "abc"},
         "SLIPWAY_PORT (--port) must be a whole number from 0 to 65535, got 'abc'"),
        ({"SLIPWAY_PORT": "70000"},
         "SLIPWAY_PORT (--port) must be a whole number from 0 to 65535, got '70000'"),
        ({"SLIPWAY_BIND": "not an address"},
         "SLIPWAY_BIND (--bind) must be an IP address or a host name"),
        ({"SLIPWAY_DOMAIN": "bad_domain!"}, "SLIPWAY_DOMAIN (--domain) must be a host name"),
        ({"SLIPWAY_PUBLIC_URL": "ftp://x"}, "SLIPWAY_PUBLIC_URL (--public-url) must be an http"),
        ({"SLIPWAY_PUBLIC_URL": "http://x/dash"},
         "SLIPWAY_PUBLIC_URL (--public-url) must be the origin only"),
        ({"DATABASE_URL": "mysql://root@localhost/db"},
         "DATABASE_URL (--database-url) must be a PostgreSQL URL"),
        ({"SLIPWAY_BUILD_CONCURRENCY": "0"},
         "SLIPWAY_BUILD_CONCURRENCY (--build-concurrency) must be a whole number from 1 to 64"),
        ({"SLIPWAY_BUILD_TIMEOUT": "soon"},
         "SLIPWAY_BUILD_TIMEOUT (--build-timeout) must be a duration"),
        ({"SLIPWAY_BUILD_MEMORY": "1k"},
         "SLIPWAY_BUILD_MEMORY (--build-memory) must be at least 6m"),
        ({"SLIPWAY_BUILD_CPUS": "-1"}, "SLIPWAY_BUILD_CPUS (--build-cpus) must be a number"),
        ({"SLIPWAY_BUILD_NETWORK": "no such/net"},
         "SLIPWAY_BUILD_NETWORK (--build-network) must be a Docker network name"),
        ({"SLIPWAY_NODE_IMAGE": "Node 20"},
         "SLIPWAY_NODE_IMAGE (--node-image) must be a Docker image reference"),
        ({"SLIPWAY_KEEP_RELEASES": "0"},
         "SLIPWAY_KEEP_RELEASES (--keep-releases) must be a whole number from 1 to 1000"),
        ({"GITHUB_URL": "github.com"}, "GITHUB_URL (--github-url) must be an http"),
        ({"GITHUB_CLIENT_ID": "abc"},
         "GITHUB_CLIENT_SECRET (--github-client-secret) must be set too"),
        ({"DOCKER_HOST": "/var/run/docker.sock"},
         "DOCKER_HOST (--docker-host) must be a Docker host"),
    ],
)
def test_bad_values_name_the_setting(dirs, env, expected):
    with pytest.raises(ConfigError) as error:
        parse_config(dirs, environ=env)
    assert str(error.value).startswith(expected)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("value", ["short", "a" * 64 + "zz", base64.b64encode(b"x" * 31).decode()])
def test_malformed_secret_key_is_refused_without_echoing_it(dirs, value):
    with pytest.raises(ConfigError) as error:
        parse_config(dirs, environ={"SLIPWAY_SECRET_KEY": value})
    message = str(error.value)
    assert message.startswith("SLIPWAY_SECRET_KEY (--secret-key) must be 32 bytes")
    assert value not in message


def test_database_url_error_never_shows_the_password(dirs):
    with pytest.raises(ConfigError) as error:
        parse_config(dirs, environ={"DATABASE_URL": "postgresql://u:hunter2@h/db?bogus_option=1"})
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize("encode", [bytes.hex, lambda k: base64.b64encode(k).decode(),
                                    lambda k: base64.urlsafe_b64encode(k).decode()])
def test_secret_key_accepts_hex_and_base64(dirs, encode):
    key = os.urandom(32)
    assert parse_config(dirs, environ={"SLIPWAY_SECRET_KEY": encode(key)}).secret_key == key


def test_secret_key_is_generated_once_with_private_permissions(dirs, tmp_path):
    first = parse_config(dirs, environ={})
    key_file = tmp_path / "data" / SECRET_KEY_FILE
    assert len(first.secret_key) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert parse_config(dirs, environ={}).secret_key == first.secret_key


def test_corrupt_key_file_names_the_file(dirs, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / SECRET_KEY_FILE).write_text("garbage\n")
    with pytest.raises(ConfigError, match=r"key file .*secret\.key must be 32 bytes"):
        parse_config(dirs, environ={})


def test_unwritable_data_dir_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as error:
        parse_config(["--data-dir", str(blocker / "data"),
                      "--deployments-dir", str(tmp_path / "sites")], environ={})
    assert str(error.value).startswith("SLIPWAY_DATA_DIR (--data-dir) is not a writable directory")


def test_read_only_deployments_dir_is_refused(tmp_path):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    if os.access(read_only, os.W_OK):  # root ignores modes; a file in the way still blocks
        read_only.chmod(0o700)
        read_only = tmp_path / "ro" / "file"
        read_only.write_text("")
    with pytest.raises(ConfigError, match=r"^SLIPWAY_DEPLOYMENTS_DIR \(--deployments-dir\)"):
        parse_config(["--data-dir", str(tmp_path / "data"),
                      "--deployments-dir", str(read_only)], environ={})


def test_unknown_option_is_refused(dirs):
    with pytest.raises(ConfigError, match="unknown option --colour"):
        parse_config([*dirs, "--colour"], environ={})


@pytest.mark.parametrize(("env", "problem"), [
    ({"SLIPWAY_NODE_VERSIONS": "20,twenty"}, "SLIPWAY_NODE_VERSIONS"),
    ({"SLIPWAY_NODE_VERSIONS": ""}, None),
    ({"SLIPWAY_NODE_DEFAULT": "18"}, "SLIPWAY_NODE_DEFAULT (--node-default) must be one of"),
    ({"SLIPWAY_NODE_VERSIONS": "18,20", "SLIPWAY_NODE_DEFAULT": "20"}, None),
    ({"SLIPWAY_NODE_IMAGE": "registry.local:5000/node:{major}"}, None),
    ({"SLIPWAY_NODE_IMAGE": "node:{minor}"}, "SLIPWAY_NODE_IMAGE"),
])
def test_node_settings_are_checked_together(dirs, env, problem):
    if problem is None:
        parse_config(dirs, environ=env)
        return
    with pytest.raises(ConfigError, match=re.escape(problem)):
        parse_config(dirs, environ=env)


def test_https_is_off_by_default_and_on_needs_an_https_public_url(dirs, tmp_path):
    config = parse_config(dirs, environ={})
    assert (config.https, config.https_port, config.plain_http_port) == (False, 443, 8080)
    assert config.acme_directory == "https://acme-v02.api.letsencrypt.org/directory"
    assert config.dns_resolver is None

    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    config = parse_config(dirs, environ={
        "SLIPWAY_HTTPS": "on", "SLIPWAY_PUBLIC_URL": "https://Slipway.Example.com",
        "SLIPWAY_PORT": "80", "SLIPWAY_ACME_EMAIL": "ops@example.com",
        "SLIPWAY_ACME_CA_BUNDLE": str(bundle), "SLIPWAY_DNS_RESOLVER": "127.0.0.1:8053"})
    assert (config.https, config.plain_http_port, config.https_port) == (True, 80, 443)
    assert config.dashboard_host == "slipway.example.com"
    assert config.https_url("shop.example.com") == "https://shop.example.com"
    assert config.acme_ca_bundle == bundle
    assert config.dns_resolver == ("127.0.0.1", 8053)
    assert parse_config(dirs, environ={"SLIPWAY_HTTPS": "on", "SLIPWAY_HTTPS_PORT": "8443",
                                       "SLIPWAY_PUBLIC_URL": "https://a.example"}
                        ).https_url("b.example") == "https://b.example:8443"


@pytest.mark.parametrize(("env", "problem"), [
    ({"SLIPWAY_HTTPS": "maybe"}, "SLIPWAY_HTTPS (--https) must be on or off"),
    ({"SLIPWAY_HTTPS": "on"}, "SLIPWAY_PUBLIC_URL (--public-url) must be set with "
                              "SLIPWAY_HTTPS=on"),
    ({"SLIPWAY_HTTPS": "on", "SLIPWAY_PUBLIC_URL": "http://a.example"},
     "must be an https:// URL with SLIPWAY_HTTPS=on"),
    ({"SLIPWAY_HTTPS": "on", "SLIPWAY_PUBLIC_URL": "https://a.example", "SLIPWAY_PORT": "443"},
     "SLIPWAY_HTTPS_PORT (--https-port) must differ from the plain-HTTP port 443"),
    ({"SLIPWAY_ACME_EMAIL": "nobody"}, "SLIPWAY_ACME_EMAIL (--acme-email) must be an email"),
    ({"SLIPWAY_ACME_CA_BUNDLE": "/no/such/ca.pem"}, "is not a readable file: /no/such/ca.pem"),
    ({"SLIPWAY_DNS_RESOLVER": "dns.example"}, "must be a DNS server's IP address"),
    ({"SLIPWAY_DNS_RESOLVER": "127.0.0.1:99999"}, "SLIPWAY_DNS_RESOLVER (--dns-resolver) must "
                                                  "be a whole number"),
])
def test_https_settings_are_checked_with_one_clear_line(dirs, env, problem):
    with pytest.raises(ConfigError) as caught:
        parse_config(dirs, environ=env)
    assert problem in str(caught.value)


SHARED = {"DATABASE_URL": "postgresql://slipway@db.internal:5432/slipway",
          "SLIPWAY_SECRET_KEY": "ab" * 32, "SLIPWAY_REDIS_URL": "redis://10.0.0.5:6379/0"}


def test_one_process_does_everything_by_default(dirs):
    config = parse_config(dirs, environ={})
    assert (config.serves_web, config.runs_builds, config.redis_url) == (True, True, None)


def test_a_worker_process_shares_database_redis_and_key(dirs):
    config = parse_config(dirs, environ={**SHARED, "SLIPWAY_ROLES": "worker"})
    assert (config.serves_web, config.runs_builds) == (False, True)
    assert "10.0.0.5" not in repr(config)  # a Redis URL may carry a password


@pytest.mark.parametrize(("env", "expected"), [
    ({"SLIPWAY_ROLES": "builder"}, "SLIPWAY_ROLES (--roles) must name one or both of web"),
    ({"SLIPWAY_ROLES": "worker"}, "set SLIPWAY_REDIS_URL (--redis-url) too"),
    ({**SHARED, "DATABASE_URL": ""}, "set DATABASE_URL (--database-url) to the PostgreSQL"),
    ({**SHARED, "SLIPWAY_SECRET_KEY": ""}, "set SLIPWAY_SECRET_KEY (--secret-key) to the same"),
    ({**SHARED, "SLIPWAY_REDIS_URL": "http://10.0.0.5"}, "must be a Redis URL"),
])
def test_scale_out_settings_that_cannot_work_are_refused(dirs, env, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse_config(dirs, environ=env)


def test_the_runner_id_is_kept_in_the_data_directory_and_differs_between_them(dirs, tmp_path):
    first = parse_config(dirs, environ={})
    assert parse_config(dirs, environ={}).runner_id == first.runner_id
    other = parse_config(["--data-dir", str(tmp_path / "other"),
                          "--deployments-dir", str(tmp_path / "d2")], environ={})
    assert other.runner_id != first.runner_id


@pytest.mark.parametrize(("raw", "expected"), [
    ("file", "file"),
    ("s3://releases", "s3://releases"),
    ("s3://my-bucket/slipway/", "s3://my-bucket/slipway"),
    ("s3://my.bucket//a//b", "s3://my.bucket/a/b"),
])
def test_release_storage_is_file_or_an_s3_bucket_and_prefix(dirs, raw, expected):
    config = parse_config(dirs, environ={"SLIPWAY_STORAGE": raw,
                                         "SLIPWAY_S3_ENDPOINT": "http://minio.internal:9000",
                                         "SLIPWAY_RELEASE_CACHE": "5g"})
    assert (config.storage, config.uses_s3) == (expected, raw != "file")
    assert (config.s3_endpoint, config.release_cache) == ("http://minio.internal:9000",
                                                          5 * 1024**3)


@pytest.mark.parametrize("raw", ["s3://", "s3://UPPER", "gs://bucket", "s3://b/../up",
                                 "s3://bucket/a?x=1", "/mnt/releases", "s3://bucket/sp ace"])
def test_a_storage_that_is_not_file_or_s3_is_refused_in_one_line(dirs, raw):
    with pytest.raises(ConfigError, match=r"^SLIPWAY_STORAGE \(--storage\) must be file or s3"):
        parse_config(dirs, environ={"SLIPWAY_STORAGE": raw})
