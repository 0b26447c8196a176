"""Argument parsing helpers shared by command modules (Redis's string2ll / string2ld rules)."""

from __future__ import annotations

import math

from keystream.resp.errors import NOT_FLOAT, NOT_INTEGER, CommandError

LLONG_MIN = -(2**63)
LLONG_MAX = 2**63 - 1


def parse_int(b: bytes, error: str = NOT_INTEGER) -> int:
    """A signed 64-bit integer written exactly as Redis's string2ll accepts it."""
    n = len(b)
    if n == 0 or n > 20:
        raise CommandError(error)
    if not (b.isdigit() or (b[0] == 45 and b[1:].isdigit())):
        raise CommandError(error)
    # no leading zeros (except "0"), no "-0"
    if (b[0] == 48 and n > 1) or (b[0] == 45 and (n == 1 or b[1] == 48)):
        raise CommandError(error)
    v = int(b)
    if v < LLONG_MIN or v > LLONG_MAX:
        raise CommandError(error)
    return v


def parse_float(b: bytes, error: str = NOT_FLOAT) -> float:
    """A double as Redis's string2d/strtod accepts it: no spaces, no NaN; inf allowed."""
    if not b or b[0:1].isspace() or b[-1:].isspace():
        raise CommandError(error)
    try:
        v = float(b)
    except ValueError:
        raise CommandError(error) from None
    if math.isnan(v):
        raise CommandError(error)
    low = b.lower()
    if b"_" in low or low.startswith((b"0x", b"-0x", b"+0x")):
        raise CommandError(error)
    return v
