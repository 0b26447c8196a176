"""Redis's RDB format, version 10 (Redis 7.0): values, whole files and DUMP payloads.

Writing produces what Redis 7.0 writes for the same data: strings as integers (up to 11
characters fitting 32 bits), LZF-compressed (over 20 bytes, when `rdbcompression` is on and
liblzf fits it in n - 4 bytes, as Redis asks it to) or raw; hashes and small sorted sets as
listpacks, small integer sets as intsets, lists as quicklist-2 nodes cut where Redis cuts them
(`list-max-listpack-size`), big sorted sets as skiplists with binary doubles (highest score
first, as Redis writes them), big hashes and sets as plain element lists. A file carries the
aux fields Redis writes (`redis-ver`, `redis-bits`, `ctime`, `used-mem`, `aof-base`), the
function libraries (`FUNCTION2`), then per non-empty database SELECTDB + RESIZEDB and each
key with its millisecond expiry and, under an LRU/LFU `maxmemory-policy`, its idle time or
frequency; then EOF and the CRC-64 (zero when `rdbchecksum` is off).

Reading accepts every version 1..10 encoding Redis 7.0 loads: the above plus the old
linked-list/ziplist/quicklist-1 lists, zipmap and ziplist hashes, ziplist sorted sets and
text-double sorted sets (RDB_TYPE_ZSET), second-resolution expiries. A value gets the
encoding Redis gives it on load (thresholds from the config). A file is parsed completely
(and its checksum checked) before anything is installed, so a corrupt or truncated file is
refused as a whole with an `RdbError` saying what is wrong and where.

Streams are written as RDB_TYPE_STREAM_LISTPACKS_2 the way Redis 7.0 does (one listpack per
stream node keyed by its 128-bit master ID, then length, last/first/max-deleted IDs, entries
added, and the consumer groups in name order with their PEL and consumers); both stream types
(15 and 19) are read.

Not supported, refused by name: module types and module aux data, the pre-release FUNCTION
opcode (Redis 7.0 refuses it too).

The CRC is Redis's CRC-64 (Jones polynomial, reflected) from `crcmod`; LZF is liblzf via
`python-lzf`, the library Redis vendors.

Not here: files on disk, fork and scheduling (persistence/snapshot.py).
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Final

import crcmod
import lzf

from keystream.keyspace.datatypes.hash import Hash
from keystream.keyspace.datatypes.list import ListValue, decode_element, encode_element
from keystream.keyspace.datatypes.set import Set
from keystream.keyspace.datatypes.stream import MAX64, Consumer, Group, Nack, Stream, make_id
from keystream.keyspace.datatypes.zset import ZSet
from keystream.persistence.encodings import (
    EncodingError,
    EntryCache,
    intset_decode,
    intset_encode,
    is_int,
    listpack_decode,
    listpack_encode,
    listpack_encode_entries,
    lp_entry,
    ziplist_decode,
    zipmap_decode,
)

__all__ = [
    "RDB_VERSION",
    "Limits",
    "LoadedDb",
    "PayloadError",
    "RdbContents",
    "RdbError",
    "RdbWriter",
    "crc64",
    "dump_payload",
    "encode_value",
    "parse_rdb",
    "restore_payload",
]

RDB_VERSION = 10

log = logging.getLogger("keystream.persistence")

crc64: Callable[..., int] = crcmod.mkCrcFun(0x1AD93D23594C935A9, initCrc=0, rev=True, xorOut=0)

# Value types (rdb.h)
T_STRING, T_LIST, T_SET, T_ZSET, T_HASH, T_ZSET_2 = 0, 1, 2, 3, 4, 5
T_MODULE_PRE, T_MODULE_2 = 6, 7
T_HASH_ZIPMAP, T_LIST_ZIPLIST, T_SET_INTSET, T_ZSET_ZIPLIST, T_HASH_ZIPLIST = 9, 10, 11, 12, 13
T_LIST_QUICKLIST, T_STREAM_LISTPACKS, T_HASH_LISTPACK, T_ZSET_LISTPACK = 14, 15, 16, 17
T_LIST_QUICKLIST_2, T_STREAM_LISTPACKS_2 = 18, 19
# Opcodes
OP_FUNCTION2, OP_FUNCTION_PRE, OP_MODULE_AUX, OP_IDLE, OP_FREQ = 0xF5, 0xF6, 0xF7, 0xF8, 0xF9
OP_AUX, OP_RESIZEDB, OP_EXPIRETIME_MS, OP_EXPIRETIME, OP_SELECTDB, OP_EOF = 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF

_TYPE_NAMES = {T_STRING: "string", T_LIST: "list", T_LIST_ZIPLIST: "list", T_LIST_QUICKLIST: "list",
               T_LIST_QUICKLIST_2: "list", T_SET: "set", T_SET_INTSET: "set", T_ZSET: "zset",
               T_ZSET_2: "zset", T_ZSET_ZIPLIST: "zset", T_ZSET_LISTPACK: "zset", T_HASH: "hash",
               T_HASH_ZIPMAP: "hash", T_HASH_ZIPLIST: "hash", T_HASH_LISTPACK: "hash"}
# What Redis's rdbLoadObject names in "<...> integrity check failed" for each packed type
_PACKED_NAMES = {T_HASH_ZIPMAP: "Zipmap", T_LIST_ZIPLIST: "List ziplist", T_SET_INTSET: "Intset",
                 T_ZSET_ZIPLIST: "Zset ziplist", T_HASH_ZIPLIST: "Hash ziplist", T_LIST_QUICKLIST: "Ziplist",
                 T_HASH_LISTPACK: "Hash listpack", T_ZSET_LISTPACK: "Zset listpack",
                 T_LIST_QUICKLIST_2: "Listpack", T_STREAM_LISTPACKS: "Stream listpack",
                 T_STREAM_LISTPACKS_2: "Stream listpack"}
_QUICKLIST_PLAIN, _QUICKLIST_PACKED = 1, 2
# quicklist.c: node size limits for negative list-max-listpack-size, the per-entry overhead
# estimate, and the safety limit for count-limited nodes.
_FILL_BYTES = (4096, 8192, 16384, 32768, 65536)
_SIZE_ESTIMATE_OVERHEAD = 8
_SIZE_SAFETY_LIMIT = 8192
_INF = float("inf")
_DIGIT_OR_MINUS = frozenset(b"-0123456789")


class RdbError(ValueError):
    """An RDB file or payload that cannot be loaded; the text says why."""


class PayloadError(RdbError):
    """A DUMP payload whose RDB version or checksum is wrong."""


@dataclass(frozen=True)
class Limits:
    """The encoding thresholds and switches in force (from the config)."""

    hash_entries: int = 512
    hash_value: int = 64
    zset_entries: int = 128
    zset_value: int = 64
    set_intset: int = 512
    list_fill: int = -2
    compress: bool = True
    # sanitize-dump-payload no: fields Redis checks only when sanitizing (a stream entry's
    # lp-count, a stream listpack's element count) are not checked (nothing relies on them)
    sanitize: bool = True

    @classmethod
    def from_config(cls, config: Any) -> Limits:
        return cls(config["hash-max-listpack-entries"], config["hash-max-listpack-value"],
                   config["zset-max-listpack-entries"], config["zset-max-listpack-value"],
                   config["set-max-intset-entries"], config["list-max-listpack-size"],
                   bool(config["rdbcompression"]), config["sanitize-dump-payload"] != "no")


# -- writing values -------------------------------------------------------------------------
def _length(n: int) -> bytes:
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80%b" % n.to_bytes(4, "big")
    return b"\x81%b" % n.to_bytes(8, "big")


_LENGTHS = [_length(n) for n in range(16384)]


def encode_length(n: int) -> bytes:
    return _LENGTHS[n] if n < 16384 else _length(n)


def encode_string(v: bytes, compress: bool) -> bytes:
    """A string as rdbSaveRawString writes it: integer, LZF or raw."""
    n = len(v)
    if n <= 11 and n and v[0] in _DIGIT_OR_MINUS and is_int(v):
        i = int(v)
        if -128 <= i <= 127:
            return b"\xc0%b" % i.to_bytes(1, "little", signed=True)
        if -32768 <= i <= 32767:
            return b"\xc1%b" % i.to_bytes(2, "little", signed=True)
        if -2147483648 <= i <= 2147483647:
            return b"\xc2%b" % i.to_bytes(4, "little", signed=True)
    if compress and n > 20:
        # Redis gives liblzf an output bound of n - 4 bytes; python-lzf passes its limit + 1.
        c = lzf.compress(v, n - 5)
        if c is not None:
            return b"".join((b"\xc3", encode_length(len(c)), encode_length(n), c))
    return b"".join((_LENGTHS[n] if n < 16384 else _length(n), v))


def quicklist_nodes(values: list[bytes], fill: int) -> list[list[bytes]]:
    """Cut a list's elements into nodes as Redis's quicklist fills them pushing at the tail."""
    nodes: list[list[bytes]] = []
    if fill < 0:
        limit = _FILL_BYTES[min(-fill, len(_FILL_BYTES)) - 1]
        count_limit = 0
    else:
        limit = 0
        count_limit = max(fill, 1)
    cur: list[bytes] = []
    size = 0
    for v in values:
        entry = lp_entry(v)
        if cur:
            new_size = size + len(v) + _SIZE_ESTIMATE_OVERHEAD
            if limit:
                fits = new_size <= limit
            else:
                fits = new_size <= _SIZE_SAFETY_LIMIT and len(cur) < count_limit
            if not fits:
                nodes.append(cur)
                cur = []
        if not cur:
            size = 7
        cur.append(entry)
        size += len(entry)
    if cur:
        nodes.append(cur)
    return nodes


def _double_text(score: float) -> bytes:
    """A score as Redis 7.0's listpack sorted sets keep it (d2string: integer or %.17g)."""
    if score in (_INF, -_INF):
        return b"inf" if score > 0 else b"-inf"
    if score.is_integer() and -4503599627370495 < score < 4503599627370496:
        return b"%d" % int(score)
    return b"%.17g" % score


