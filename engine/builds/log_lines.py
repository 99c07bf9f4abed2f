"""Turning a process's raw output into log lines: splitting, decoding, cutting and masking.

Both classes are plain, single-threaded objects: the build log keeps one splitter per output
stream, used only by the thread that reads that output.
"""

from __future__ import annotations

import base64
import bisect
import functools
import itertools
import json
import os
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MAX_LINE_BYTES = 8192
CUT_MARKER = " … [line cut at 8 KiB]"
MASK = "***"
MIN_SECRET_LENGTH = 3
# Base64 and hex use small alphabets: a short or repetitive encoding would turn up by chance
# in hashes, numbers and minified code, and masking it there would shred the log.
MIN_ENCODED_LENGTH = 8
MIN_ENCODED_DISTINCT = 4
# The encodings of long values (files: keys, kubeconfigs) make thousands of long forms; past
# this many characters of them, a value is only masked as printed. Compiling the patterns
# takes about a second per MiB.
ENCODED_FORMS_BUDGET = 1 << 20
# Where tools wrap base64: coreutils' `base64`, and openssl / PEM.
BASE64_LINE_WIDTHS = (76, 64)
# JavaScript's encodeURIComponent leaves these as they are; Python's quote does not.
_URL_KEPT_BY_JAVASCRIPT = "!~*'()"
_URL_SAFE_BASE64 = str.maketrans("+/", "-_")
_VALUE_LINE_END = re.compile(r"\r\n|\r|\n")
# Forms are searched by tries of at most this many first characters each (see SecretMasker).
TRIE_FIRST_CHARACTERS = 16
# Deeper, a trie's groups would exhaust the regular expression parser's recursion.
MAX_TRIE_NESTING = 50

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


def _printed_forms(value: str) -> set[str]:
    """`value` as a build prints it, and as Slipway's `.env` file holds it (POSIX single
    quotes, a quote inside written '\\''): each of its lines, and a multi-line value whole
    across log lines, joined by `\\n`."""
    forms: set[str] = set()
    for text in (value, value.replace("'", "'\\''")):
        pieces = _VALUE_LINE_END.split(text)
        forms.update(piece for piece in pieces if len(piece) >= MIN_SECRET_LENGTH)
        whole = "\n".join(pieces).strip("\n")
        if "\n" in whole:
            forms.add(whole)
    return forms


def _encoded_forms(value: str) -> set[str]:
    """`value` encoded: JSON-escaped, URL-encoded, base64 (standard and URL-safe, padded or
    not, wrapped, and at each byte offset inside a longer encoded text) and hex."""
    forms: set[str] = set()
    for ensure_ascii in (False, True):  # JSON.stringify keeps non-ASCII, Python escapes it
        forms.add(json.dumps(value, ensure_ascii=ensure_ascii)[1:-1])
    for kept in ("", _URL_KEPT_BY_JAVASCRIPT):
        forms.add(quote(value, safe=kept))
        forms.add(quote_plus(value, safe=kept))
    return forms | {form for form in _binary_forms(value.encode()) if _distinctive(form)}


def secret_forms(values: Iterable[str]) -> set[str]:
    """The texts to mask for `values`, as CI systems mask them: each value printed
    (`_printed_forms`) and, within ENCODED_FORMS_BUDGET, shortest values first, encoded
    (`_encoded_forms`). Nothing for a value shorter than MIN_SECRET_LENGTH, nor its encodings:
    they would be as short, or too short to be told from chance."""
    forms: set[str] = set()
    budget = ENCODED_FORMS_BUDGET
    for value in sorted((value for value in values if len(value) >= MIN_SECRET_LENGTH), key=len):
        forms |= _printed_forms(value)
        encoded = _encoded_forms(value)
        cost = sum(min(len(form), MAX_LINE_BYTES) for form in encoded)
        if cost <= budget:
            forms |= encoded
            budget -= cost
    # A line holds at most 8 KiB: a longer form can only be in one as its start, cut.
    return {form[:MAX_LINE_BYTES] for form in forms}


