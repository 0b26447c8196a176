"""Reply values from `Raw` replies: what `Engine.call` returns to a connectionless caller.

Hot handlers return some replies already in wire form (`Raw`: a list element stored encoded,
LRANGE's joined elements) so a connection writes them as they are. A caller with no
connection (scripts, the bridge, tests) gets values instead: `raw_value` turns the wire form
our handlers produce back into the reply values of `keystream.resp.writer` (bytes, int,
None, lists, `Status`, `CommandError`, ...), in one place, so no caller parses RESP.

Not here: decoding requests (parser.py) or replies of other servers.
"""

from __future__ import annotations

from typing import Any

from keystream.resp.errors import CommandError
from keystream.resp.writer import NULL_ARRAY, BigNumber, Bool, MapReply, Push, SetReply, Status, Verbatim

__all__ = ["raw_value"]


def raw_value(data: bytes) -> Any:
    """The reply value of one complete RESP2/RESP3 reply (b"" -> None: no reply at all)."""
    if not data:
        return None
    value, pos = _read(data, 0)
    if pos != len(data):
        raise ValueError("trailing bytes after a reply")
    return value


def _line(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.index(b"\r\n", pos)
    return data[pos:end], end + 2


def _read(data: bytes, pos: int) -> tuple[Any, int]:
    kind = data[pos:pos + 1]
    text, pos = _line(data, pos + 1)
    if kind == b"$" or kind == b"=":
        n = int(text)
        if n < 0:
            return None, pos
        body = data[pos:pos + n]
        if kind == b"=":
            return Verbatim(body[4:], body[:3]), pos + n + 2
        return body, pos + n + 2
    if kind == b":":
        return int(text), pos
    if kind == b"+":
        return Status(text), pos
    if kind == b"-":
        return CommandError(text.decode("utf-8", "replace")), pos
    if kind == b"_":
        return None, pos
    if kind == b",":
        return float(text), pos
    if kind == b"#":
        return Bool(text == b"t"), pos
    if kind == b"(":
        return BigNumber(text), pos
    if kind in (b"*", b"~", b">", b"%", b"|"):
        n = int(text)
        if n < 0:
            return NULL_ARRAY, pos
        if kind in (b"%", b"|"):
            pairs = []
            for _ in range(n):
                k, pos = _read(data, pos)
                v, pos = _read(data, pos)
                pairs.append((k, v))
            if kind == b"|":  # attributes precede the reply they describe
                return _read(data, pos)
            return MapReply(pairs), pos
        items = []
        for _ in range(n):
            item, pos = _read(data, pos)
            items.append(item)
        if kind == b"~":
            return SetReply(items), pos
        if kind == b">":
            return Push(items), pos
        return items, pos
    raise ValueError(f"not a RESP reply type: {kind!r}")