def _blob(b: bytes, compress: bool) -> bytes:
    """A container's serialised form as rdbSaveRawString writes it: LZF or raw. (Never as an
    integer: listpack and intset headers hold zero bytes, which no integer text has.)"""
    n = len(b)
    if compress and n > 20:
        c = lzf.compress(b, n - 5)
        if c is not None:
            return b"".join((b"\xc3", encode_length(len(c)), encode_length(n), c))
    return b"".join((_LENGTHS[n] if n < 16384 else _length(n), b))


# Listpack entries of list elements (kept in their stored RESP form) and of sorted-set
# scores (as the text Redis's listpack holds), computed once per distinct short value.
_LIST_ENTRIES = EntryCache(lambda stored: lp_entry(decode_element(stored)), 24)
_SCORE_ENTRIES = EntryCache(lambda score: lp_entry(_double_text(score)), 0)
_lp_head = struct.Struct("<IH").pack
_pack_double = struct.Struct("<d").pack
_ENTRIES_OF = lp_entry


def _encode_string_value(value: bytes, limits: Limits) -> tuple[int, bytes]:
    return T_STRING, encode_string(value, limits.compress)


def _encode_list(value: ListValue, limits: Limits) -> tuple[int, bytes]:
    """A quicklist-2: one node when every element fits (the common case, decided from the
    sizes alone), else the nodes `quicklist_nodes` cuts."""
    entries = list(map(_LIST_ENTRIES.__getitem__, value))
    n = len(entries)
    size = sum(map(len, entries))
    # The fill check of the last element pushed, at the node's largest size; a stored
    # element is longer than its value.
    worst = 7 + size + _SIZE_ESTIMATE_OVERHEAD + max(map(len, value))
    fill = limits.list_fill
    if (worst <= _FILL_BYTES[min(-fill, len(_FILL_BYTES)) - 1] if fill < 0
            else n <= max(fill, 1) and worst <= _SIZE_SAFETY_LIMIT):
        lp = b"".join([_lp_head(size + 7, min(n, 65535)), *entries, b"\xff"])
        return T_LIST_QUICKLIST_2, b"\x01\x02%b" % _blob(lp, limits.compress)
    nodes = quicklist_nodes(list(map(decode_element, value)), fill)
    parts = [encode_length(len(nodes))]
    for node in nodes:
        parts.append(b"\x02")
        parts.append(_blob(listpack_encode_entries(node), limits.compress))
    return T_LIST_QUICKLIST_2, b"".join(parts)


