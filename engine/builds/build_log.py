"""A running build's log: raw output from a worker thread, stored and streamed in batches.

The worker thread hands chunks of output to `BuildLog.write` and returns at once: the chunks are
split into lines, masked and numbered on that thread, then appended to a buffer. A task on the
IOLoop drains the buffer at most every `flush_interval` seconds while lines are pending, in
batches of at most `max_batch` lines: each batch is stored with one COPY, then sent to the
owner's browsers. Storing before sending is what lets a late viewer fetch the stored lines, then
follow the live ones, with no gap (a viewer drops live lines numbered at or below the last line
it fetched). Bounded batches keep each step of the loop short even when a build floods its
output, and the thread never waits for the database or the sockets.

Lifecycle, for the build runner: create the log and call `start()` on the loop, hand it to the
worker thread, and once the thread is done `await close()` on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from engine.builds.log_lines import LineSplitter, SecretMasker, split_text
from engine.events import EventEmitter
from sql.build_logs import store_lines

log = logging.getLogger(__name__)

STREAM_EVENTS = {
    "build_stdout": "build_logs",
    "build_stderr": "build_errors",
    "run_stdout": "run_logs",
    "run_stderr": "run_error",
    "system": "build_logs",
}
OUTPUT_STREAMS = frozenset(STREAM_EVENTS) - {"system"}
# Past the cap, the build's own output is dropped but Slipway's lines ("Error: ...", "Build
# failed: ...") are still kept, up to this many: a viewer must see why the build ended. The
# last SYSTEM_TAIL of them are held until the log finishes, so that a build making Slipway
# talk a lot (a Dockerfile of a thousand steps) cannot push the final reason out.
SYSTEM_LINES_AFTER_CAP = 100
SYSTEM_TAIL = 10

Row = tuple[int, str, str]  # line number, stream, text


class _Unstored:
    """A batch already sent to the browsers whose store failed, waiting for its one retry."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.attempts = 1