def _binary_forms(data: bytes) -> set[str]:
    encoded = base64.b64encode(data).decode()
    forms = {encoded, encoded.rstrip("=")}
    for width in BASE64_LINE_WIDTHS:
        if len(encoded) > width:
            forms.update(encoded[start:start + width] for start in range(0, len(encoded), width))
    # Inside a longer encoded text (user:password, a JSON document) the value starts at a
    # byte offset of 0, 1 or 2 modulo 3: keep the characters made of its bits only.
    for offset in range(3):
        shifted = base64.b64encode(bytes(offset) + data).decode()
        forms.add(shifted[(8 * offset + 5) // 6:(8 * (offset + len(data))) // 6])
    forms |= {form.translate(_URL_SAFE_BASE64) for form in forms}
    return forms | {data.hex(), data.hex().upper()}


def _distinctive(form: str) -> bool:
    return len(form) >= MIN_ENCODED_LENGTH and len(set(form)) >= MIN_ENCODED_DISTINCT


def _trie_pattern(forms: Iterable[str]) -> str:
    """A pattern matching any of `forms`, the longest at each position, written as a trie:
    trying a position costs one comparison per distinct first character, not one per form,
    so it hardly grows with the number of secrets and encodings."""
    ordered = sorted(set(forms))
    return _trie_branches(ordered, 0, 0) if ordered else ""


def _trie_branches(forms: list[str], depth: int, nesting: int) -> str:
    """The pattern of `forms` (sorted, sharing their first `depth` characters) after those."""
    ends = len(forms[0]) == depth  # sorted: the form ending here comes first
    rest = forms[1:] if ends else forms
    if nesting > MAX_TRIE_NESTING:
        # Values that are prefixes of one another, hundreds deep: flat, longest first.
        tails = sorted((form[depth:] for form in rest), key=len, reverse=True)
        return "(?:" + "|".join(map(re.escape, tails)) + ("|)" if ends else ")")
    branches = []
    for _, group in itertools.groupby(rest, key=lambda form: form[depth]):
        group = list(group)
        shared = len(os.path.commonprefix([group[0], group[-1]]))
        tail = _trie_branches(group, shared, nesting + 1) if len(group) > 1 else ""
        branches.append(re.escape(group[0][depth:shared]) + tail)
    if not branches:
        return ""
    if len(branches) == 1 and not ends:
        return branches[0]
    # Greedy: a longer form is tried before the shorter one ending here.
    return "(?:" + "|".join(branches) + (")?" if ends else ")")


class SecretMasker:
    """Replaces every occurrence of any secret value, printed or encoded (`secret_forms`), in
    log lines with `***`.

    Values shorter than 3 characters are ignored: masking a secret such as "1" or "no" would
    replace every such character sequence in every line and shred the log, while revealing
    little. Overlapping occurrences of different values merge into one `***`, so no fragment
    of either survives. `mask_lines` masks a run of consecutive lines of one stream, so a
    multi-line value is masked across them too.
    """

    def __init__(self, values: Iterable[str]) -> None:
        forms = secret_forms(values)
        self._forms = sorted(forms)  # searched by prefix for the 8 KiB cut
        self._longest = max(map(len, forms), default=0)
        # One trie per few first characters: a search skips, in a tight loop, the positions
        # whose character starts none of its forms, and tries a handful of branches at the
        # others, where one trie of every form would try them all at every position. Twenty
        # secrets with their encodings start with about fifty different characters.
        self._firsts = sorted({form[0] for form in forms})
        self._searches = [
            re.compile(_trie_pattern(form for form in forms if form[0] in chunk))
            for chunk in map(set, (self._firsts[i:i + TRIE_FIRST_CHARACTERS]
                                   for i in range(0, len(self._firsts), TRIE_FIRST_CHARACTERS)))]

    @functools.cached_property
    def _every(self) -> re.Pattern[str]:
        """Every form inside a lookahead: it matches at each position where one starts, so
        overlapping occurrences are all found. Compiled for the first log holding a secret."""
        return re.compile(f"(?=({_trie_pattern(self._forms)}))")

    @functools.cached_property
    def _starts(self) -> re.Pattern[str]:
        """Where a form may start at the end of a cut line: its first two characters, or its
        first one as the line's last."""
        return re.compile(f"(?={_trie_pattern(form[:2] for form in self._forms)}"
                          f"|[{re.escape(''.join(self._firsts))}]\\Z)")

    def mask(self, line: str) -> str:
        """`line` with every secret value replaced by `***`."""
        return "\n".join(self.mask_lines(line.split("\n") if "\n" in line else [line]))

    def mask_lines(self, lines: list[str]) -> list[str]:
        """Consecutive lines of one stream with every secret value replaced by `***`,
        including a multi-line value across them; `lines` itself when none holds one."""
        if not self._searches or not lines:
            return lines
        # One search per trie over the run of lines: most hold no secret, and a long run
        # costs a few calls.
        text = lines[0] if len(lines) == 1 else "\n".join(lines)
        found = self._occurrences(text)
        if found:
            lines = self._masked(text, found).split("\n")
        if CUT_MARKER in text:
            # The 8 KiB cut may have split a secret: its start must not survive either.
            lines = [self._mask_cut_end(line[:-len(CUT_MARKER)]) + CUT_MARKER
                     if line.endswith(CUT_MARKER) else line for line in lines]
        return lines

    def _occurrences(self, text: str) -> list[tuple[int, int]]:
        """The spans of the forms each trie finds in `text`, in order."""
        for index, search in enumerate(self._searches):
            # Searched before iterating: most texts hold none, and a search is cheaper.
            first = search.search(text)
            if first is not None:
                found = [first.span()]
                found += (match.span() for match in search.finditer(text, first.end()))
                found += (match.span() for later in self._searches[index + 1:]
                          for match in later.finditer(text))
                return sorted(found)
        return []

    def _masked(self, text: str, found: list[tuple[int, int]]) -> str:
        spans: list[list[int]] = []
        for start, end in found:
            end = self._overlapped_end(text, start, end)
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        parts = []
        kept_from = 0
        for start, end in spans:
            parts.append(text[kept_from:start])
            # A value across lines is masked on each of them: the lines stay lines.
            parts.append("\n".join(MASK if piece else ""
                                   for piece in text[start:end].split("\n")))
            kept_from = end
        parts.append(text[kept_from:])
        return "".join(parts)

    def _overlapped_end(self, text: str, start: int, end: int) -> int:
        """The end of the match at `start..end` extended over the forms starting inside it
        (a search resumes after its match, so it skips them)."""
        probe = start + 1
        while probe < end:
            inner = self._every.search(text, probe, end + self._longest)
            if inner is None or inner.start() >= end:
                break
            end = max(end, inner.end(1))
            probe = inner.start() + 1
        return end

    def _mask_cut_end(self, text: str) -> str:
        """`text` with its end masked when it is the start of a secret form."""
        window = max(len(text) - self._longest + 1, 0)
        for start in self._starts.finditer(text, window):
            tail = text[start.start():]
            index = bisect.bisect_left(self._forms, tail)
            if index < len(self._forms) and self._forms[index].startswith(tail):
                return text[:start.start()] + MASK
        return text