def _encode_set(value: Set, limits: Limits) -> tuple[int, bytes]:
    if value.big:
        compress = limits.compress
        parts = [encode_length(len(value))]
        parts.extend([encode_string(m, compress) for m in value])
        return T_SET, b"".join(parts)
    return T_SET_INTSET, _blob(intset_encode(map(int, value)), limits.compress)


def _encode_zset(value: ZSet, limits: Limits) -> tuple[int, bytes]:
    if value.skiplist:
        compress = limits.compress
        items = value.items(0, len(value))
        parts = [encode_length(len(items))]
        for score, member in reversed(items):
            parts.append(encode_string(member, compress))
            parts.append(_pack_double(score))
        return T_ZSET_2, b"".join(parts)
    members, scores = value.columns()
    n = len(members)
    flat: list[bytes] = [b""] * (2 * n)
    flat[0::2] = map(lp_entry, members)
    flat[1::2] = map(_SCORE_ENTRIES.__getitem__, scores)
    body = b"".join(flat)
    return T_ZSET_LISTPACK, _blob(b"".join((_lp_head(len(body) + 7, min(2 * n, 65535)), body, b"\xff")), limits.compress)


def _encode_hash(value: Hash, limits: Limits) -> tuple[int, bytes]:
    if value.big:
        compress = limits.compress
        parts = [encode_length(len(value))]
        for f, v in value.items():
            parts.append(encode_string(f, compress))
            parts.append(encode_string(v, compress))
        return T_HASH, b"".join(parts)
    body = b"".join(map(_ENTRIES_OF, chain.from_iterable(value.items())))
    return T_HASH_LISTPACK, _blob(b"".join((_lp_head(len(body) + 7, min(2 * len(value), 65535)), body, b"\xff")),
                                  limits.compress)


def _encode_stream_value(value: Stream, limits: Limits) -> tuple[int, bytes]:
    return T_STREAM_LISTPACKS_2, _encode_stream(value, limits.compress)


_ENCODERS: dict[type, Callable[[Any, Limits], tuple[int, bytes]]] = {
    bytes: _encode_string_value, ListValue: _encode_list, Set: _encode_set, ZSet: _encode_zset,
    Hash: _encode_hash, Stream: _encode_stream_value}


def encode_value(value: Any, limits: Limits) -> tuple[int, bytes]:
    """(RDB type, serialised object) of a keyspace value."""
    encode = _ENCODERS.get(type(value))
    if encode is None:
        raise RdbError(f"no RDB encoding for values of type {type(value).__name__}")
    return encode(value, limits)


def _raw_id(sid: int) -> bytes:
    """An ID as streamEncodeID packs it: ms and seq, 8 bytes big-endian each."""
    return sid.to_bytes(16, "big")


def _id_lengths(sid: int) -> bytes:
    return b"".join((encode_length(sid >> 64), encode_length(sid & MAX64)))


def _stream_node_listpack(master: int, fields: tuple[bytes, ...], live: int, deleted: int,
                          entries: Any) -> bytes:
    """A node as Redis's listpack: the master entry (count, deleted, field count, fields, 0),
    then per entry flags, ms and seq deltas from the master ID, the values (SAMEFIELDS) or
    field count and pairs, and the lp-count closing the entry."""
    mms, mseq = master >> 64, master & MAX64
    items: list[bytes] = [b"%d" % live, b"%d" % deleted, b"%d" % len(fields), *fields, b"0"]
    for _, flags, sid, pairs in entries:
        seq_delta = ((sid & MAX64) - mseq) & MAX64
        if seq_delta >= 1 << 63:
            seq_delta -= 1 << 64
        items.append(b"%d" % flags)
        items.append(b"%d" % ((sid >> 64) - mms))
        items.append(b"%d" % seq_delta)
        n = len(pairs) >> 1
        if flags & 2:
            items.extend(pairs[1::2])
            items.append(b"%d" % (n + 3))
        else:
            items.append(b"%d" % n)
            items.extend(pairs)
            items.append(b"%d" % (2 * n + 4))
    return listpack_encode(items)


