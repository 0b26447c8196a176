"""The `bit` library scripts get (LuaBitOp 1.0 semantics, as bundled with Redis).

Every operand is first normalised to a signed 32-bit integer the way LuaBitOp does on a
double: rounded to the nearest integer (ties to even), then taken modulo 2^32. Results are
signed 32-bit numbers.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["functions"]


def _tobit(x: Any) -> int:
    if type(x) is bytes:
        try:
            x = float(x)
        except ValueError:
            raise TypeError("bad argument (number expected, got string)") from None
    if type(x) is float:
        if not math.isfinite(x):
            return 0
        x = round(x)
    if type(x) is not int:
        raise TypeError(f"bad argument (number expected, got {'nil' if x is None else 'table'})")
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def _s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def tobit(x: Any) -> int:
    return _tobit(x)


def bnot(x: Any) -> int:
    return _s32(~_tobit(x))


def band(x: Any, *rest: Any) -> int:
    r = _tobit(x)
    for y in rest:
        r &= _tobit(y)
    return _s32(r)


def bor(x: Any, *rest: Any) -> int:
    r = _tobit(x)
    for y in rest:
        r |= _tobit(y)
    return _s32(r)


def bxor(x: Any, *rest: Any) -> int:
    r = _tobit(x)
    for y in rest:
        r ^= _tobit(y)
    return _s32(r)


def lshift(x: Any, n: Any) -> int:
    return _s32((_tobit(x) & 0xFFFFFFFF) << (_tobit(n) & 31))


def rshift(x: Any, n: Any) -> int:
    return _s32((_tobit(x) & 0xFFFFFFFF) >> (_tobit(n) & 31))


def arshift(x: Any, n: Any) -> int:
    return _s32(_tobit(x) >> (_tobit(n) & 31))


def rol(x: Any, n: Any) -> int:
    v, s = _tobit(x) & 0xFFFFFFFF, _tobit(n) & 31
    return _s32((v << s) | (v >> (32 - s)))


def ror(x: Any, n: Any) -> int:
    v, s = _tobit(x) & 0xFFFFFFFF, _tobit(n) & 31
    return _s32((v >> s) | (v << (32 - s)))


def bswap(x: Any) -> int:
    return _s32(int.from_bytes((_tobit(x) & 0xFFFFFFFF).to_bytes(4, "little"), "big"))


def tohex(x: Any, n: Any = None) -> bytes:
    v = _tobit(x) & 0xFFFFFFFF
    digits = 8 if n is None else _tobit(n)
    upper = digits < 0
    digits = min(abs(digits), 8)
    text = b"%08x" % v if not upper else b"%08X" % v
    return text[8 - digits:]


functions = {
    b"tobit": tobit, b"bnot": bnot, b"band": band, b"bor": bor, b"bxor": bxor,
    b"lshift": lshift, b"rshift": rshift, b"arshift": arshift, b"rol": rol, b"ror": ror,
    b"bswap": bswap, b"tohex": tohex,
}
