"""`python server.py` in a subprocess, as a user runs it, with its output kept for assertions."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """server.py in a subprocess, with its output kept for assertions."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None,
                 script: Path = ROOT / "server.py", sigint_ignored: bool = False,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = tmp_path / f"server-{self.port}.log"
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SLIPWAY_", "DATABASE_URL", "GITHUB_"))}
        environ.update(env or {})
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, str(script), "--port", str(self.port), "--bind", "127.0.0.1", *args],
            cwd=tmp_path, env=environ, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,  # so a failed test can kill the server and its children
            # As a shell's background job gets it: Ctrl-C handling must not rely on inheriting it.
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
            if sigint_ignored else None,
        )

    def health(self) -> dict:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                url = f"http://127.0.0.1:{self.port}/api/health"
                with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310
                    return json.loads(answer.read())
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not come up:\n{self.output()}") from None
                time.sleep(0.1)

    def stop(self, signum: int = signal.SIGINT) -> int:
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise AssertionError(f"server ignored signal {signum}:\n{self.output()}") from None
        finally:
            self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")
