"""Bitmap commands (bitops.c), Redis 7.0: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
BITFIELD_RO.

Bitmaps are ordinary string values (`bytes`); bit 0 is the most significant bit of byte 0.
Whole-string work is done with Python big integers and bytes methods (popcount with
`int.bit_count`, AND/OR/XOR/NOT on `int.from_bytes`, scanning with `lstrip`) rather than
loops over bytes. A write builds a new `bytes` value (values are immutable).

Deliberate difference: none known.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, key_spec
from keystream.commands.util import parse_int
from keystream.resp.errors import BIT_OFFSET, BIT_VALUE, SYNTAX, WRONGTYPE, CommandError

if TYPE_CHECKING:
    from keystream.client import Client

_BITFIELD_TYPE = (
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "
    "i64 is."
)
_WRAP, _SAT, _FAIL = 0, 1, 2
_U64 = (1 << 64) - 1


def _string_or_none(db, key: bytes) -> bytes | None:
    value = db.get(key)
    if value is not None and type(value) is not bytes:
        raise CommandError(WRONGTYPE)
    return value


def _bit_offset(client, arg: bytes, bits: int = 0) -> int:
    """getBitOffsetFromArgument: a bit offset, or `#n` (n * bits) when bits > 0."""
    usehash = bits > 0 and arg[:1] == b"#"
    offset = parse_int(arg[1:] if usehash else arg, BIT_OFFSET)
    if usehash:
        offset *= bits
    if offset < 0 or (offset >> 3) >= client.engine.config["proto-max-bulk-len"]:
        raise CommandError(BIT_OFFSET)
    return offset


# Redis 7 key spec (COMMAND INFO) of the read-only commands.
_RO = (key_spec(1, "RO", "access"),)


def _bitfield_key_flags(argv: list[bytes]) -> tuple[str, ...]:
    """BITFIELD only reads its key when every subcommand is a well-formed GET or OVERFLOW
    (COMMAND GETKEYSANDFLAGS); anything else, even a syntax error, counts as a write."""
    i, n = 2, len(argv)
    while i < n:
        op = argv[i].lower()
        if op == b"get" and n - i > 2:
            i += 3
        elif op == b"overflow" and n - i > 1:
            i += 2
        else:
            return ("RW", "access", "update")
    return ("RO", "access")


@command("setbit", 4, "write denyoom", 1, 1, 1, acl="bitmap", group="bitmap", since="2.2.0",
         key_specs=(key_spec(1, "RW", "access", "update"),),
         summary="Sets or clears the bit at offset in the string value stored at key",
         args="key offset:int value:int")
def setbit_command(client: Client, argv: list[bytes]) -> Any:
    """SETBIT key offset value"""
    offset = _bit_offset(client, argv[2])
    on = parse_int(argv[3], BIT_VALUE)
    if on & ~1:
        raise CommandError(BIT_VALUE)
    db = client.db
    key = argv[1]
    old = _string_or_none(db, key)
    byte = offset >> 3
    if old is None:
        old = b""
    mask = 1 << (7 - (offset & 7))
    if byte < len(old):
        byteval = old[byte]
        was = 1 if byteval & mask else 0
        if was == on:
            return was
        byteval = byteval | mask if on else byteval & ~mask
        db.set(key, b"".join((old[:byte], bytes((byteval,)), old[byte + 1:])), keep_ttl=True, kind="setbit")
        return was
    grown = old + bytes(byte - len(old)) + (bytes((mask,)) if on else b"\0")
    db.set(key, grown, keep_ttl=True, kind="setbit")
    return 0


@command("getbit", 3, "readonly fast", 1, 1, 1, acl="bitmap", group="bitmap", since="2.2.0",
         key_specs=_RO,
         summary="Returns the bit value at offset in the string value stored at key",
         args="key offset:int")
def getbit_command(client: Client, argv: list[bytes]) -> Any:
    """GETBIT key offset"""
    offset = _bit_offset(client, argv[2])
    value = _string_or_none(client.db, argv[1])
    if value is None:
        return 0
    byte = offset >> 3
    if byte >= len(value):
        return 0
    return 1 if value[byte] & (1 << (7 - (offset & 7))) else 0


def _bit_range(value: bytes, start: int, end: int, isbit: bool) -> tuple[int, int] | None:
    """Normalised inclusive bit range [first, last] for start/end in bytes or bits, or None."""
    total = len(value) * 8 if isbit else len(value)
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = max(end, 0)
    if end >= total:
        end = total - 1
    if start > end:
        return None
    if isbit:
        return start, end
    return start * 8, end * 8 + 7


def _bits_int(value: bytes, first: int, last: int) -> int:
    """The bits first..last (inclusive) of value as an integer of (last-first+1) bits."""
    b0, b1 = first >> 3, last >> 3
    chunk = int.from_bytes(value[b0:b1 + 1], "big")
    chunk >>= 7 - (last & 7)
    return chunk & ((1 << (last - first + 1)) - 1)


def _parse_unit(arg: bytes) -> bool:
    unit = arg.lower()
    if unit == b"bit":
        return True
    if unit == b"byte":
        return False
    raise CommandError(SYNTAX)


@command("bitcount", -2, "readonly", 1, 1, 1, acl="bitmap", group="bitmap", since="2.6.0",
         key_specs=_RO,
         summary="Count set bits in a string", complexity="O(N)",
         args="key index=[start:int end:int index_unit=[BYTE | BIT]@7.0.0]",
         history=(("7.0.0", "The BYTE and BIT units."),))
def bitcount_command(client: Client, argv: list[bytes]) -> Any:
    """BITCOUNT key [start end [BYTE | BIT]]"""
    value = _string_or_none(client.db, argv[1])
    if value is None:
        return 0
    n = len(argv)
    if n == 2:
        return int.from_bytes(value, "big").bit_count()
    if n not in (4, 5):
        raise CommandError(SYNTAX)
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    if start < 0 and end < 0 and start > end:
        return 0
    isbit = _parse_unit(argv[4]) if n == 5 else False
    rng = _bit_range(value, start, end, isbit)
    if rng is None:
        return 0
    if not isbit:
        return int.from_bytes(value[rng[0] >> 3:(rng[1] >> 3) + 1], "big").bit_count()
    return _bits_int(value, rng[0], rng[1]).bit_count()


def _first_bit(value: bytes, first: int, last: int, bit: int) -> int:
    """Position of the first bit equal to `bit` within [first, last], or -1."""
    width = last - first + 1
    field = _bits_int(value, first, last)
    if bit == 0:
        field ^= (1 << width) - 1
    if field == 0:
        return -1
    return first + width - field.bit_length()


@command("bitpos", -3, "readonly", 1, 1, 1, acl="bitmap", group="bitmap", since="2.8.7",
         key_specs=_RO,
         summary="Find first bit set or clear in a string", complexity="O(N)",
         args="key bit:int index=[start:int end_index=[end:int index_unit=[BYTE | BIT]@7.0.0]]",
         history=(("7.0.0", "The BYTE and BIT units."),))
def bitpos_command(client: Client, argv: list[bytes]) -> Any:
    """BITPOS key bit [start [end [BYTE | BIT]]]"""
    bit = parse_int(argv[2])
    if bit != 0 and bit != 1:
        raise CommandError("ERR The bit argument must be 1 or 0.")
    value = _string_or_none(client.db, argv[1])
    if value is None:
        return -1 if bit else 0
    n = len(argv)
    end_given = False
    if n == 3:
        if not value:
            return -1
        # Whole string: skip the bytes that cannot hold the bit, then look inside one byte.
        skip = value.lstrip(b"\xff" if bit == 0 else b"\0")
        if not skip:
            return -1 if bit else len(value) * 8
        byteval = skip[0] if bit else skip[0] ^ 0xFF
        return (len(value) - len(skip)) * 8 + 8 - byteval.bit_length()
    if n > 6:
        raise CommandError(SYNTAX)
    start = parse_int(argv[3])
    isbit = _parse_unit(argv[5]) if n == 6 else False
    if n >= 5:
        end = parse_int(argv[4])
        end_given = True
    else:
        end = len(value) * 8 + 7 if isbit else len(value) - 1
    rng = _bit_range(value, start, end, isbit)
    if rng is None:
        return -1
    pos = _first_bit(value, rng[0], rng[1], bit)
    if pos == -1 and bit == 0 and not end_given:
        # Without an explicit end, the string is seen as padded with zeros on the right.
        return rng[1] + 1
    return pos


@command("bitop", -4, "write denyoom", 2, -1, 1, acl="bitmap", group="bitmap", since="2.6.0",
         key_specs=(key_spec(2, "OW", "update"), key_spec(3, "RO", "access", lastkey=-1)),
         summary="Perform bitwise operations between strings", complexity="O(N)",
         args="operation destkey:key key:key1...")
def bitop_command(client: Client, argv: list[bytes]) -> Any:
    """BITOP operation destkey key [key ...]"""
    op = argv[1].lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        raise CommandError(SYNTAX)
    if op == b"not" and len(argv) != 4:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    db = client.db
    sources = []
    for key in argv[3:]:
        value = _string_or_none(db, key)
        sources.append(value or b"")
    maxlen = max(len(s) for s in sources)
    dest = argv[2]
    if maxlen == 0:
        db.delete(dest)
        return 0
    ints = [int.from_bytes(s, "big") << (8 * (maxlen - len(s))) for s in sources]
    acc = ints[0]
    if op == b"and":
        for x in ints[1:]:
            acc &= x
    elif op == b"or":
        for x in ints[1:]:
            acc |= x
    elif op == b"xor":
        for x in ints[1:]:
            acc ^= x
    else:
        acc ^= (1 << (8 * maxlen)) - 1
    db.set(dest, acc.to_bytes(maxlen, "big"))
    return maxlen


def _bitfield_type(arg: bytes) -> tuple[bool, int]:
    """(signed, bits) for a type like i16 or u8 (u64 is not supported, i64 is)."""
    sign = arg[:1]
    if sign not in (b"i", b"u"):
        raise CommandError(_BITFIELD_TYPE)
    signed = sign == b"i"
    bits = parse_int(arg[1:], _BITFIELD_TYPE)
    if bits < 1 or bits > (64 if signed else 63):
        raise CommandError(_BITFIELD_TYPE)
    return signed, bits


def _get_field(buf, offset: int, bits: int, signed: bool) -> int:
    """The field at bit offset (zero beyond the end of buf)."""
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    chunk = bytes(buf[first:last + 1])
    want = last - first + 1
    if len(chunk) < want:
        chunk += bytes(want - len(chunk))
    v = (int.from_bytes(chunk, "big") >> (7 - ((offset + bits - 1) & 7))) & ((1 << bits) - 1)
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


def _set_field(buf: bytearray, offset: int, bits: int, value: int) -> None:
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    shift = 7 - ((offset + bits - 1) & 7)
    mask = ((1 << bits) - 1) << shift
    n = last - first + 1
    chunk = int.from_bytes(buf[first:last + 1], "big")
    chunk = (chunk & ~mask) | ((value << shift) & mask)
    buf[first:last + 1] = chunk.to_bytes(n, "big")


def _overflow(value: int, bits: int, signed: bool, owtype: int) -> tuple[bool, int]:
    """(overflowed, value to store) for a would-be field value, per the OVERFLOW policy."""
    if signed:
        hi = (1 << (bits - 1)) - 1
        lo = -hi - 1
    else:
        hi = (1 << bits) - 1
        lo = 0
    if lo <= value <= hi:
        return False, value
    if owtype == _SAT:
        return True, hi if value > hi else lo
    if signed:
        half = 1 << (bits - 1)
        return True, ((value + half) & ((1 << bits) - 1)) - half
    return True, value & hi


def _bitfield(client, argv: list[bytes], readonly_cmd: bool) -> list:
    ops = []
    owtype = _WRAP
    readonly = True
    highest = 0
    j = 2
    n = len(argv)
    while j < n:
        rem = n - j - 1
        sub = argv[j].lower()
        if sub == b"get" and rem >= 2:
            opcode = 0
        elif sub == b"set" and rem >= 3:
            opcode = 1
        elif sub == b"incrby" and rem >= 3:
            opcode = 2
        elif sub == b"overflow" and rem >= 1:
            kind = argv[j + 1].lower()
            if kind == b"wrap":
                owtype = _WRAP
            elif kind == b"sat":
                owtype = _SAT
            elif kind == b"fail":
                owtype = _FAIL
            else:
                raise CommandError("ERR Invalid OVERFLOW type specified")
            j += 2
            continue
        else:
            raise CommandError(SYNTAX)
        signed, bits = _bitfield_type(argv[j + 1])
        offset = _bit_offset(client, argv[j + 2], bits)
        arg = 0
        if opcode:
            readonly = False
            highest = max(highest, offset + bits - 1)
            arg = parse_int(argv[j + 3])
        ops.append((opcode, signed, bits, offset, arg, owtype))
        j += 3 if opcode == 0 else 4
    db = client.db
    key = argv[1]
    if not readonly and readonly_cmd:
        raise CommandError("ERR BITFIELD_RO only supports the GET subcommand")
    value = _string_or_none(db, key)
    if readonly:
        src = value or b""
        return [_get_field(src, op[3], op[2], op[1]) for op in ops]
    buf = bytearray(value or b"")
    need = (highest >> 3) + 1
    grown = value is None or len(buf) < need
    if len(buf) < need:
        buf.extend(bytes(need - len(buf)))
    changes = 0
    out: list = []
    for opcode, signed, bits, offset, arg, ow in ops:
        old = _get_field(buf, offset, bits, signed)
        if opcode == 0:
            out.append(old)
            continue
        if opcode == 2:
            overflowed, new = _overflow(old + arg, bits, signed, ow)
            reply = new
        else:
            if not signed:
                arg &= _U64  # SET takes the argument as a 64-bit unsigned value
            overflowed, new = _overflow(arg, bits, signed, ow)
            reply = old
        if overflowed and ow == _FAIL:
            out.append(None)
            continue
        out.append(reply)
        _set_field(buf, offset, bits, new)
        if grown or old != new:
            changes += 1
    if changes or grown:
        db.set(key, bytes(buf), keep_ttl=True, kind="setbit")
    return out


@command("bitfield", -2, "write denyoom", 1, 1, 1, acl="bitmap", group="bitmap", since="3.2.0",
         key_specs=(key_spec(1, "RW", "access", "update", "variable_flags",
                             notes="This command allows both access and modification of the key"),),
         key_flags=_bitfield_key_flags,
         summary="Perform arbitrary bitfield integer operations on strings",
         complexity="O(1) for each subcommand specified",
         args="key operation=[encoding_offset=GET (encoding offset:int) | "
              "write=([wrap_sat_fail=OVERFLOW (WRAP | SAT | FAIL)] "
              "write_operation=(encoding_offset_value=SET (encoding offset:int value:int) | "
              "encoding_offset_increment=INCRBY (encoding offset:int increment:int)))]...")
def bitfield_command(client: Client, argv: list[bytes]) -> Any:
    """BITFIELD key [<GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset
    value | INCRBY encoding offset increment>> [<GET encoding offset | [OVERFLOW <WRAP | SAT |
    FAIL>] <SET encoding offset value | INCRBY encoding offset increment>> ...]]"""
    return _bitfield(client, argv, False)


@command("bitfield_ro", -2, "readonly fast", 1, 1, 1, acl="bitmap", group="bitmap",
         key_specs=_RO,
         since="6.0.0", complexity="O(1) for each subcommand specified",
         summary="Perform arbitrary bitfield integer operations on strings. Read-only variant "
                 "of BITFIELD",
         args="key [encoding_offset=GET (encoding offset:int)...T]")
def bitfield_ro_command(client: Client, argv: list[bytes]) -> Any:
    """BITFIELD_RO key [GET encoding offset [GET encoding offset ...]]"""
    return _bitfield(client, argv, True)
