"""HyperLogLog commands (hyperloglog.c), Redis 7.0: PFADD PFCOUNT PFMERGE.

Values are Redis strings in Redis's own HLL format (`keyspace.datatypes.hll`), so GET,
DUMP and the counts agree with Redis byte for byte. Redis builds HLLs as raw strings, so every
write marks the value raw (OBJECT ENCODING says "raw", not "embstr").

Deliberate differences: PFSELFTEST (ten million hash insertions, far too slow here) and
PFDEBUG (internal debugging) are not implemented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, key_spec
from keystream.keyspace.datatypes import hll
from keystream.resp.errors import WRONGTYPE, CommandError
from keystream.resp.writer import OK

if TYPE_CHECKING:
    from keystream.client import Client

_NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
_CORRUPT = "INVALIDOBJ Corrupted HLL object detected"


def _hll_or_none(db, key: bytes) -> bytes | None:
    """The HLL at key, None if missing; the errors Redis gives for anything else."""
    value = db.get(key)
    if value is None:
        return None
    if type(value) is not bytes:
        raise CommandError(WRONGTYPE)
    if not hll.is_hll(value):
        raise CommandError(_NOT_HLL)
    return value


@command("pfadd", -2, "write denyoom fast", 1, 1, 1, acl="hyperloglog", group="hyperloglog",
         since="2.8.9", summary="Adds the specified elements to the specified HyperLogLog.",
         complexity="O(1) to add every element.",
         key_specs=(key_spec(1, "RW", "insert"),),
         args="key [element...]")
def pfadd_command(client: Client, argv: list[bytes]) -> Any:
    """PFADD key [element [element ...]]"""
    db = client.db
    key = argv[1]
    value = _hll_or_none(db, key)
    changed, out = hll.add(value, argv[2:], client.engine.config["hll-sparse-max-bytes"])
    if changed < 0:
        raise CommandError(_CORRUPT)
    if changed:
        db.set(key, out, keep_ttl=True, kind="pfadd")
        db.mark_raw(key)
        return 1
    if value is not None:
        db.mark_raw(key)
    return 0


@command("pfcount", -2, "readonly may_replicate", 1, -1, 1, acl="hyperloglog",
         group="hyperloglog", since="2.8.9",
         summary="Return the approximated cardinality of the set(s) observed by the "
                 "HyperLogLog at key(s).",
         complexity="O(1) with a very small average constant time when called with a single "
                    "key. O(N) with N being the number of keys, and much bigger constant times, "
                    "when called with multiple keys.",
         key_specs=(
             key_spec(1, "RW", "access", lastkey=-1, notes="RW because it may change the internal representation of the key, and propagate to replicas"),
         ),
         args="key...")
def pfcount_command(client: Client, argv: list[bytes]) -> Any:
    """PFCOUNT key [key ...]"""
    db = client.db
    if len(argv) > 2:
        acc = [0]
        for key in argv[1:]:
            value = _hll_or_none(db, key)
            if value is not None and not hll.merge_into(acc, value):
                raise CommandError(_CORRUPT)
        return hll.count_registers(hll.registers_of(acc))
    key = argv[1]
    value = _hll_or_none(db, key)
    if value is None:
        return 0
    db.mark_raw(key)
    if hll.cache_valid(value):
        return hll.cached_card(value)
    card = hll.count(value)
    if card is None:
        raise CommandError(_CORRUPT)
    # The cached cardinality is part of the value: store it (and so propagate the change).
    buf = bytearray(value)
    hll.set_cached_card(buf, card)
    db.update_cache(key, bytes(buf))
    db.mark_raw(key)
    client.propagate(argv)  # a read command, so it must ask: Redis propagates this PFCOUNT
    return card


@command("pfmerge", -2, "write denyoom", 1, -1, 1, acl="hyperloglog", group="hyperloglog",
         since="2.8.9", summary="Merge N different HyperLogLogs into a single one.",
         complexity="O(N) to merge N HyperLogLogs, but with high constant times.",
         key_specs=(key_spec(1, "RW", "access", "insert"), key_spec(2, "RO", "access", lastkey=-1)),
         args="destkey:key sourcekey:key1...")
def pfmerge_command(client: Client, argv: list[bytes]) -> Any:
    """PFMERGE destkey sourcekey [sourcekey ...]"""
    db = client.db
    acc = [0]
    use_dense = False
    # The destination is read first, as a source (one lookup: Redis notifies a keymiss for it).
    current = _hll_or_none(db, argv[1])
    for i in range(1, len(argv)):
        value = current if i == 1 else _hll_or_none(db, argv[i])
        if value is None:
            continue
        if value[4] == 0:
            use_dense = True
        if not hll.merge_into(acc, value):
            raise CommandError(_CORRUPT)
    maxregs = hll.registers_of(acc)
    dest = argv[1]
    buf = hll.new_sparse() if current is None else bytearray(current)
    if use_dense and buf[4] != 0:
        dense = hll.to_dense(buf)
        if dense is None:
            raise CommandError(_CORRUPT)
        buf = dense
    if buf[4] == 0:
        # The destination was one of the inputs: its registers are exactly the maxima.
        hll.set_dense_registers(buf, maxregs)
    else:
        buf = hll.set_registers(buf, maxregs, client.engine.config["hll-sparse-max-bytes"])
    hll.invalidate_cache(buf)
    db.set(dest, bytes(buf), keep_ttl=current is not None, kind="pfadd")
    db.mark_raw(dest)
    return OK
