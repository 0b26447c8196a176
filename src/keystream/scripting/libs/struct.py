"""The `struct` library scripts get (Roberto Ierusalimschy's struct 0.2, as bundled with Redis).

Formats: `<` `>` endianness (little by default), `!n` alignment (power of 2, default 8),
`x` a zero byte, `b B h H l L T i[n] I[n]` integers (1, 2, 8, 8 and n bytes, default 4; upper
case unsigned), `f d` float and double, `c[n]` n bytes (c0: the whole string when packing, the
size from the value before it when unpacking), `s` a zero-terminated string, spaces ignored.
unpack(fmt, data [, pos]) returns the values then the position after them (1-based).
"""

from __future__ import annotations

import struct as _struct
from collections.abc import Iterator
from typing import Any

__all__ = ["functions"]

_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "x": 1, "f": 4, "d": 8}
_MAXALIGN = 8


class _Format:
    def __init__(self, fmt: bytes, fname: str) -> None:
        self.fmt = fmt.decode("latin-1")
        self.i = 0
        self.little = True
        self.align = 1
        self.fname = fname

    def _num(self, default: int) -> int:
        fmt, i = self.fmt, self.i
        if i >= len(fmt) or not fmt[i].isdigit():
            return default
        j = i
        while j < len(fmt) and fmt[j].isdigit():
            j += 1
        self.i = j
        return int(fmt[i:j])

    def options(self) -> Iterator[tuple[str, int, int]]:
        """Yield (option, size, padding before it) for each data option of the format."""
        length = 0
        while self.i < len(self.fmt):
            opt = self.fmt[self.i]
            self.i += 1
            if opt == " ":
                continue
            if opt == "<":
                self.little = True
                continue
            if opt == ">":
                self.little = False
                continue
            if opt == "!":
                a = self._num(_MAXALIGN)
                if a & (a - 1):
                    raise ValueError(f"bad argument #1 to '{self.fname}' (alignment {a} is not a power of 2)")
                self.align = a
                continue
            if opt in "iI":
                size = self._num(4)
            elif opt == "c":
                size = self._num(1)
            elif opt == "s":
                size = 0
            elif opt in _SIZES:
                size = _SIZES[opt]
            else:
                raise ValueError(f"bad argument #1 to '{self.fname}' (invalid format option '{opt}')")
            pad = 0
            if size and opt != "c":
                a = min(size, self.align)
                if a & (a - 1):
                    raise ValueError(f"bad argument #1 to '{self.fname}' (alignment {a} is not a power of 2)")
                pad = (a - (length & (a - 1))) & (a - 1)
            yield opt, size, pad
            length += pad + size


def _number(v: Any, argn: int) -> float | int:
    if type(v) is int or type(v) is float:
        return v
    if type(v) is bytes:
        try:
            return float(v)
        except ValueError:
            pass
    got = "no value" if v is None else ("string" if type(v) is bytes else "boolean" if type(v) is bool else "table")
    raise ValueError(f"bad argument #{argn} to 'pack' (number expected, got {got})")


def _string(v: Any, argn: int) -> bytes:
    if type(v) is bytes:
        return v
    if type(v) is int or type(v) is float:
        return b"%.14g" % v
    got = "no value" if v is None else ("boolean" if type(v) is bool else "table")
    raise ValueError(f"bad argument #{argn} to 'pack' (string expected, got {got})")


def pack(fmt: Any = None, *args: Any) -> bytes:
    f = _Format(_string(fmt, 1), "pack")
    out = bytearray()
    argi = 0
    for opt, size, pad in f.options():
        out += b"\0" * pad
        if opt == "x":
            out += b"\0"
            continue
        argn = argi + 2
        v = args[argi] if argi < len(args) else None
        argi += 1
        if opt in "bBhHlLTiI":
            n = _number(v, argn)
            value = int(n) & ((1 << (8 * size)) - 1)  # two's complement, sign-extended past 8
            out += value.to_bytes(size, "little" if f.little else "big")
        elif opt in "fd":
            out += _struct.pack(("<" if f.little else ">") + opt, float(_number(v, argn)))
        elif opt == "c":
            s = _string(v, argn)
            n = size or len(s)
            if len(s) < n:
                raise ValueError(f"bad argument #{argn} to 'pack' (string too short)")
            out += s[:n]
        else:  # "s"
            out += _string(v, argn) + b"\0"
    return bytes(out)


def unpack(fmt: Any = None, data: Any = None, pos: Any = 1) -> tuple[Any, ...]:
    if type(fmt) is not bytes:
        raise ValueError("bad argument #1 to 'unpack' (string expected, got no value)")
    if type(data) is not bytes:
        raise ValueError("bad argument #2 to 'unpack' (string expected, got no value)")
    f = _Format(fmt, "unpack")
    i = int(pos if pos is not None else 1) - 1
    if i < 0:
        raise ValueError("bad argument #3 to 'unpack' (offset must be 1 or greater)")
    values: list[Any] = []
    for opt, size, pad in f.options():
        i += pad
        if opt == "x":
            i += 1
            continue
        if opt == "s":
            end = data.find(b"\0", i)
            if end < 0:
                raise ValueError("unfinished string in data")
            values.append(data[i:end])
            i = end + 1
            continue
        if opt == "c" and size == 0:
            if not values or not isinstance(values[-1], int | float):
                raise ValueError("format 'c0' needs a previous size")
            size = int(values.pop())
        if i + size > len(data):
            raise ValueError("bad argument #2 to 'unpack' (data string too short)")
        chunk = data[i:i + size]
        if opt == "c":
            values.append(chunk)
        elif opt in "fd":
            values.append(_struct.unpack(("<" if f.little else ">") + opt, chunk)[0])
        else:
            values.append(int.from_bytes(chunk, "little" if f.little else "big", signed=opt.islower()))
        i += size
    return (*values, i + 1)


def size(fmt: Any = None) -> int:
    if type(fmt) is not bytes:
        raise ValueError("bad argument #1 to 'size' (string expected, got no value)")
    f = _Format(fmt, "size")
    total = 0
    for opt, n, pad in f.options():
        if opt == "s" or (opt == "c" and n == 0):
            raise ValueError(f"bad argument #1 to 'size' (option '{opt}' has no fixed size)")
        total += pad + n
    return total


functions = {b"pack": pack, b"unpack": unpack, b"size": size}