def _encode_stream(s: Stream, compress: bool) -> bytes:
    """RDB_TYPE_STREAM_LISTPACKS_2's body, as rdbSaveObject writes it in Redis 7.0."""
    parts = [encode_length(len(s.nodes))]
    for master, fields, live, deleted, entries in s.node_dump():
        parts.append(encode_string(_raw_id(master), compress))
        parts.append(encode_string(_stream_node_listpack(master, fields, live, deleted, entries), compress))
    parts.append(encode_length(s.length))
    parts.append(_id_lengths(s.last_id))
    parts.append(_id_lengths(s.first_id))
    parts.append(_id_lengths(s.max_deleted))
    parts.append(encode_length(s.entries_added))
    parts.append(encode_length(len(s.groups)))
    ms_time = struct.Struct("<q").pack
    for name in sorted(s.groups):
        g = s.groups[name]
        parts.append(encode_string(name, compress))
        parts.append(_id_lengths(g.last_id))
        parts.append(encode_length(MAX64 if g.entries_read is None else g.entries_read))
        parts.append(encode_length(len(g.pel)))
        for sid, nack in g.pel.items():
            parts.append(_raw_id(sid))
            parts.append(ms_time(nack.delivery_time))
            parts.append(encode_length(nack.delivery_count))
        parts.append(encode_length(len(g.consumers)))
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            parts.append(encode_string(cname, compress))
            parts.append(ms_time(c.seen_time))
            parts.append(encode_length(len(c.pel)))
            parts.extend(map(_raw_id, c.pel))
    return b"".join(parts)


def dump_payload(value: Any, limits: Limits) -> bytes:
    """DUMP's payload: type, object, RDB version (2 bytes LE), CRC-64 of all that (8 bytes LE)."""
    t, body = encode_value(value, limits)
    head = b"".join((bytes((t,)), body, RDB_VERSION.to_bytes(2, "little")))
    return b"".join((head, crc64(head).to_bytes(8, "little")))


# -- writing files --------------------------------------------------------------------------
_FLUSH_AT: Final = 1 << 20


class RdbWriter:
    """Writes an RDB file to a binary file object, keeping the running CRC-64. The file is
    built in one buffer and written (and checksummed) in pieces of about a megabyte."""

    def __init__(self, out: Any, limits: Limits, checksum: bool = True) -> None:
        self.out = out
        self.limits = limits
        self.checksum = checksum
        self.crc = 0
        self.buf = bytearray()
        self.buf += b"REDIS%04d" % RDB_VERSION

    def _flush(self) -> None:
        buf = self.buf
        if self.checksum:
            self.crc = crc64(buf, self.crc)
        self.out.write(buf)
        buf.clear()

    def aux(self, key: bytes, value: bytes) -> None:
        self.buf += b"".join((b"\xfa", encode_string(key, self.limits.compress), encode_string(value, self.limits.compress)))

    def function(self, code: bytes) -> None:
        self.buf += b"\xf5%b" % encode_string(code, self.limits.compress)

    def select_db(self, db: int, size: int, expires: int) -> None:
        self.buf += b"".join((b"\xfe", encode_length(db), b"\xfb", encode_length(size), encode_length(expires)))

    def key(self, key: bytes, value: Any, expire_ms: int | None = None, idle_s: int | None = None,
            freq: int | None = None) -> None:
        """One key with its expiry and LRU idle time or LFU counter."""
        buf = self.buf
        if expire_ms is not None:
            buf += b"\xfc%b" % expire_ms.to_bytes(8, "little", signed=True)
        if idle_s is not None:
            buf += b"\xf8%b" % encode_length(idle_s)
        elif freq is not None:
            buf += bytes((0xF9, freq))
        t, body = encode_value(value, self.limits)
        buf.append(t)
        buf += encode_string(key, self.limits.compress)
        buf += body
        if len(buf) >= _FLUSH_AT:
            self._flush()

    def keys(self, items: Iterable[tuple[bytes, Any]], expires: dict[bytes, int],
             progress: Callable[[int], None] | None = None, done: int = 0) -> int:
        """`key` for each (key, value) of items with its expiry from expires (no LRU/LFU
        data), in one loop: short keys and string values that are not integers (the common
        case) are written raw right here. Calls progress(keys written so far, done included)
        every 1024 keys; returns that count at the end."""
        limits = self.limits
        compress = limits.compress
        encoders = _ENCODERS
        lengths = _LENGTHS
        digit = _DIGIT_OR_MINUS
        expire_of = expires.get if expires else None
        flush_at = _FLUSH_AT
        buf = self.buf
        n = done
        for key, value in items:
            if expire_of is not None:
                when = expire_of(key)
                if when is not None:
                    buf += b"\xfc%b" % when.to_bytes(8, "little", signed=True)
            size = len(key)
            if size <= 20 and (not size or key[0] not in digit):
                ekey = b"".join((lengths[size], key))
            else:
                ekey = encode_string(key, compress)
            if type(value) is bytes:
                buf.append(T_STRING)
                buf += ekey
                size = len(value)
                if size <= 20 and (not size or value[0] not in digit):
                    buf += lengths[size]
                    buf += value
                else:
                    buf += encode_string(value, compress)
            else:
                encode = encoders.get(type(value))
                if encode is None:
                    raise RdbError(f"no RDB encoding for values of type {type(value).__name__}")
                t, body = encode(value, limits)
                buf.append(t)
                buf += ekey
                buf += body
            n += 1
            if not n & 1023:
                if len(buf) >= flush_at:
                    self._flush()
                if progress is not None:
                    progress(n)
        return n

    def finish(self) -> None:
        self.buf.append(OP_EOF)
        self._flush()
        self.out.write((self.crc if self.checksum else 0).to_bytes(8, "little"))


# -- reading --------------------------------------------------------------------------------
class _Truncated(Exception):
    pass


