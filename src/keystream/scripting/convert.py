"""Reply conversion between Redis replies and Lua values, both ways, as Redis 7.0 does it.

Redis reply -> Lua (what redis.call returns), by the script's protocol (redis.setresp):
    bulk string -> string              status -> {ok=s}          integer -> number
    null (RESP2) -> false              null (RESP3) -> nil       array -> table
    RESP2: map -> flat table, set -> table, double -> string (%.17g), boolean -> 1/0,
           big number and verbatim -> string
    RESP3: map -> {map={k=v}}, set -> {set={m=true}}, double -> {double=n}, boolean ->
           true/false, big number -> {big_number=s}, verbatim -> {verbatim_string={format=,string=}}
Lua -> reply (what a script returns):
    string -> bulk     number -> integer (truncated)     nil -> null
    boolean: under RESP2 true -> 1, false -> null; under RESP3 a boolean
    table: {err=s} error, {ok=s} status, {double=n}, {big_number=s}, {map=t}, {set=t},
           {verbatim_string=t}, else an array of t[1], t[2] ... up to the first nil
    anything else (functions, userdata such as cjson.null) -> null

Replies a handler returns already encoded (`Raw`) are parsed back from RESP here.
"""

from __future__ import annotations

import math
from typing import Any

from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import (
    BigNumber,
    Bool,
    MapReply,
    NullArray,
    Push,
    Raw,
    SetReply,
    Status,
    Verbatim,
    format_double,
)

__all__ = ["lua_to_reply", "parse_raw", "reply_to_lua"]


def reply_to_lua(sb: Any, value: Any, resp: int) -> Any:
    """The Lua value for a (non-error) reply value; sb is the Sandbox that makes tables."""
    t = type(value)
    if t is bytes or t is int:
        return value
    if value is None or t is NullArray:
        return None if resp == 3 else False
    if t is list or t is tuple or (t is SetReply and resp == 2) or t is Push:
        for item in value:
            if type(item) is not bytes:
                return sb.table_from([reply_to_lua(sb, x, resp) for x in value])
        return sb.table_from(value)
    if t is Status:
        return sb.table_from({b"ok": bytes(value)})
    if t is dict or t is MapReply:
        items = value.items() if t is dict else value
        if resp == 2:
            flat: list[Any] = []
            for k, v in items:
                flat.append(reply_to_lua(sb, k, resp))
                flat.append(reply_to_lua(sb, v, resp))
            return sb.table_from(flat)
        m = sb.newtable()
        for k, v in items:
            m[reply_to_lua(sb, k, resp)] = reply_to_lua(sb, v, resp)
        return sb.table_from({b"map": m})
    if t is SetReply:
        s = sb.newtable()
        for item in value:
            s[reply_to_lua(sb, item, resp)] = True
        return sb.table_from({b"set": s})
    if t is float:
        return sb.table_from({b"double": value}) if resp == 3 else format_double(value)
    if t is Bool:
        return value.value if resp == 3 else int(value.value)
    if t is BigNumber:
        return sb.table_from({b"big_number": value.digits}) if resp == 3 else value.digits
    if t is Verbatim:
        if resp == 2:
            return value.data
        inner = sb.table_from({b"format": value.fmt, b"string": value.data})
        return sb.table_from({b"verbatim_string": inner})
    if t is Raw:
        return reply_to_lua(sb, parse_raw(bytes(value)), resp)
    if t is bool:
        return int(value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"cannot convert reply of type {t.__name__} to Lua")


# Nesting past this is answered with an error, as Redis does when the Lua stack runs out.
_MAX_DEPTH = 1000


def lua_to_reply(sb: Any, value: Any, resp: int, depth: int = 0) -> Any:
    """The reply value for what a script returned (resp: the script's redis.setresp)."""
    t = type(value)
    if t is bytes or t is int:
        return value
    if t is float:
        if not math.isfinite(value):
            return -(2**63)
        return int(value)
    if t is bool:
        if resp == 3:
            return Bool(value)
        return 1 if value else None
    if value is None or not sb.is_table(value):
        return None
    if depth > _MAX_DEPTH:
        return CommandError(errors.LUA_REACHED_LUA_STACK_LIMIT)
    depth += 1
    # fields are read raw: a table's metatable is never consulted (as Redis 7.0 does)
    get = sb.rawget
    field = get(value, b"err")
    if type(field) is bytes:  # (an error a command raised is counted already, as in Redis)
        return CommandError(field.decode("utf-8", "replace"), counted=get(value, b"ignore_error_stats_update") is True)
    field = get(value, b"ok")
    if type(field) is bytes:
        return Status(field)
    field = get(value, b"double")
    if type(field) is int or type(field) is float:
        return float(field)
    field = get(value, b"big_number")
    if type(field) is bytes:
        return BigNumber(field)
    field = get(value, b"map")
    if field is not None and sb.is_table(field):
        return MapReply((lua_to_reply(sb, k, resp, depth), lua_to_reply(sb, v, resp, depth)) for k, v in field.items())
    field = get(value, b"set")
    if field is not None and sb.is_table(field):
        return SetReply(lua_to_reply(sb, k, resp, depth) for k in field)
    field = get(value, b"verbatim_string")
    if field is not None and sb.is_table(field):
        fmt, text = get(field, b"format"), get(field, b"string")
        if type(fmt) is bytes and type(text) is bytes:
            return Verbatim(text, fmt)
    out: list[Any] = []
    i = 1
    while True:
        item = get(value, i)
        if item is None:
            return out
        out.append(lua_to_reply(sb, item, resp, depth))
        i += 1


def parse_raw(data: bytes) -> Any:
    """The reply value of one pre-encoded RESP reply (the types handlers encode ahead)."""
    value, _ = _parse(data, 0)
    return value


def _parse(data: bytes, pos: int) -> tuple[Any, int]:
    kind = data[pos:pos + 1]
    end = data.index(b"\r\n", pos)
    line = data[pos + 1:end]
    pos = end + 2
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, pos
        return data[pos:pos + n], pos + n + 2
    if kind == b"*" or kind == b"~" or kind == b">":
        n = int(line)
        if n < 0:
            return NullArray(), pos
        items = []
        for _ in range(n):
            item, pos = _parse(data, pos)
            items.append(item)
        return (SetReply(items) if kind == b"~" else items), pos
    if kind == b"%":
        pairs = []
        for _ in range(int(line)):
            k, pos = _parse(data, pos)
            v, pos = _parse(data, pos)
            pairs.append((k, v))
        return MapReply(pairs), pos
    if kind == b":":
        return int(line), pos
    if kind == b",":
        return float(line), pos
    if kind == b"+":
        return Status(line), pos
    if kind == b"-":
        return CommandError(line.decode("utf-8", "replace")), pos
    if kind == b"_":
        return None, pos
    if kind == b"#":
        return Bool(line == b"t"), pos
    if kind == b"(":
        return BigNumber(line), pos
    raise ValueError(f"cannot parse RESP type {kind!r}")
