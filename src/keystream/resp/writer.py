"""Reply values and their RESP2/RESP3 encoding.

Command handlers return plain Python values; this module turns them into bytes for the
client's protocol. The mapping:

    None            null            RESP2 `$-1`            RESP3 `_`
    bytes           bulk string     `$<n>`                 `$<n>`
    int             integer         `:<n>`                 `:<n>`
    float           double          bulk string (%.17g)    `,<d>`
    list / tuple    array           `*<n>`                 `*<n>`
    dict            map             flat array `*<2n>`     `%<n>`
    SetReply        set             array                  `~<n>`
    Status          simple string   `+OK`                  `+OK`
    CommandError    error           `-ERR ...`             `-ERR ...`
    Bool            boolean         integer 1/0            `#t` / `#f`
    NullArray       null array      `*-1`                  `_`
    Verbatim        verbatim text   bulk string            `=<n>\r\ntxt:...`
    BigNumber       big number      bulk string            `(<digits>`
    Push            push message    array                  `><n>`
    Raw             bytes already encoded for both protocols
    NO_REPLY        nothing (a command whose output went out as push messages: SUBSCRIBE)
    AfterPushes     push messages, then a reply (inside EXEC: what a queued command pushed
                    to its own client goes just before that command's element, as in Redis)

Strings a handler builds (simple replies) are `Status`; use the shared `OK`/`QUEUED`/`PONG`.
"""

from __future__ import annotations

import math
from typing import Any

from mypy_extensions import mypyc_attr

from keystream.resp.errors import CommandError

__all__ = [
    "Status", "OK", "PONG", "QUEUED", "Bool", "NullArray", "NULL_ARRAY", "SetReply", "Verbatim",
    "BigNumber", "Push", "Raw", "NO_REPLY", "AfterPushes", "encode", "encode_into", "format_double",
]


# Subclasses of builtin types (bytes, list) stay ordinary Python classes when compiled (mypyc).
@mypyc_attr(native_class=False)
class Status(bytes):
    """A simple string reply (`+text`)."""

    __slots__ = ()


@mypyc_attr(native_class=False)
class Raw(bytes):
    """Bytes already in wire form, identical in RESP2 and RESP3."""

    __slots__ = ()


class Bool:
    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = bool(value)


class NullArray:
    """The null that Redis sends as `*-1` in RESP2 (e.g. BLPOP timeout, EXEC aborted)."""

    __slots__ = ()


@mypyc_attr(native_class=False)
class SetReply(list):
    """An unordered collection: RESP3 set type `~`, RESP2 array."""

    __slots__ = ()


@mypyc_attr(native_class=False)
class Push(list):
    """An out-of-band message: RESP3 push type `>`, RESP2 array."""

    __slots__ = ()


class NoReply:
    """The reply of a command that answered with push messages only (SUBSCRIBE and friends)."""

    __slots__ = ()


NO_REPLY = NoReply()


class AfterPushes:
    """A reply preceded by the push messages its command sent to its own client."""

    __slots__ = ("pushes", "value")

    def __init__(self, pushes: list[Any], value: Any) -> None:
        self.pushes = pushes
        self.value = value


class Verbatim:
    __slots__ = ("data", "fmt")

    def __init__(self, data: bytes, fmt: bytes = b"txt") -> None:
        self.data = data
        self.fmt = fmt


class BigNumber:
    __slots__ = ("digits",)

    def __init__(self, digits: bytes) -> None:
        self.digits = digits


@mypyc_attr(native_class=False)
class MapReply(list):
    """A map given as an ordered list of (key, value) pairs (keys that are not hashable)."""

    __slots__ = ()


OK = Status(b"OK")
PONG = Status(b"PONG")
QUEUED = Status(b"QUEUED")
NULL_ARRAY = NullArray()

