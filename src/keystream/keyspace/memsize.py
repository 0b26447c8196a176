"""How many bytes a key and its value take, estimated from our own Python objects.

This is MEMORY USAGE's estimator, in the spirit of Redis's objectComputeSize: the fixed
cost of a container is measured exactly (`sys.getsizeof` of the dict, set, deque, ...),
and the cost of its elements is the average size of the first `samples` elements
multiplied by the element count, so big containers cost O(samples) to estimate.
`samples <= 0` means "measure every element".

What is counted, per type:
- string (`bytes`): the bytes object.
- hash, compact form: the one bytes object that packs it. Big form: the dict table plus,
  per field, the field and value objects.
- set: the set table plus the member objects.
- list, compact form: the one bytes object that packs it. Big form: the deque blocks plus
  the stored (RESP-encoded) element objects.
- stream: the stream object, its node index lists, every node (object and packed buffer),
  and the consumer groups' pending entries (sampled) and consumers.
- sorted set, compact form: the one bytes object that packs it.
  Big form: the member -> score dict, the score floats, and the sorted list's keys
  (score bytes + member) and the pointers to them; plus the cached reply bulks when the
  commands keep them.
- any other value: `sys.getsizeof` of the object itself.

Objects shared between keys (the short hash fields `datatypes.hash.share` pools, equal
members cached in a zset's reply bulks) are counted for every key that refers to them,
as Redis counts each key's own copy: the answer is what the key would cost on its own.
Deliberately not counted: the per-key entries in the database's access-time and expiry
dicts (Redis leaves the expires dict out of MEMORY USAGE too).
"""

from __future__ import annotations

import sys
from itertools import islice
from typing import Any

from keystream.keyspace.datatypes.hash import Hash, is_shared
from keystream.keyspace.datatypes.list import ListValue
from keystream.keyspace.datatypes.set import Set
from keystream.keyspace.datatypes.stream import Stream
from keystream.keyspace.datatypes.zset import ZSet

__all__ = ["DEFAULT_SAMPLES", "entry_size", "key_size", "value_size"]

DEFAULT_SAMPLES = 5  # as Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES

_getsizeof = sys.getsizeof
_POINTER = 8
# A CPython dict entry (hash, key and value pointers) and its index slot, in a table that
# is resized once two thirds full: what one more key costs the database's dict.
_DICT_ENTRY = (3 * _POINTER + _POINTER) * 3 // 2
# What a big sorted set's element costs beside its member object (counted as the dict key):
# its score float, and its SortedList key (the member's bytes again plus 8 bytes of
# score, counted with the member's size) and the sublist's pointer to it.
_ZSET_NODE = _getsizeof(0.0) + 8 + _POINTER
# The SortedList object and its bookkeeping lists (_lists, _maxes, _index), when empty.
_SORTED_LIST = 4 * _getsizeof([]) + 64


def key_size(key: bytes) -> int:
    """The key object plus its entry in the database's main dict."""
    return _getsizeof(key) + _DICT_ENTRY


def entry_size(key: bytes, value: Any) -> int:
    """What a container key costs the keyspace: its key, dict entry and value (the
    database's memory accounting, keyspace/db.py). Unlike MEMORY USAGE, a hash's pooled
    fields and values are not counted: the pool holds them once, whatever refers to them."""
    if type(value) is Hash:
        d = value.d
        if isinstance(d, bytes):
            return key_size(key) + _getsizeof(value) + _getsizeof(d)
        return key_size(key) + _getsizeof(value) + _getsizeof(d) + _scaled(_own_pair_sizes(d), len(d))
    return key_size(key) + value_size(value)


def _own_pair_sizes(mapping: dict) -> tuple[int, int]:
    """As `_pair_sizes` with the default samples, leaving out pooled objects."""
    total = n = 0
    for k, v in islice(mapping.items(), DEFAULT_SAMPLES):
        if not is_shared(k):
            total += _getsizeof(k)
        if not is_shared(v):
            total += _getsizeof(v)
        n += 1
    return total, n


def value_size(value: Any, samples: int = DEFAULT_SAMPLES) -> int:
    """The estimated size in bytes of a stored value (see the module docstring)."""
    t = type(value)
    if t is bytes:
        return _getsizeof(value)
    if t is Hash:
        d = value.d
        if isinstance(d, bytes):
            return _getsizeof(value) + _getsizeof(d)
        return _getsizeof(value) + _getsizeof(d) + _scaled(_pair_sizes(d, samples), len(d))
    if t is ListValue:
        packed = value.packed
        if packed is not None:
            return _getsizeof(value) + _getsizeof(packed)
        return _getsizeof(value) + _getsizeof(value.d) + _scaled(_sizes(value, samples), len(value))
    if t is Set:
        return _getsizeof(value) + _scaled(_sizes(value, samples), len(value))
    if t is ZSet:
        return _zset_size(value, samples)
    if t is Stream:
        return _stream_size(value, samples)
    return _getsizeof(value)


def _sizes(items: Any, samples: int) -> tuple[int, int]:
    """(total size, count) of the first `samples` objects of items (all if samples <= 0)."""
    it = items if samples <= 0 else islice(items, samples)
    total = n = 0
    for obj in it:
        total += _getsizeof(obj)
        n += 1
    return total, n


def _pair_sizes(mapping: dict, samples: int) -> tuple[int, int]:
    """As `_sizes`, counting each sampled key together with its value."""
    it = mapping.items() if samples <= 0 else islice(mapping.items(), samples)
    total = n = 0
    for k, v in it:
        total += _getsizeof(k) + _getsizeof(v)
        n += 1
    return total, n


def _scaled(sampled: tuple[int, int], count: int) -> int:
    """The sampled total extrapolated to `count` elements."""
    total, n = sampled
    if n == 0:
        return 0
    return total if n == count else int(total / n * count)


def _zset_size(z: ZSet, samples: int) -> int:
    n = len(z)
    lp = z.lp
    if lp is not None:
        return _getsizeof(z) + _getsizeof(lp)
    big = z.big
    assert big is not None  # lp is None: the big form is in use
    size = (_getsizeof(z) + _getsizeof(big) + _getsizeof(big.scores) + _SORTED_LIST
            + 2 * _scaled(_sizes(big.scores, samples), n) + n * _ZSET_NODE)
    bulk = big.bulk
    if bulk:
        size += _getsizeof(bulk) + _scaled(_sizes(bulk.values(), samples), len(bulk))
    return size


def _stream_size(s: Stream, samples: int) -> int:
    size = _getsizeof(s) + _getsizeof(s.nodes) + _getsizeof(s.firsts) + _getsizeof(s.groups)
    for node in s.nodes:
        size += _getsizeof(node) + _getsizeof(node.buf) + _getsizeof(node.master) + _getsizeof(node.fields)
    for name, group in s.groups.items():
        pel = group.pel
        per_entry = 0
        if pel:
            sampled = list(islice(pel.items(), samples)) if samples > 0 else list(pel.items())
            per_entry = sum(_getsizeof(k) + _getsizeof(v) + 2 * _POINTER for k, v in sampled) // len(sampled)
        size += _getsizeof(name) + _getsizeof(group) + _getsizeof(pel) + len(pel) * per_entry
        size += sum(_getsizeof(c) + _getsizeof(c.name) + _getsizeof(c.pel) + len(c.pel) * 2 * _POINTER
                    for c in group.consumers.values())
    return size