class _Reader:
    __slots__ = ("data", "pos", "size")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.size = len(data)

    def read(self, n: int) -> bytes:
        p = self.pos
        end = p + n
        if end > self.size:
            raise _Truncated
        self.pos = end
        return self.data[p:end]

    def byte(self) -> int:
        p = self.pos
        if p >= self.size:
            raise _Truncated
        self.pos = p + 1
        return self.data[p]

    def length(self) -> tuple[int, bool]:
        """(length, True if it is a special string encoding instead)."""
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.read(4), "big"), False
        if b == 0x81:
            return int.from_bytes(self.read(8), "big"), False
        raise RdbError(f"unknown length encoding 0x{b:02x}")

    def plain_length(self) -> int:
        n, special = self.length()
        if special:
            raise RdbError("a length was expected, found a string encoding")
        return n

    def string(self) -> bytes:
        data = self.data
        p = self.pos
        b = data[p]  # past the end: IndexError, reported as a short read
        if b < 0x40:  # the common case: a raw string shorter than 64 bytes
            end = p + 1 + b
            if end > self.size:
                raise _Truncated
            self.pos = end
            return data[p + 1:end]
        return self._string()

    def _string(self) -> bytes:
        n, special = self.length()
        if not special:
            return self.read(n)
        if n == 0:
            return b"%d" % int.from_bytes(self.read(1), "little", signed=True)
        if n == 1:
            return b"%d" % int.from_bytes(self.read(2), "little", signed=True)
        if n == 2:
            return b"%d" % int.from_bytes(self.read(4), "little", signed=True)
        if n == 3:
            clen = self.plain_length()
            ulen = self.plain_length()
            comp = self.read(clen)
            try:
                out = lzf.decompress(comp, ulen) if ulen else b""
            except ValueError:
                out = None
            if out is None or len(out) != ulen:
                raise RdbError("invalid LZF compressed string")
            return out
        raise RdbError(f"unknown string encoding {n}")


@dataclass
class LoadedDb:
    """One database of a parsed file: values, expiries (ms), and the LRU idle seconds / LFU
    counters of the keys that had them."""

    data: dict[bytes, Any] = field(default_factory=dict)
    expires: dict[bytes, int] = field(default_factory=dict)
    idle: dict[bytes, int] = field(default_factory=dict)
    freq: dict[bytes, int] = field(default_factory=dict)


@dataclass
class RdbContents:
    version: int = RDB_VERSION
    aux: dict[bytes, bytes] = field(default_factory=dict)
    functions: list[bytes] = field(default_factory=list)
    dbs: dict[int, LoadedDb] = field(default_factory=dict)
    keys_expired: int = 0
    empty_keys_skipped: int = 0
    end: int = 0  # the offset after the file's last byte (an AOF preamble's commands follow)

    def key_count(self) -> int:
        return sum(len(db.data) for db in self.dbs.values())


def _check_pairs(values: list[bytes]) -> None:
    if len(values) % 2:
        raise RdbError("odd number of elements in a hash or sorted set")


def _build_hash(flat: list[bytes], limits: Limits) -> Hash:
    """The hash of alternating fields and values (an even count, checked by the caller)."""
    h = Hash.from_flat(flat)
    if len(h) * 2 != len(flat):
        raise RdbError("Duplicate hash fields detected")
    h.big = len(h) > limits.hash_entries or max(map(len, flat)) > limits.hash_value
    return h


def _build_zset(items: list[tuple[float, bytes]], limits: Limits, from_skiplist: bool) -> ZSet:
    n = len(items)
    if len({m for _, m in items}) != n:
        raise RdbError("Duplicate zset fields detected")
    if from_skiplist:
        skiplist = n > limits.zset_entries or any(len(m) > limits.zset_value for _, m in items)
    else:
        skiplist = n > limits.zset_entries
    return ZSet.build(items, skiplist)


def _zset_from_flat(flat: list[bytes], limits: Limits) -> ZSet | None:
    """The sorted set of a listpack's or ziplist's alternating members and scores."""
    _check_pairs(flat)
    if not flat:
        return None
    members = flat[0::2]
    try:
        scores = list(map(float, flat[1::2]))
    except ValueError:
        raise RdbError("invalid sorted set score") from None
    if any(map(math.isnan, scores)):
        raise RdbError("NaN score in a sorted set")
    if len(set(members)) != len(members):
        raise RdbError("Duplicate zset fields detected")
    return ZSet.build(list(zip(scores, members)), len(members) > limits.zset_entries)


def _build_set(members: list[bytes], limits: Limits) -> Set:
    s = Set.build(members, limits.set_intset)
    if len(s) != len(members):
        raise RdbError("Duplicate set members detected")
    return s


def _parse_score_text(r: _Reader) -> float:
    n = r.byte()
    if n == 253:
        return float("nan")
    if n == 254:
        return float("inf")
    if n == 255:
        return float("-inf")
    return _to_double(r.read(n))


def _to_double(text: bytes) -> float:
    try:
        return float(text)
    except ValueError:
        raise RdbError("invalid sorted set score") from None


def _read_raw_id(r: _Reader) -> int:
    return int.from_bytes(r.read(16), "big")


def _read_id(r: _Reader) -> int:
    ms = r.plain_length()
    seq = r.plain_length()
    if ms > MAX64 or seq > MAX64:
        raise RdbError("stream ID out of range")
    return make_id(ms, seq)


def _lp_int(v: bytes) -> int:
    try:
        return int(v)
    except ValueError:
        raise RdbError("stream listpack holds a non-integer where an integer belongs") from None


