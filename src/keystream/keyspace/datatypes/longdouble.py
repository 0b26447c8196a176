"""Exact emulation of the x87 80-bit `long double` arithmetic Redis uses for INCRBYFLOAT.

Redis parses float increments with `strtold`, adds them in `long double` (64-bit
significand on x86-64) and prints the sum with `%.17Lf`, dropping trailing zeros. Python
has no such type, so values here are exact `Fraction`s that are rounded to the nearest
representable extended-precision number (ties to even) after every operation; formatting
is done on the exact value. The observable results (e.g. `10.5 + 0.1` -> `10.6`,
`1e200` printed with all its integer digits) are then the same as Redis's.

Infinite values are represented by the floats `inf`/`-inf`; NaN is never produced here
(the caller rejects a non-finite sum before that).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = ["parse_long_double", "add_long_double", "format_long_double_human", "LongDouble"]

LongDouble = Fraction | float  # float only for +-inf

_MANT_BITS = 64
_MIN_LSB_EXP = -16445  # exponent of the least significant bit of the smallest subnormal
_MAX_EXP = 16384       # values >= 2**16384 overflow
_MAX_CHARS = 5 * 1024  # Redis's MAX_LONG_DOUBLE_CHARS

_DEC = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?")
_INF = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)


class _Overflow(Exception):
    pass


def _round(q: Fraction) -> Fraction:
    """q rounded to the nearest long double (ties to even); raises _Overflow past the max."""
    if q == 0:
        return q
    n, d = abs(q.numerator), q.denominator
    e = n.bit_length() - d.bit_length() - _MANT_BITS
    if e < _MIN_LSB_EXP:
        e = _MIN_LSB_EXP
    while True:
        if e >= 0:
            num, den = n, d << e
        else:
            num, den = n << -e, d
        m, rem = divmod(num, den)
        if m >> _MANT_BITS and e < 10**9:
            e += 1
            continue
        break
    twice = rem * 2
    if twice > den or (twice == den and m & 1):
        m += 1
        if m >> _MANT_BITS:
            m >>= 1
            e += 1
    if m and m.bit_length() + e > _MAX_EXP:
        raise _Overflow
    value = Fraction(m << e) if e >= 0 else Fraction(m, 1 << -e)
    return -value if q < 0 else value


def parse_long_double(b: bytes) -> LongDouble | None:
    """The value `strtold` gives for the whole of b, as Redis's string2ld accepts it, or None.

    None for: empty or too long input, leading spaces, trailing garbage, NaN, and values
    that overflow to infinity or underflow to zero (ERANGE), which Redis refuses.
    """
    if not b or len(b) >= _MAX_CHARS or b[0:1].isspace():
        return None
    m = _DEC.fullmatch(b)
    if m is not None:
        sign, whole, frac, exp = m.groups()
        frac = frac or b""
        if not whole and not frac:
            return None
        digits = (whole + frac).lstrip(b"0")
        if not digits:
            return Fraction(0)
        scale = (int(exp) if exp else 0) - len(frac)
        magnitude = len(digits) + scale
        if magnitude > 4940:
            return None  # ERANGE: overflows to HUGE_VAL
        if magnitude < -4960:
            return None  # ERANGE: underflows to zero
        q = Fraction(int(digits)) * (Fraction(10) ** scale)
        return _checked(q, sign)
    m = _HEX.fullmatch(b)
    if m is not None:
        sign, whole, frac, exp = m.groups()
        frac = frac or b""
        if not whole and not frac:
            return None
        digits = (whole + frac).lstrip(b"0")
        if not digits:
            return Fraction(0)
        scale = (int(exp) if exp else 0) - 4 * len(frac)
        magnitude = 4 * len(digits) + scale
        if magnitude > _MAX_EXP + 8:
            return None
        if magnitude < _MIN_LSB_EXP - 8:
            return None
        q = Fraction(int(digits, 16)) * (Fraction(2) ** scale)
        return _checked(q, sign)
    m = _INF.fullmatch(b)
    if m is not None:
        return -math.inf if m.group(1) == b"-" else math.inf
    return None


def _checked(q: Fraction, sign: bytes) -> Fraction | None:
    try:
        v = _round(q)
    except _Overflow:
        return None
    if v == 0:
        return None
    return -v if sign == b"-" else v


def add_long_double(a: LongDouble, b: LongDouble) -> Fraction | None:
    """a + b rounded to a long double; None if the sum is infinite or NaN."""
    if isinstance(a, float) or isinstance(b, float):
        return None
    try:
        return _round(a + b)
    except _Overflow:
        return None


def format_long_double_human(v: Fraction) -> bytes:
    """`%.17Lf` of v without trailing zeros (Redis's LD_STR_HUMAN); b"" if over Redis's buffer."""
    neg = v < 0
    scaled = abs(v) * 10**17
    q, rem = divmod(scaled.numerator, scaled.denominator)
    twice = rem * 2
    if twice > scaled.denominator or (twice == scaled.denominator and q & 1):
        q += 1
    whole, frac = divmod(q, 10**17)
    text = b"%d.%017d" % (whole, frac)
    if neg:
        text = b"-" + text
    if len(text) + 1 > _MAX_CHARS:
        return b""
    text = text.rstrip(b"0")
    if text.endswith(b"."):
        text = text[:-1]
    if text == b"-0":
        text = b"0"
    return text
