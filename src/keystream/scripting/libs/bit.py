"""The `bit` library scripts get (LuaBitOp 1.0 semantics, as bundled with Redis).

Every operand is first normalised to a signed 32-bit integer the way LuaBitOp does on a
double: rounded to the nearest integer (ties to even), then taken modulo 2^32. Results are
signed 32-bit numbers.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["functions"]


def _tobit(x: Any, argn: int = 1, fname: str = "tobit") -> int:
    if type(x) is bytes:
        try:
            x = float(x)
        except ValueError:
            raise ValueError(f"bad argument #{argn} to '{fname}' (number expected, got string)") from None
    if type(x) is float:
        if not math.isfinite(x):
            return 0
        x = round(x)
    if type(x) is not int:
        got = "no value" if x is None else "boolean" if type(x) is bool else "table"
        raise ValueError(f"bad argument #{argn} to '{fname}' (number expected, got {got})")
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def _s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def tobit(x: Any = None) -> int:
    return _tobit(x)


def bnot(x: Any = None) -> int:
    return _s32(~_tobit(x, 1, "bnot"))


def band(x: Any = None, *rest: Any) -> int:
    r = _tobit(x, 1, "band")
    for i, y in enumerate(rest):
        r &= _tobit(y, i + 2, "band")
    return _s32(r)


def bor(x: Any = None, *rest: Any) -> int:
    r = _tobit(x, 1, "bor")
    for i, y in enumerate(rest):
        r |= _tobit(y, i + 2, "bor")
    return _s32(r)


def bxor(x: Any = None, *rest: Any) -> int:
    r = _tobit(x, 1, "bxor")
    for i, y in enumerate(rest):
        r ^= _tobit(y, i + 2, "bxor")
    return _s32(r)


def lshift(x: Any = None, n: Any = None) -> int:
    return _s32((_tobit(x, 1, "lshift") & 0xFFFFFFFF) << (_tobit(n, 2, "lshift") & 31))


def rshift(x: Any = None, n: Any = None) -> int:
    return _s32((_tobit(x, 1, "rshift") & 0xFFFFFFFF) >> (_tobit(n, 2, "rshift") & 31))


def arshift(x: Any = None, n: Any = None) -> int:
    return _s32(_tobit(x, 1, "arshift") >> (_tobit(n, 2, "arshift") & 31))


def rol(x: Any = None, n: Any = None) -> int:
    v, s = _tobit(x, 1, "rol") & 0xFFFFFFFF, _tobit(n, 2, "rol") & 31
    return _s32((v << s) | (v >> (32 - s)))


def ror(x: Any = None, n: Any = None) -> int:
    v, s = _tobit(x, 1, "ror") & 0xFFFFFFFF, _tobit(n, 2, "ror") & 31
    return _s32((v >> s) | (v << (32 - s)))


def bswap(x: Any = None) -> int:
    return _s32(int.from_bytes((_tobit(x, 1, "bswap") & 0xFFFFFFFF).to_bytes(4, "little"), "big"))


def tohex(x: Any = None, n: Any = None) -> bytes:
    v = _tobit(x, 1, "tohex") & 0xFFFFFFFF
    digits = 8 if n is None else _tobit(n, 2, "tohex")
    upper = digits < 0
    digits = min(abs(digits), 8)
    text = b"%08x" % v if not upper else b"%08X" % v
    return text[8 - digits:]


functions = {
    b"tobit": tobit, b"bnot": bnot, b"band": band, b"bor": bor, b"bxor": bxor,
    b"lshift": lshift, b"rshift": rshift, b"arshift": arshift, b"rol": rol, b"ror": ror,
    b"bswap": bswap, b"tohex": tohex,
}