def _stream_node_entries(master: int, flat: list[bytes], strict: bool
                         ) -> tuple[tuple[bytes, ...], int, list[tuple[bool, int, list[bytes]]]]:
    """(master fields, live count, entries) of a node's listpack (see `_stream_node_listpack`);
    strict: the entries' lp-counts are checked too."""
    try:
        live, deleted, nf = _lp_int(flat[0]), _lp_int(flat[1]), _lp_int(flat[2])
        fields = tuple(flat[3:3 + nf])
        if len(fields) != nf or flat[3 + nf] != b"0":
            raise RdbError("bad stream node master entry")
        pos = 4 + nf
        mms, mseq = master >> 64, master & MAX64
        entries: list[tuple[bool, int, list[bytes]]] = []
        while pos < len(flat):
            flags = _lp_int(flat[pos])
            ms = mms + _lp_int(flat[pos + 1])
            seq = (mseq + _lp_int(flat[pos + 2])) & MAX64
            pos += 3
            if flags & 2:
                values = flat[pos:pos + nf]
                pairs = [x for fv in zip(fields, values, strict=True) for x in fv]
                pos += nf
                expect = nf + 3
            else:
                n = _lp_int(flat[pos])
                pairs = flat[pos + 1:pos + 1 + 2 * n]
                if len(pairs) != 2 * n:
                    raise RdbError("stream entry cut short")
                pos += 1 + 2 * n
                expect = 2 * n + 4
            if _lp_int(flat[pos]) != expect and strict:
                raise RdbError("bad stream entry lp-count")
            pos += 1
            if not 0 <= ms <= MAX64:
                raise RdbError("stream entry ID out of range")
            entries.append((bool(flags & 1), make_id(ms, seq), pairs))
    except (IndexError, ValueError) as e:
        raise RdbError(f"Stream listpack integrity check failed: {e}") from None
    if sum(1 for d, _, _ in entries if d) != deleted or len(entries) - deleted != live:
        raise RdbError("stream node entry counts do not match its entries")
    return fields, live, entries


def _load_stream(r: _Reader, v2: bool, strict: bool) -> Stream:
    """RDB_TYPE_STREAM_LISTPACKS (v1: Redis 5/6) and _2 (Redis 7.0); a v1 stream gets what
    Redis 7.0 derives on load: first ID from the first entry, entries-added = length, each
    group's entries-read estimated."""
    s = Stream()
    for _ in range(r.plain_length()):
        key = r.string()
        if len(key) != 16:
            raise RdbError("stream node key is not a 128-bit ID")
        master = int.from_bytes(key, "big")
        try:
            flat = listpack_decode(r.string(), strict)
        except EncodingError as e:
            raise RdbError(f"Stream listpack integrity check failed: {e}") from None
        if not flat:
            raise RdbError("Empty listpack inside stream")
        fields, live, entries = _stream_node_entries(master, flat, strict)
        if not live:
            raise RdbError("stream node with no live entry")
        if s.firsts and master <= s.firsts[-1]:
            raise RdbError("stream nodes out of order")
        s.add_node(master, fields, entries)
    length = r.plain_length()
    if length != s.length:
        raise RdbError("stream length does not match its entries")
    s.last_id = _read_id(r)
    if v2:
        s.first_id = _read_id(r)
        s.max_deleted = _read_id(r)
        s.entries_added = r.plain_length()
    else:
        s.first_id = s.edge_id(True, True)  # the maximum ID when empty, as Redis 7.0
        s.entries_added = s.length
    groups: list[Group] = []
    for _ in range(r.plain_length()):
        name = r.string()
        last = _read_id(r)
        entries_read: int | None = None
        if v2:
            n = r.plain_length()
            entries_read = None if n == MAX64 else n
        g = Group(last, entries_read)
        if name in s.groups:
            raise RdbError(f"Duplicated consumer group name {name.decode('utf-8', 'replace')}")
        s.groups[name] = g
        groups.append(g)
        for _ in range(r.plain_length()):
            sid = _read_raw_id(r)
            nack = Nack(None, struct.unpack("<q", r.read(8))[0])
            nack.delivery_count = r.plain_length()
            if sid in g.pel:
                raise RdbError("Duplicated global PEL entry loading stream consumer group")
            g.pel[sid] = nack
        for _ in range(r.plain_length()):
            cname = r.string()
            seen = struct.unpack("<q", r.read(8))[0]
            c = Consumer(cname, seen)
            if cname in g.consumers:
                raise RdbError("Duplicate stream consumer detected.")
            g.consumers[cname] = c
            for _ in range(r.plain_length()):
                sid = _read_raw_id(r)
                # Typed apart from the `nack` above: compiled, a name holds one type (None included or not).
                owned: Nack | None = g.pel.get(sid)
                if owned is None:
                    raise RdbError("Consumer entry not found in group global PEL")
                if owned.consumer is not None:
                    raise RdbError("Duplicated consumer PEL entry loading a stream consumer group")
                owned.consumer = c
                c.pel[sid] = owned
        if strict and any(nack.consumer is None for nack in g.pel.values()):
            raise RdbError("Stream CG PEL entry without consumer")
    if not v2:
        for g in groups:
            g.entries_read = s.estimate_distance(g.last_id)
    return s


# The stored (RESP bulk) form of list elements, computed once per distinct short value.
_STORED = EntryCache(encode_element, 16)


def _list_of(values: list[bytes]) -> ListValue | None:
    return ListValue(map(_STORED.__getitem__, values)) if values else None


