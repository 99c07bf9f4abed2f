"""A small budget of wrong preview passwords per project and client address.

A preview password is typed by people, so it may be guessable: after FAILURES wrong tries
within WINDOW_SECONDS, that address must wait until the oldest of them is out of the window
before trying that project again. Kept in memory, per process: it slows guessing down, it is
not an account lockout (a restart forgets it), and a project's other visitors are not locked out.
"""

from __future__ import annotations

import time
from collections import deque

FAILURES = 5
WINDOW_SECONDS = 15 * 60
MAX_TRACKED = 10_000  # addresses × projects remembered; the oldest are forgotten past this


class UnlockThrottle:
    def __init__(self, failures: int = FAILURES, window: float = WINDOW_SECONDS) -> None:
        self.failures, self.window = failures, window
        self._failed: dict[tuple[str, str], deque[float]] = {}

    def retry_after(self, project: str, address: str) -> int | None:
        """Seconds to wait before another try, or None when one may be made now."""
        failed = self._recent(project, address)
        if failed is None or len(failed) < self.failures:
            return None
        return max(1, int(failed[0] + self.window - time.monotonic()) + 1)

    def failed(self, project: str, address: str) -> None:
        key = (project, address)
        failed = self._recent(project, address)
        if failed is None:
            if len(self._failed) >= MAX_TRACKED:
                del self._failed[next(iter(self._failed))]
            failed = self._failed[key] = deque(maxlen=self.failures)
        failed.append(time.monotonic())

    def succeeded(self, project: str, address: str) -> None:
        self._failed.pop((project, address), None)

    def _recent(self, project: str, address: str) -> deque[float] | None:
        failed = self._failed.get((project, address))
        if failed is not None:
            while failed and failed[0] <= time.monotonic() - self.window:
                failed.popleft()
        return failed