_NULL2 = b"$-1\r\n"
_NULL3 = b"_\r\n"
_NULLARR2 = b"*-1\r\n"
# Encoded integers -1..10000 (index i + 1) and bulk headers for lengths 0..1024, shared with
# the executor's inline reply encoding.
INT_REPLIES = _INT_CACHE = [b":%d\r\n" % i for i in range(-1, 10001)]
BULK_HEADERS = _BULK_HDR = [b"$%d\r\n" % i for i in range(0, 1025)]
_ARR_HDR = [b"*%d\r\n" % i for i in range(0, 1025)]


def format_double(value: float) -> bytes:
    """Format a double the way Redis 7.0's addReplyDouble does (%.17g, inf, -inf, nan)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"nan"
    return (b"%.17g" % value)


def encode(value: Any, proto: int = 2) -> bytes:
    out: list[bytes] = []
    encode_into(out, value, proto)
    return b"".join(out)


def encode_into(out: list[bytes], value: Any, proto: int) -> None:
    """Append the wire form of `value` to `out` (a list of byte chunks)."""
    append = out.append
    t = type(value)
    if t is bytes:
        n = len(value)
        append(_BULK_HDR[n] if n <= 1024 else b"$%d\r\n" % n)
        append(value)
        append(b"\r\n")
    elif t is Status:
        append(b"+" + value + b"\r\n")
    elif t is int:
        append(_INT_CACHE[value + 1] if -1 <= value <= 10000 else b":%d\r\n" % value)
    elif value is None:
        append(_NULL3 if proto == 3 else _NULL2)
    elif t is list or t is tuple or t is SetReply or t is Push:
        n = len(value)
        if proto == 3 and t is SetReply:
            append(b"~%d\r\n" % n)
        elif proto == 3 and t is Push:
            append(b">%d\r\n" % n)
        else:
            append(_ARR_HDR[n] if n <= 1024 else b"*%d\r\n" % n)
        for item in value:
            ti = type(item)
            if ti is bytes:
                n = len(item)
                append(_BULK_HDR[n] if n <= 1024 else b"$%d\r\n" % n)
                append(item)
                append(b"\r\n")
            else:
                encode_into(out, item, proto)
    elif t is Raw:
        append(value)
    elif t is dict or t is MapReply:
        items = value.items() if t is dict else value
        n = len(value)
        append(b"%%%d\r\n" % n if proto == 3 else b"*%d\r\n" % (2 * n))
        for k, v in items:
            encode_into(out, k, proto)
            encode_into(out, v, proto)
    elif isinstance(value, CommandError):
        text = value.text.replace("\r", " ").replace("\n", " ")
        append(b"-%b\r\n" % text.encode("utf-8", "surrogateescape"))
    elif t is float:
        d = format_double(value)
        if proto == 3:
            append(b",%b\r\n" % d)
        else:
            append(b"$%d\r\n%s\r\n" % (len(d), d))
    elif t is Bool:
        if proto == 3:
            append(b"#t\r\n" if value.value else b"#f\r\n")
        else:
            append(b":1\r\n" if value.value else b":0\r\n")
    elif t is NullArray:
        append(_NULL3 if proto == 3 else _NULLARR2)
    elif t is Verbatim:
        if proto == 3:
            body = value.fmt + b":" + value.data
            append(b"=%d\r\n%s\r\n" % (len(body), body))
        else:
            append(b"$%d\r\n%s\r\n" % (len(value.data), value.data))
    elif t is BigNumber:
        if proto == 3:
            append(b"(" + value.digits + b"\r\n")
        else:
            append(b"$%d\r\n%s\r\n" % (len(value.digits), value.digits))
    elif t is bool:
        append(b":1\r\n" if value else b":0\r\n")
    elif t is NoReply:
        pass
    elif t is AfterPushes:
        for push in value.pushes:
            encode_into(out, push, proto)
        encode_into(out, value.value, proto)
    elif isinstance(value, str):
        data = value.encode()
        append(b"$%d\r\n%s\r\n" % (len(data), data))
    elif isinstance(value, bytes):  # other bytes subclasses
        append(b"$%d\r\n%s\r\n" % (len(value), bytes(value)))
    elif isinstance(value, int):
        append(b":%d\r\n" % value)
    else:
        raise TypeError(f"cannot encode reply of type {t.__name__}")
