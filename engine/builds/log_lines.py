"""Turning a process's raw output into log lines: splitting, decoding, cutting and masking.

Both classes are plain, single-threaded objects: the build log keeps one splitter per output
stream, used only by the thread that reads that output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_LINE_BYTES = 8192
CUT_MARKER = " … [line cut at 8 KiB]"
MASK = "***"
MIN_SECRET_LENGTH = 3

# \r\n first, so a Windows line end is one terminator and never an extra empty line.
_LINE_END = re.compile(rb"\r\n|\r|\n")


def _decode(data: bytes | bytearray) -> str:
    # PostgreSQL's text type cannot hold NUL, and a build may print anything.
    return bytes(data).decode("utf-8", "replace").replace("\x00", "\ufffd")


def _cut(data: bytes | bytearray) -> str:
    """The first 8 KiB of an over-long line (at least MAX_LINE_BYTES + 1 bytes), cut before
    the character that straddles the limit, with the marker."""
    end = MAX_LINE_BYTES
    for _ in range(3):  # a UTF-8 character has at most 3 continuation bytes
        if data[end] & 0xC0 != 0x80:
            break
        end -= 1
    return _decode(data[:end]) + CUT_MARKER


class LineSplitter:
    """Splits a byte stream into text lines.

    A line ends at `\\n`, `\\r\\n` or a lone `\\r` (progress bars redraw with it); an empty line
    ended by a lone `\\r` is not a line, so redraws do not leave blank lines behind. A partial
    line waits for the next chunk, as raw bytes, so a UTF-8 character split across two chunks
    decodes correctly; invalid bytes become U+FFFD. A line longer than 8 KiB (measured in raw
    bytes) is emitted as soon as it passes the limit, cut with a marker, and the rest of it up
    to its line end is dropped as it arrives: at most 8 KiB + 1 byte is ever buffered.
    """

    def __init__(self) -> None:
        self._partial = bytearray()
        self._cutting = False  # dropping the tail of an over-long line until its line end
        # The last chunk ended with \r: whether it was \r\n or a lone \r depends on the next
        # byte, and the line it ends is empty or not accordingly, so it waits for that byte.
        self._cr_pending = False

    @property
    def buffered_bytes(self) -> int:
        """Bytes of the partial line held until its end arrives (never above 8 KiB + 1)."""
        return len(self._partial)

    def feed(self, chunk: bytes) -> list[str]:
        """The lines completed by `chunk`, in order."""
        lines: list[str] = []
        start = 0
        if self._cr_pending and chunk:
            self._cr_pending = False
            crlf = chunk[0] == 0x0A
            self._end_line(chunk, 0, 0, lone_cr=not crlf, lines=lines)
            start = 1 if crlf else 0
        for match in _LINE_END.finditer(chunk, start):
            end = match.start()
            lone_cr = match.end() - end == 1 and chunk[end] == 0x0D
            if lone_cr and match.end() == len(chunk):
                self._keep(chunk, start, end, lines)
                self._cr_pending = True
                return lines
            self._end_line(chunk, start, end, lone_cr=lone_cr, lines=lines)
            start = match.end()
        self._keep(chunk, start, len(chunk), lines)
        return lines

    def flush(self) -> list[str]:
        """The trailing partial line, if any (the stream ended without a line end)."""
        lines: list[str] = []
        if self._cr_pending:
            self._end_line(b"", 0, 0, lone_cr=True, lines=lines)
        elif self._partial and not self._cutting:
            lines.append(_decode(self._partial))
        self._partial, self._cutting, self._cr_pending = bytearray(), False, False
        return lines

    def _end_line(self, chunk: bytes, start: int, end: int, *, lone_cr: bool,
                  lines: list[str]) -> None:
        if self._cutting:
            self._cutting = False
            self._partial.clear()
            return
        size = len(self._partial) + end - start
        if size > MAX_LINE_BYTES:
            # Copy no more of a huge segment than the cut needs.
            head = bytes(self._partial) + chunk[start:min(end, start + MAX_LINE_BYTES + 1)]
            lines.append(_cut(head))
        elif size == 0:
            if not lone_cr:
                lines.append("")
        elif self._partial:
            self._partial += chunk[start:end]
            lines.append(_decode(self._partial))
        else:
            lines.append(_decode(chunk[start:end]))
        self._partial.clear()

    def _keep(self, chunk: bytes, start: int, end: int, lines: list[str]) -> None:
        """Hold an unfinished line, or cut it once it passes the limit."""
        if self._cutting or start == end:
            return
        room = MAX_LINE_BYTES + 1 - len(self._partial)
        self._partial += chunk[start:min(end, start + room)]
        if len(self._partial) > MAX_LINE_BYTES:
            lines.append(_cut(self._partial))
            self._partial.clear()
            self._cutting = True


def split_text(text: str) -> list[str]:
    """The lines of a complete text, split, decoded and cut exactly as process output is."""
    splitter = LineSplitter()
    return splitter.feed(text.encode("utf-8", "replace")) + splitter.flush()


class SecretMasker:
    """Replaces every occurrence of any secret value in a line with `***`.

    Values shorter than 3 characters are ignored: masking a secret such as "1" or "no" would
    replace every such character sequence in every line and shred the log, while revealing
    little. A multi-line value (a PEM key) is masked line by line, since logs are split into
    lines before masking. Overlapping occurrences of different values merge into one `***`, so
    no fragment of either survives.
    """

    def __init__(self, values: Iterable[str]) -> None:
        pieces = {
            piece
            for value in values
            for piece in re.split(r"\r\n|\r|\n", value)
            if len(piece) >= MIN_SECRET_LENGTH
        }
        # Longest first: at a given position the alternation takes the first value that
        # matches, so a value containing another is masked whole.
        ordered = sorted(pieces, key=lambda piece: (-len(piece), piece))
        self._values = ordered
        alternation = "|".join(map(re.escape, ordered))
        self._any = re.compile(alternation) if ordered else None
        # The same inside a lookahead matches at every position where a value starts, so
        # overlapping occurrences are all found; only lines holding a secret pay for it.
        self._every = re.compile(f"(?=({alternation}))") if ordered else None

    def mask(self, line: str) -> str:
        """`line` with every secret value replaced by `***`."""
        if self._any is None:
            return line
        if line.endswith(CUT_MARKER):
            # The 8 KiB cut may have split a secret: its start must not survive either.
            body = self._mask_all(line[:-len(CUT_MARKER)])
            return self._mask_cut_end(body) + CUT_MARKER
        return self._mask_all(line)

    def _mask_all(self, line: str) -> str:
        if self._any.search(line) is None:
            return line
        spans: list[list[int]] = []
        for match in self._every.finditer(line):
            start, end = match.span(1)
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        parts = []
        kept_from = 0
        for start, end in spans:
            parts.append(line[kept_from:start])
            parts.append(MASK)
            kept_from = end
        parts.append(line[kept_from:])
        return "".join(parts)

    def _mask_cut_end(self, text: str) -> str:
        """`text` with its end masked when it is the start of a secret value."""
        longest = 0
        for value in self._values:
            for size in range(min(len(value) - 1, len(text)), longest, -1):
                if text.endswith(value[:size]):
                    longest = size
                    break
        return text[:len(text) - longest] + MASK if longest else text
