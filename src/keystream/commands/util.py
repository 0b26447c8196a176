"""Helpers shared by command modules: argument parsing (Redis's string2ll / string2ld rules),
SCAN-family options, and what container commands share (recording a removal, picking a random
element)."""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Sized
from typing import TYPE_CHECKING

from keystream.resp.errors import INVALID_CURSOR, NOT_FLOAT, NOT_INTEGER, SYNTAX, CommandError

if TYPE_CHECKING:
    from keystream.keyspace.db import Database

LLONG_MIN = -(2**63)
LLONG_MAX = 2**63 - 1


# The canonical text of small integers (indexes, counts, increments) -> its value: one dict
# lookup instead of the checks below for the arguments most commands get.
_SMALL_INTS: dict[bytes, int] = {b"%d" % i: i for i in range(-1024, 10001)}


def parse_int(b: bytes, error: str = NOT_INTEGER) -> int:
    """A signed 64-bit integer written exactly as Redis's string2ll accepts it."""
    v = _SMALL_INTS.get(b)
    if v is not None:
        return v
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


def parse_cursor(b: bytes) -> int:
    """A SCAN-family cursor as Redis's strtoul-based parser accepts it ("ERR invalid cursor")."""
    digits = b[1:] if b[:1] in (b"+", b"-") else b
    if b and not digits.isdigit():
        raise CommandError(INVALID_CURSOR)
    if not b:
        return 0
    v = int(digits)
    if v > 2**64 - 1:
        raise CommandError(INVALID_CURSOR)
    # strtoul negates a leading '-' modulo 2**64
    return (-v) % 2**64 if b[0] == 45 else v


def parse_scan_options(argv: list[bytes], start: int, allow_type: bool = False
                       ) -> tuple[int, bytes | None, bytes | None]:
    """(count, pattern or None, type or None) from SCAN-family options at argv[start:].

    A MATCH of exactly "*" is returned as None (it matches everything), as Redis does.
    """
    count = 10
    pattern: bytes | None = None
    type_name: bytes | None = None
    i, n = start, len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"count" and i + 1 < n:
            count = parse_int(argv[i + 1])
            if count < 1:
                raise CommandError(SYNTAX)
        elif opt == b"match" and i + 1 < n:
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        elif opt == b"type" and allow_type and i + 1 < n:
            type_name = argv[i + 1]
        else:
            raise CommandError(SYNTAX)
        i += 2
    return count, pattern, type_name


def touch_or_delete(db: Database, key: bytes, container: Sized, kind: str, dirty: int = 1) -> None:
    """Record that elements left the container at key: the write event kind ("lpop", "srem",
    ...), then, when the container became empty, its deletion ("del"; empty containers are
    never stored), in Redis's order. dirty: whether (> 0) the change counts as one."""
    db.touch(key, kind, dirty)
    if not container:
        db.delete(key)


def random_element(container: Collection[bytes]) -> bytes:
    """One element (a hash's field, a set's member) of a non-empty container, uniformly at random."""
    i = random.randrange(len(container))
    for j, e in enumerate(container):
        if j == i:
            return e
    raise AssertionError("unreachable")
