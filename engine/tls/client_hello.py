"""The server name a TLS client asks for, read from its ClientHello before the handshake.

Python's `ssl` calls its SNI callback in the middle of the handshake, synchronously, so a
certificate cannot be obtained there. Reading the name from the first bytes the client sends
(without consuming them: the handshake then reads them again) lets the server obtain the
certificate first, as Caddy's on-demand TLS does. RFC 8446 section 4.1.2, RFC 6066 section 3.
"""

from __future__ import annotations

HANDSHAKE, CLIENT_HELLO, SERVER_NAME, HOST_NAME = 0x16, 0x01, 0x0000, 0x00
RECORD_HEADER = 5
MAX_HELLO = 16 * 1024  # one TLS record; a ClientHello larger than that is not read here


class Incomplete(Exception):
    """More bytes are needed to read the name."""


def server_name(data: bytes) -> str | None:
    """The host name in a ClientHello (lower-cased), or None when it names none or the bytes
    are not a ClientHello. Raises Incomplete when `data` is a prefix of one."""
    if len(data) < RECORD_HEADER:
        raise Incomplete
    if data[0] != HANDSHAKE:
        return None
    length = int.from_bytes(data[3:5], "big")
    if len(data) < RECORD_HEADER + length:
        raise Incomplete
    try:
        return _name_in_hello(memoryview(data)[RECORD_HEADER:RECORD_HEADER + length])
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def _name_in_hello(hello: memoryview) -> str | None:
    if hello[0] != CLIENT_HELLO:
        return None
    at = 4 + 2 + 32  # handshake header, legacy version, random
    at += 1 + hello[at]  # session id
    at += 2 + int.from_bytes(hello[at:at + 2], "big")  # cipher suites
    at += 1 + hello[at]  # compression methods
    if at >= len(hello):
        return None  # no extensions
    end = at + 2 + int.from_bytes(hello[at:at + 2], "big")
    at += 2
    while at + 4 <= end:
        kind = int.from_bytes(hello[at:at + 2], "big")
        size = int.from_bytes(hello[at + 2:at + 4], "big")
        body = hello[at + 4:at + 4 + size]
        if kind == SERVER_NAME:
            return _host_name(body)
        at += 4 + size
    return None


def _host_name(body: memoryview) -> str | None:
    at = 2  # the list's length
    while at + 3 <= len(body):
        kind, size = body[at], int.from_bytes(body[at + 1:at + 3], "big")
        if kind == HOST_NAME:
            name = bytes(body[at + 3:at + 3 + size]).decode("ascii")
            return name.lower().rstrip(".") or None
        at += 3 + size
    return None