def _load_quicklist(r: _Reader, t: int, limits: Limits) -> ListValue | None:
    values: list[bytes] = []
    v2 = t == T_LIST_QUICKLIST_2
    for _ in range(r.plain_length()):
        container = r.plain_length() if v2 else _QUICKLIST_PACKED
        blob = r.string()
        if not blob:
            raise RdbError("empty quicklist node")
        if container == _QUICKLIST_PACKED:
            values.extend(listpack_decode(blob) if v2 else ziplist_decode(blob))
        elif container == _QUICKLIST_PLAIN:
            values.append(blob)
        else:
            raise RdbError(f"unknown quicklist node container {container}")
    return _list_of(values)


def _load_list(r: _Reader, t: int, limits: Limits) -> ListValue | None:
    return _list_of([r.string() for _ in range(r.plain_length())])


def _load_list_ziplist(r: _Reader, t: int, limits: Limits) -> ListValue | None:
    return _list_of(ziplist_decode(r.string()))


def _load_set(r: _Reader, t: int, limits: Limits) -> Set | None:
    members = [r.string() for _ in range(r.plain_length())]
    return _build_set(members, limits) if members else None


def _load_intset(r: _Reader, t: int, limits: Limits) -> Set | None:
    members = intset_decode(r.string())  # distinct integers: checked by the decoder
    if not members:
        return None
    s = Set(members)
    s.big = len(s) > limits.set_intset
    return s


def _load_zset(r: _Reader, t: int, limits: Limits) -> ZSet | None:
    items: list[tuple[float, bytes]] = []
    unpack = struct.Struct("<d").unpack
    for _ in range(r.plain_length()):
        member = r.string()
        score = unpack(r.read(8))[0] if t == T_ZSET_2 else _parse_score_text(r)
        if math.isnan(score):
            raise RdbError("NaN score in a sorted set")
        items.append((score, member))
    return _build_zset(items, limits, True) if items else None


def _load_zset_listpack(r: _Reader, t: int, limits: Limits) -> ZSet | None:
    blob = r.string()
    return _zset_from_flat(listpack_decode(blob) if t == T_ZSET_LISTPACK else ziplist_decode(blob), limits)


def _load_hash(r: _Reader, t: int, limits: Limits) -> Hash | None:
    flat = []
    for _ in range(r.plain_length()):
        flat.append(r.string())
        flat.append(r.string())
    return _build_hash(flat, limits) if flat else None


def _load_hash_listpack(r: _Reader, t: int, limits: Limits) -> Hash | None:
    blob = r.string()
    flat = (listpack_decode(blob) if t == T_HASH_LISTPACK else
            ziplist_decode(blob) if t == T_HASH_ZIPLIST else zipmap_decode(blob))
    _check_pairs(flat)
    if not flat:
        return None
    try:
        return _build_hash(flat, limits)
    except RdbError:
        raise RdbError(_PACKED_HASH_DUPS[t]) from None


_PACKED_HASH_DUPS = {T_HASH_ZIPMAP: "Hash zipmap with dup elements",
                     T_HASH_ZIPLIST: "Hash ziplist integrity check failed: ziplist with dup elements",
                     T_HASH_LISTPACK: "Hash listpack integrity check failed: listpack with dup elements"}


def _load_module(r: _Reader, t: int, limits: Limits) -> None:
    raise RdbError("module values are not supported")


def _load_stream_value(r: _Reader, t: int, limits: Limits) -> Stream:
    return _load_stream(r, t == T_STREAM_LISTPACKS_2, limits.sanitize)


_LOADERS: dict[int, Callable[[_Reader, int, Limits], Any]] = {
    T_LIST_QUICKLIST_2: _load_quicklist, T_LIST_QUICKLIST: _load_quicklist, T_LIST: _load_list,
    T_LIST_ZIPLIST: _load_list_ziplist, T_SET: _load_set, T_SET_INTSET: _load_intset,
    T_ZSET: _load_zset, T_ZSET_2: _load_zset, T_ZSET_ZIPLIST: _load_zset_listpack,
    T_ZSET_LISTPACK: _load_zset_listpack, T_HASH: _load_hash, T_HASH_ZIPMAP: _load_hash_listpack,
    T_HASH_ZIPLIST: _load_hash_listpack, T_HASH_LISTPACK: _load_hash_listpack,
    T_MODULE_PRE: _load_module, T_MODULE_2: _load_module, T_STREAM_LISTPACKS: _load_stream_value,
    T_STREAM_LISTPACKS_2: _load_stream_value,
}


def _load_object(r: _Reader, t: int, limits: Limits) -> Any:
    """The value of type t at the reader's position, or None for an empty container."""
    if t == T_STRING:
        return r.string()
    load = _LOADERS.get(t)
    if load is None:
        raise RdbError(f"Unknown RDB encoding type {t}")
    return load(r, t, limits)


def parse_rdb(data: bytes, limits: Limits, now_ms: int, databases: int = 16,
              verify_checksum: bool = True, per_key: Callable[[int], None] | None = None) -> RdbContents:
    """Parse a whole RDB file (everything is checked before anything is returned).
    per_key(n) is called after the n-th key (the key-load-delay testing aid)."""
    r = _Reader(data)
    try:
        return _parse(r, data, limits, now_ms, databases, verify_checksum, per_key)
    except _Truncated:
        raise RdbError(f"Short read loading DB: the file ends at byte {r.size} inside a record "
                       f"(truncated or corrupt)") from None
    except IndexError:
        if r.pos >= r.size:
            raise RdbError(f"Short read loading DB: the file ends at byte {r.size} inside a record "
                           f"(truncated or corrupt)") from None
        raise RdbError(f"corrupt data near byte {r.pos}") from None
    except (EncodingError, struct.error, OverflowError) as e:
        raise RdbError(f"corrupt data near byte {r.pos}: {e or type(e).__name__}") from None
    except RdbError as e:
        raise RdbError(f"{e} (near byte {r.pos})") from None