class BuildLog:
    """The log of one running build: written by one worker thread, drained by the IOLoop."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        emitter: EventEmitter,
        loop: asyncio.AbstractEventLoop,
        *,
        build_id: int,
        project_id: int,
        user_id: int,
        secrets: Iterable[str] = (),
        max_lines: int = 100_000,
        flush_interval: float = 0.05,
        max_batch: int = 1000,
        first_line: int = 1,
        store_timeout: float = 5.0,
    ) -> None:
        self.build_id = build_id
        self.project_id = project_id
        self.user_id = user_id
        self.max_lines = max_lines
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.store_timeout = store_timeout
        self.dropped_lines = 0  # lines over the cap, counted but neither stored nor sent
        self._pool = pool
        self._emitter = emitter
        self._loop = loop

        # Thread side: used by the writing thread, and by `finish` once it is done.
        self._write_lock = threading.Lock()
        self._splitters: dict[str, LineSplitter] = {}
        self._masker = SecretMasker(secrets)
        self._next_number = first_line
        self._last_allowed = first_line + max_lines - 1
        self._truncated = False
        self._finished = False
        self._system_after_cap = 0  # Slipway's lines stored past the cap, as they came
        self._system_tail: deque[str] = deque(maxlen=SYSTEM_TAIL)  # then the latest ones
        self._system_dropped = 0  # between the two

        # Handed over from the thread to the loop.
        self._pending_lock = threading.Lock()
        self._pending: list[Row] = []
        self._scheduled = False  # the loop has been woken for the pending lines

        # Loop side.
        self._wake = asyncio.Event()
        self._unstored: list[_Unstored] = []
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    # Thread side.

    def write(self, stream: str, chunk: bytes) -> None:
        """Add a chunk of a process's raw output on `stream` (`build_stdout`, `build_stderr`,
        `run_stdout` or `run_stderr`). A partial line waits for the rest of its stream."""
        if stream not in OUTPUT_STREAMS:
            raise ValueError(f"not an output stream: {stream!r}")
        with self._write_lock:
            if self._finished:
                return
            splitter = self._splitters.get(stream)
            if splitter is None:
                splitter = self._splitters[stream] = LineSplitter()
            self._append(stream, splitter.feed(chunk))

    def line(self, stream: str, text: str) -> None:
        """Add one of Slipway's own messages ("Detected Vite"), usually on stream `system`.
        Past the cap, `system` lines are still kept (see SYSTEM_LINES_AFTER_CAP)."""
        if stream not in STREAM_EVENTS:
            raise ValueError(f"not a log stream: {stream!r}")
        with self._write_lock:
            if self._finished:
                return
            self._append(stream, split_text(text) or [""])

    def finish(self) -> None:
        """End every stream: their partial lines become lines, and later writes are ignored.

        Called by `close`; the worker thread may call it first. Safe once the worker is done;
        if it is still writing, this waits for that one write, and the worker's later writes
        are lost.
        """
        with self._write_lock:
            if self._finished:
                return
            self._finished = True
            for stream, splitter in self._splitters.items():
                self._append(stream, splitter.flush())
            held = list(self._system_tail)
            if self._system_dropped:
                held.insert(0, f"… {self._system_dropped} more of Slipway's lines dropped")
            self._publish(self._numbered("system", held))

    def _append(self, stream: str, lines: list[str]) -> None:
        """Mask and number `lines` of `stream`, within the cap, and hand them to the loop."""
        if not lines:
            return
        room = max(self._last_allowed + 1 - self._next_number, 0)
        rows = self._numbered(stream, self._masker.mask_lines(lines[:room]))
        over = lines[room:]
        if over and stream == "system":
            rows += self._numbered("system", self._system_past_cap(over))
        elif over:
            if not self._truncated:
                self._truncated = True
                rows += self._numbered("system",
                                       [f"… log truncated after {self.max_lines} lines"])
            self.dropped_lines += len(over)
        self._publish(rows)

    def _system_past_cap(self, lines: list[str]) -> list[str]:
        """Of Slipway's lines past the cap, those to store now; the latest others are held
        for `finish`, the rest dropped."""
        now = []
        for text in self._masker.mask_lines(lines):
            if self._system_after_cap < SYSTEM_LINES_AFTER_CAP - SYSTEM_TAIL:
                self._system_after_cap += 1
                now.append(text)
                continue
            if len(self._system_tail) == SYSTEM_TAIL:
                self._system_dropped += 1
                self.dropped_lines += 1
            self._system_tail.append(text)
        return now

    def _numbered(self, stream: str, lines: list[str]) -> list[Row]:
        first = self._next_number
        self._next_number += len(lines)
        return [(number, stream, text) for number, text in enumerate(lines, first)]

    def _publish(self, rows: list[Row]) -> None:
        if not rows:
            return
        with self._pending_lock:
            self._pending.extend(rows)
            if self._scheduled:
                return
            self._scheduled = True
        # One wake-up per idle-to-busy transition, not one per write: a flood of writes must
        # not flood the loop with callbacks.
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:
            log.warning("build %s wrote to its log after the IOLoop closed", self.build_id)

    # Loop side.

    def start(self) -> None:
        """Start draining (on the loop). Lines written before are kept, not lost."""
        if self._task is None:
            self._task = self._loop.create_task(self._run())

    async def close(self) -> None:
        """Finish the streams, then store and send everything pending, and stop draining."""
        self.finish()
        self._closing = True
        self.start()
        self._wake.set()
        assert self._task is not None
        # Shielded: a build canceled while its log closes still gets its last lines stored.
        await asyncio.shield(self._task)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                try:
                    await self._tick()
                except Exception:
                    # A bug here must not stop the build's log for good.
                    log.exception("draining the log of build %s failed", self.build_id)
                if not self._has_work():
                    break
                if not self._closing:
                    await asyncio.sleep(self.flush_interval)
            if self._closing:
                return

    def _has_work(self) -> bool:
        with self._pending_lock:
            if self._pending or self._unstored:
                return True
            self._scheduled = False
            return False

    async def _tick(self) -> None:
        # Once the database is unreachable, the batches after it in this tick would fail the
        # same way: they count as failed without waiting for another timeout each.
        database_down = await self._retry_unstored()
        with self._pending_lock:
            rows, self._pending = self._pending, []
        for start in range(0, len(rows), self.max_batch):
            batch = rows[start:start + self.max_batch]
            if database_down:
                self._unstored.append(_Unstored(batch))
            else:
                error = await self._store(batch)
                if error is not None:
                    self._unstored.append(_Unstored(batch))
                    database_down = isinstance(error, psycopg.OperationalError)
            # Sent even when not stored: the live viewers should not lose them too.
            self._send(batch)
            await asyncio.sleep(0)

    async def _retry_unstored(self) -> bool:
        """Store each batch that failed on the last tick; a second failure drops it.
        True when the database looks unreachable."""
        unstored, self._unstored = self._unstored, []
        database_down = False
        for batch in unstored:
            error = await self._store(batch.rows) if not database_down else None
            if database_down or error is not None:
                log.error("dropped log lines %s-%s of build %s: they could not be stored",
                          batch.rows[0][0], batch.rows[-1][0], self.build_id)
                database_down = database_down or isinstance(error, psycopg.OperationalError)
        return database_down

    async def _store(self, rows: list[Row]) -> Exception | None:
        try:
            async with self._pool.connection(timeout=self.store_timeout) as conn:
                await store_lines(conn, self.build_id, rows)
        except Exception as exc:
            log.exception("could not store log lines %s-%s of build %s",
                          rows[0][0], rows[-1][0], self.build_id)
            return exc
        return None

    def _send(self, rows: list[Row]) -> None:
        """Emit `rows` in order, one event per run of consecutive lines of the same event."""
        event = STREAM_EVENTS[rows[0][1]]
        lines: list[dict[str, Any]] = []
        for number, stream, text in rows:
            if STREAM_EVENTS[stream] != event:
                self._emit(event, lines)
                event, lines = STREAM_EVENTS[stream], []
            # Slipway's own lines travel with stdout's event; they say so, so that a live
            # viewer shows them as a replay of the stored lines would.
            lines.append({"lineNumber": number, "log": text, "stream": "system"}
                         if stream == "system" else {"lineNumber": number, "log": text})
        self._emit(event, lines)

    def _emit(self, event: str, lines: list[dict[str, Any]]) -> None:
        payload = {"projectId": self.project_id, "buildId": self.build_id, "lines": lines}
        try:
            self._emitter.emit(self.user_id, event, payload)
        except Exception:
            log.exception("could not send %s of build %s", event, self.build_id)
