"""DEBUG DIGEST and DEBUG DIGEST-VALUE: Redis's dataset digest, bit for bit.

Redis (debug.c) builds a 20-byte digest from SHA-1 and XOR so that the result does not
depend on the order keys or set/hash elements are visited, but does depend on list order:
- xor(d, s): d ^= SHA1(s); mix(d, s): xor(d, s), then d = SHA1(d);
- per key: d = 0; mix(d, key); mix(d, type as 4 bytes big-endian); then the value: a string
  is mixed in; list elements are mixed in order; set members are only xor()ed in; each hash
  field/value pair and each sorted-set member/score pair (score as "%.17g", the way Redis
  7.0 prints it here) is mixed into a fresh digest that is XORed in; a key with a TTL gets
  "!!expire!!" XORed in. The dataset digest XORs every key's digest, after mixing each
  non-empty database's index (4 bytes big-endian) in before its keys.
An empty dataset digests to 20 zero bytes. Logically expired keys still in memory count,
as in Redis (it walks its dictionaries).

Not here: stream and module values (none exist yet).
"""

from __future__ import annotations

import hashlib
from typing import Any

from keystream.keyspace.datatypes.hash import Hash
from keystream.keyspace.datatypes.list import ListValue, decode_element
from keystream.keyspace.datatypes.set import Set
from keystream.keyspace.datatypes.zset import ZSet

__all__ = ["dataset_digest", "value_digest"]

_ZERO = bytes(20)
_TYPE_CODES = {bytes: 0, ListValue: 1, Set: 2, ZSet: 3, Hash: 4}


def _xor(digest: bytes, data: bytes) -> bytes:
    """digest XOR SHA1(data)."""
    h = hashlib.sha1(data).digest()
    return (int.from_bytes(digest, "big") ^ int.from_bytes(h, "big")).to_bytes(20, "big")


def _mix(digest: bytes, data: bytes) -> bytes:
    return hashlib.sha1(_xor(digest, data)).digest()


def _score_text(score: float) -> bytes:
    return b"%.17g" % score


def value_digest(value: Any, has_ttl: bool) -> bytes:
    """The digest of one value (DEBUG DIGEST-VALUE), before the key is mixed in."""
    return _fold_value(_ZERO, value, has_ttl)


def _key_digest(key: bytes, value: Any, has_ttl: bool) -> bytes:
    """Redis's per-key digest: the key mixed into a zero digest, then the value on top."""
    d = _mix(_ZERO, key)
    return _fold_value(d, value, has_ttl)


def _fold_value(d: bytes, value: Any, has_ttl: bool) -> bytes:
    d = _mix(d, _TYPE_CODES[type(value)].to_bytes(4, "big"))
    cls = type(value)
    if cls is bytes:
        d = _mix(d, value)
    elif cls is ListValue:
        for element in value:
            d = _mix(d, decode_element(element))
    elif cls is Set:
        for member in value:
            d = _xor(d, member)
    elif cls is ZSet:
        for score, member in value.items(0, len(value)):
            d = _xor(d, _mix(_mix(_ZERO, member), _score_text(score)))
    elif cls is Hash:
        for field, v in value.items():
            d = _xor(d, _mix(_mix(_ZERO, field), v))
    if has_ttl:
        d = _xor(d, b"!!expire!!")
    return d


def dataset_digest(dbs: list[Any]) -> bytes:
    """DEBUG DIGEST of every database's keys."""
    final = _ZERO
    for db in dbs:
        if not db.data:
            continue
        final = _mix(final, db.id.to_bytes(4, "big"))
        expires = db.expires
        for key, value in db.data.items():
            final = _xor(final, _key_digest(key, value, key in expires))
    return final