def _parse(r: _Reader, data: bytes, limits: Limits, now_ms: int, databases: int,
           verify_checksum: bool, per_key: Callable[[int], None] | None) -> RdbContents:
    head = r.read(9) if r.size >= 9 else b""
    if not head.startswith(b"REDIS") or not head[5:].isdigit():
        raise RdbError("Wrong signature trying to load DB from file")
    version = int(head[5:])
    if version < 1 or version > RDB_VERSION:
        raise RdbError(f"Can't handle RDB format version {version}")
    out = RdbContents(version=version)
    db: LoadedDb | None = None
    expire: int | None = None
    idle: int | None = None
    freq: int | None = None
    read_string = r.string
    loaders = _LOADERS
    values: dict[bytes, Any] = {}
    value: Any
    loaded = 0
    while True:
        t = data[r.pos]
        r.pos += 1
        if t < 0xF5:  # a key of type t
            key = read_string()
            if t:
                # The encodings Redis 7.0 writes are called directly (native calls when
                # compiled); the rest through the table.
                try:
                    if t == T_HASH_LISTPACK:
                        value = _load_hash_listpack(r, t, limits)
                    elif t == T_LIST_QUICKLIST_2:
                        value = _load_quicklist(r, t, limits)
                    elif t == T_ZSET_LISTPACK:
                        value = _load_zset_listpack(r, t, limits)
                    elif t == T_SET_INTSET:
                        value = _load_intset(r, t, limits)
                    else:
                        load = loaders.get(t)
                        if load is None:
                            raise RdbError(f"Unknown RDB encoding type {t}")
                        value = load(r, t, limits)
                except EncodingError as e:
                    raise RdbError(_integrity_failed(t, e)) from None
            else:
                value = read_string()
            if db is None:
                db = out.dbs.setdefault(0, LoadedDb())
                values = db.data
            if value is None:
                out.empty_keys_skipped += 1
                if out.empty_keys_skipped <= 10:
                    log.warning("rdbLoadObject skipping empty key: %s (%s)", key.decode("utf-8", "replace"),
                                _TYPE_NAMES.get(t, str(t)))
            elif expire is not None and expire < now_ms:
                out.keys_expired += 1
            else:
                n = len(values)
                values[key] = value
                if len(values) == n:
                    raise RdbError(f"duplicate key '{key.decode('utf-8', 'replace')}'")
                if expire is not None:
                    db.expires[key] = expire
                if idle is not None:
                    db.idle[key] = idle
                if freq is not None:
                    db.freq[key] = freq
            if expire is not None or idle is not None or freq is not None:
                expire = idle = freq = None
            if per_key is not None:
                loaded += 1
                per_key(loaded)
            continue
        if t == OP_EXPIRETIME_MS:
            expire = int.from_bytes(r.read(8), "little", signed=True)
        elif t == OP_EXPIRETIME:
            expire = int.from_bytes(r.read(4), "little", signed=True) * 1000
        elif t == OP_IDLE:
            idle = r.plain_length()
        elif t == OP_FREQ:
            freq = r.byte()
        elif t == OP_AUX:
            k = read_string()
            out.aux[k] = read_string()
        elif t == OP_RESIZEDB:
            r.plain_length()
            r.plain_length()
        elif t == OP_SELECTDB:
            index = r.plain_length()
            if index >= databases:
                raise RdbError(f"Data file was created with a Redis server configured to handle more "
                               f"than {databases} databases")
            db = out.dbs.setdefault(index, LoadedDb())
            values = db.data
        elif t == OP_FUNCTION2:
            out.functions.append(read_string())
        elif t == OP_FUNCTION_PRE:
            raise RdbError("Pre-release function format not supported")
        elif t == OP_MODULE_AUX:
            raise RdbError("module auxiliary data is not supported (no modules)")
        else:  # OP_EOF
            break
    if version >= 5:
        end = r.pos
        stored = int.from_bytes(r.read(8), "little")
        if verify_checksum and stored:
            actual = crc64(data[:end])
            if actual != stored:
                raise RdbError(f"Wrong RDB checksum expected: ({stored:x}) got ({actual:x}): RDB CRC error")
    out.end = r.pos
    loaded_keys = out.key_count()
    if out.empty_keys_skipped:
        log.warning("Done loading RDB, keys loaded: %d, keys expired: %d, empty keys skipped: %d.",
                    loaded_keys, out.keys_expired, out.empty_keys_skipped)
    else:
        log.info("Done loading RDB, keys loaded: %d, keys expired: %d.", loaded_keys, out.keys_expired)
    return out


def _integrity_failed(t: int, e: EncodingError) -> str:
    return f"{_PACKED_NAMES.get(t, 'Value')} integrity check failed: {e}"


def restore_payload(payload: bytes, limits: Limits, verify_checksum: bool = True) -> Any:
    """The value of a DUMP payload. PayloadError: version or checksum wrong; RdbError: bad data
    (including an empty container)."""
    if len(payload) < 10:
        raise PayloadError("payload too short")
    footer = payload[-10:]
    if int.from_bytes(footer[:2], "little") > RDB_VERSION:
        raise PayloadError("payload from a newer RDB version")
    if verify_checksum and crc64(payload[:-8]) != int.from_bytes(footer[2:], "little"):
        raise PayloadError("payload checksum mismatch")
    r = _Reader(payload[:-10])
    t = -1
    try:
        t = r.byte()
        value = _load_object(r, t, limits)
    except EncodingError as e:
        raise RdbError(_integrity_failed(t, e)) from None
    except (_Truncated, IndexError, struct.error, OverflowError):
        raise RdbError("bad data format") from None
    if value is None:
        raise RdbError("empty value")
    return value

