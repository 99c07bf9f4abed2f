"""The suite's own PostgreSQL housekeeping: a run killed before its finalizers (SIGKILL, the
out-of-memory killer) must not leave its embedded server running in /dev/shm, costing memory
every later run on the machine would miss, nor its databases on a shared server's disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from tests.support.postgres import drop_abandoned_databases, remove_abandoned_servers

_KILLED_RUN = """
import sys, time
from pathlib import Path
from sql.embedded import EmbeddedPostgres
server = EmbeddedPostgres(Path(sys.argv[1]))
print(server.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Running, that is: a killed postmaster nobody reaps lingers as a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_killed_runs_server_is_stopped_and_its_directory_removed(tmp_path):
    parent = tmp_path / "shm"
    parent.mkdir()
    parent.chmod(0o755)  # postgres runs as another OS user when the suite is root
    abandoned = parent / "slipway-test-pg-killed"
    abandoned.mkdir()
    abandoned.chmod(0o755)
    run = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(abandoned / "pg")],
                           stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    postmaster = int(run.stdout.readline())
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert _alive(postmaster), "the killed run's server should have outlived it"

    in_use = parent / "slipway-test-pg-in-use" / "pg"
    in_use.mkdir(parents=True)
    (in_use / ".handle_pids.json").write_text(f"[{os.getpid()}]")

    assert remove_abandoned_servers(parent, settle=0) == [abandoned]
    deadline = time.monotonic() + 10
    while _alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(postmaster)
    assert not abandoned.exists()
    assert in_use.exists()

    just_made = parent / "slipway-test-pg-just-made"
    just_made.mkdir()
    assert remove_abandoned_servers(parent) == []  # a young directory may be a run starting
    assert just_made.exists()


def test_a_killed_runs_databases_are_dropped_but_a_living_runs_are_kept(postgres):
    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()
    names = {"dead": f"slipway_test_{dead_pid.pid}_0a0b0c_template",
             "dead_old_style": f"slipway_test_{dead_pid.pid}_7",
             "mine": f"slipway_test_{os.getpid()}_0d0e0f_1",
             "in_use": f"slipway_test_{dead_pid.pid}_1a1b1c_2",
             "not_ours": "slipway_testing_notes"}
    with psycopg.connect(postgres.admin_url, autocommit=True) as admin:
        for name in names.values():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(postgres.url_for(names["in_use"])):
            dropped = drop_abandoned_databases(postgres.admin_url)
        assert sorted(dropped) == sorted([names["dead"], names["dead_old_style"]])
        with psycopg.connect(postgres.admin_url) as admin:
            left = {name for (name,) in admin.execute("SELECT datname FROM pg_database")}
        assert names["mine"] in left and names["in_use"] in left and names["not_ours"] in left
    finally:
        with psycopg.connect(postgres.admin_url, autocommit=True) as admin:
            for name in names.values():
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))
