"""Queries on build logs: one row a line, numbered in one sequence per build."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row


async def store_lines(conn: AsyncConnection, build_id: int,
                      rows: list[tuple[int, str, str]]) -> None:
    """Append `(line_number, stream, text)` rows to a build's log.

    COPY, not INSERT: a flooding build writes its lines about five times faster this way; and
    one payload in COPY's text format rather than a `write_row` per line, whose per-row await
    was most of the IOLoop's work in a log flood.
    """
    payload = "".join(f"{build_id}\t{number}\t{stream}\t{_copy_text(text)}\n"
                      for number, stream, text in rows)
    async with conn.cursor() as cursor, cursor.copy(
        "COPY build_logs (build_id, line_number, stream, text) FROM STDIN"
    ) as copy:
        await copy.write(payload.encode())


def _copy_text(text: str) -> str:
    """Escape a value for COPY's text format (lines never contain NUL: the splitter replaced
    it)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return text


async def read_lines(conn: AsyncConnection, build_id: int, after: int,
                     limit: int) -> list[dict[str, Any]]:
    """At most `limit` stored lines numbered after `after`, in order (a viewer's catch-up)."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT line_number, stream, text, created_at FROM build_logs "
        "WHERE build_id = %s AND line_number > %s ORDER BY line_number LIMIT %s",
        (build_id, after, limit),
    )
    return await cursor.fetchall()


async def last_line_number(conn: AsyncConnection, build_id: int) -> int:
    """The number of a build's last stored line, 0 when it has none."""
    cursor = await conn.execute(
        "SELECT coalesce(max(line_number), 0) FROM build_logs WHERE build_id = %s", (build_id,)
    )
    (number,) = await cursor.fetchone()
    return number
