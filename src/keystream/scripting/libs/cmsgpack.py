"""The `cmsgpack` library scripts get (lua-cmsgpack 0.4.0 as bundled with Redis).

pack(...): each value in turn. Numbers that are whole and fit 64 bits are integers in the
smallest encoding; other numbers are float32 when that is exact, else float64. A table whose
keys are exactly 1..n is an array (an empty table too), any other table a map; nesting past 16
levels packs nil, as do functions and userdata. unpack(s) returns every value;
unpack_one(s [, offset]) and unpack_limit(s, limit [, offset]) return the offset to continue
from (-1 at the end) before the values.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from lupa import lua51

__all__ = ["CMsgpack"]

_MAX_NESTING = 16


class CMsgpack:
    def __init__(self, lua: Any) -> None:
        self.lua = lua

    def table(self) -> Any:
        return self.lua.table_from({
            b"pack": self.pack, b"unpack": self.unpack, b"unpack_one": self.unpack_one,
            b"unpack_limit": self.unpack_limit, b"_NAME": b"cmsgpack",
            b"_VERSION": b"lua-cmsgpack 0.4.0",
            b"_COPYRIGHT": b"Copyright (C) 2012, Salvatore Sanfilippo",
            b"_DESCRIPTION": b"MessagePack C implementation for Lua",
        })

    # -- pack -------------------------------------------------------------------------
    def pack(self, *args: Any) -> bytes:
        if not args:
            raise ValueError("bad argument #0 to 'pack' (MessagePack pack needs input.)")
        out: list[bytes] = []
        for a in args:
            self._pack(a, out, 0)
        return b"".join(out)

    def _pack(self, v: Any, out: list[bytes], level: int) -> None:
        t = type(v)
        if t is bytes:
            n = len(v)
            if n < 32:
                out.append(bytes([0xA0 | n]))
            elif n <= 0xFF:
                out.append(b"\xd9" + bytes([n]))
            elif n <= 0xFFFF:
                out.append(b"\xda" + struct.pack(">H", n))
            else:
                out.append(b"\xdb" + struct.pack(">I", n))
            out.append(v)
        elif t is bool:
            out.append(b"\xc3" if v else b"\xc2")
        elif t is int or t is float:
            _pack_number(v, out)
        elif v is not None and lua51.lua_type(v) == "table" and level < _MAX_NESTING:
            self._pack_table(v, out, level)
        else:
            out.append(b"\xc0")

    def _pack_table(self, table: Any, out: list[bytes], level: int) -> None:
        items = list(table.items())
        n = len(items)
        is_array = all((type(k) is int or (type(k) is float and k.is_integer())) and k >= 1 for k, _ in items)
        if is_array and n and max(int(k) for k, _ in items) != n:
            is_array = False
        if is_array:
            out.append(_header(n, 0x90, b"\xdc", b"\xdd"))
            for i in range(1, n + 1):
                self._pack(table[i], out, level + 1)
        else:
            out.append(_header(n, 0x80, b"\xde", b"\xdf"))
            for k, v in items:
                self._pack(k, out, level + 1)
                self._pack(v, out, level + 1)

    # -- unpack -------------------------------------------------------------------------
    def unpack(self, *args: Any) -> tuple[Any, ...]:
        data = _string_arg(args, "unpack")
        values: list[Any] = []
        pos = 0
        while pos < len(data):
            value, pos = self._unpack(data, pos)
            values.append(value)
        return tuple(values)

    def unpack_one(self, *args: Any) -> tuple[Any, ...]:
        data = _string_arg(args, "unpack_one")
        offset = int(args[1]) if len(args) > 1 and args[1] is not None else 0
        return self._limited(data, 1, offset)

    def unpack_limit(self, *args: Any) -> tuple[Any, ...]:
        data = _string_arg(args, "unpack_limit")
        limit = int(args[1]) if len(args) > 1 and args[1] is not None else 0
        offset = int(args[2]) if len(args) > 2 and args[2] is not None else 0
        return self._limited(data, limit, offset)

    def _limited(self, data: bytes, limit: int, offset: int) -> tuple[Any, ...]:
        if offset < 0 or offset > len(data):
            raise ValueError(f"Start offset {offset} greater than input length {len(data)}.")
        values: list[Any] = []
        pos = offset
        while pos < len(data) and (limit <= 0 or len(values) < limit):
            value, pos = self._unpack(data, pos)
            values.append(value)
        return (pos if pos < len(data) else -1, *values)

    def _unpack(self, d: bytes, pos: int) -> tuple[Any, int]:
        try:
            return self._decode(d, pos)
        except (IndexError, struct.error):
            raise ValueError("Missing bytes in input.") from None

    def _decode(self, d: bytes, pos: int) -> tuple[Any, int]:
        c = d[pos]
        pos += 1
        if c <= 0x7F:
            return c, pos
        if c >= 0xE0:
            return c - 0x100, pos
        if 0xA0 <= c <= 0xBF:
            return _take(d, pos, c & 0x1F)
        if 0x90 <= c <= 0x9F:
            return self._array(d, pos, c & 0x0F)
        if 0x80 <= c <= 0x8F:
            return self._map(d, pos, c & 0x0F)
        if c == 0xC0:
            return None, pos
        if c == 0xC2:
            return False, pos
        if c == 0xC3:
            return True, pos
        fixed = _FIXED.get(c)
        if fixed is not None:
            fmt, size = fixed
            value = struct.unpack(fmt, d[pos:pos + size])[0]
            if type(value) is float and value.is_integer():
                value = int(value)
            return value, pos + size
        if c in (0xC4, 0xD9):
            return _take(d, pos + 1, d[pos])
        if c in (0xC5, 0xDA):
            return _take(d, pos + 2, struct.unpack(">H", d[pos:pos + 2])[0])
        if c in (0xC6, 0xDB):
            return _take(d, pos + 4, struct.unpack(">I", d[pos:pos + 4])[0])
        if c == 0xDC:
            return self._array(d, pos + 2, struct.unpack(">H", d[pos:pos + 2])[0])
        if c == 0xDD:
            return self._array(d, pos + 4, struct.unpack(">I", d[pos:pos + 4])[0])
        if c == 0xDE:
            return self._map(d, pos + 2, struct.unpack(">H", d[pos:pos + 2])[0])
        if c == 0xDF:
            return self._map(d, pos + 4, struct.unpack(">I", d[pos:pos + 4])[0])
        raise ValueError("Bad data format in input.")

    def _array(self, d: bytes, pos: int, n: int) -> tuple[Any, int]:
        items = []
        for _ in range(n):
            item, pos = self._decode(d, pos)
            items.append(item)
        return self.lua.table_from(items), pos

    def _map(self, d: bytes, pos: int, n: int) -> tuple[Any, int]:
        table = self.lua.table_from({})
        for _ in range(n):
            k, pos = self._decode(d, pos)
            v, pos = self._decode(d, pos)
            if k is not None:
                table[k] = v
        return table, pos


_FIXED = {0xCA: (">f", 4), 0xCB: (">d", 8), 0xCC: (">B", 1), 0xCD: (">H", 2), 0xCE: (">I", 4),
          0xCF: (">Q", 8), 0xD0: (">b", 1), 0xD1: (">h", 2), 0xD2: (">i", 4), 0xD3: (">q", 8)}


def _take(d: bytes, pos: int, n: int) -> tuple[bytes, int]:
    if pos + n > len(d):
        raise IndexError
    return d[pos:pos + n], pos + n


def _string_arg(args: tuple[Any, ...], name: str) -> bytes:
    if not args or args[0] is None:
        raise ValueError(f"bad argument #1 to '{name}' (string expected, got no value)")
    data = args[0]
    if type(data) is int or type(data) is float:
        return b"%.14g" % data
    if type(data) is not bytes:
        raise ValueError(f"bad argument #1 to '{name}' (string expected, got {lua51.lua_type(data)})")
    return data


def _header(n: int, fix: int, b16: bytes, b32: bytes) -> bytes:
    if n < 16:
        return bytes([fix | n])
    if n <= 0xFFFF:
        return b16 + struct.pack(">H", n)
    return b32 + struct.pack(">I", n)


def _pack_number(v: float, out: list[bytes]) -> None:
    if isinstance(v, float) and v.is_integer() and -(2**63) <= v < 2**64:
        v = int(v)
    if type(v) is int and -(2**63) <= v < 2**64:
        if v >= 0:
            if v < 128:
                out.append(bytes([v]))
            elif v <= 0xFF:
                out.append(b"\xcc" + bytes([v]))
            elif v <= 0xFFFF:
                out.append(b"\xcd" + struct.pack(">H", v))
            elif v <= 0xFFFFFFFF:
                out.append(b"\xce" + struct.pack(">I", v))
            else:
                out.append(b"\xcf" + struct.pack(">Q", v))
        elif v >= -32:
            out.append(bytes([v & 0xFF]))
        elif v >= -128:
            out.append(b"\xd0" + struct.pack(">b", v))
        elif v >= -32768:
            out.append(b"\xd1" + struct.pack(">h", v))
        elif v >= -(2**31):
            out.append(b"\xd2" + struct.pack(">i", v))
        else:
            out.append(b"\xd3" + struct.pack(">q", v))
        return
    f = float(v)
    if math.isfinite(f) and abs(f) < 3.5e38 and struct.unpack(">f", struct.pack(">f", f))[0] == f or math.isinf(f) and struct.unpack(">f", struct.pack(">f", f))[0] == f:
        out.append(b"\xca" + struct.pack(">f", f))
    else:
        out.append(b"\xcb" + struct.pack(">d", f))
