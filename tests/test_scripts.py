"""The quick-start scripts' own behaviour: what a user sees while they install things."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Stands in for apt-get: noisy on stderr as needrestart is on a closed terminal, failing when
# asked for a package called "broken".
FAKE_APT = """#!/bin/sh
echo "Reading package lists..."
echo "readline() on closed filehandle HENV at /usr/sbin/needrestart line 119." >&2
for arg in "$@"; do
  [ "$arg" = broken ] && { echo "E: Unable to locate package broken" >&2; exit 100; }
done
exit 0
"""


def _install(tmp_path: Path, *packages: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "apt-get").write_text(FAKE_APT)
    (bin_dir / "apt-get").chmod(0o755)
    return subprocess.run(
        ["bash", "-c", f'source "{ROOT}/scripts/bootstrap.sh"; as_root_install "$@"',
         "bootstrap", *packages],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})


@pytest.mark.skipif(os.geteuid() != 0, reason="installing packages is for root")
def test_installing_says_what_and_hides_apts_noise(tmp_path):
    result = _install(tmp_path, "pebble", "chromium")
    assert result.returncode == 0
    assert result.stderr == "slipway: installing with apt-get: pebble chromium\n"
    assert result.stdout == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="installing packages is for root")
def test_a_failed_install_shows_why(tmp_path):
    result = _install(tmp_path, "broken")
    assert result.returncode == 100
    assert "slipway: apt-get could not install broken (exit 100):" in result.stderr
    assert "E: Unable to locate package broken" in result.stderr
