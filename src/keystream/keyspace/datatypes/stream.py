"""The Redis stream value (t_stream.c's data structure): entries packed per node, consumer groups.

IDs are single ints, `(ms << 64) | seq`, so they compare and sort as Redis's 128-bit IDs do;
`format_id` renders one as `ms-seq`.

Entries live in nodes, as Redis's listpacks in its radix tree. A node has a master ID (the
ID of the first entry ever put in it) and master fields (that entry's field names); its
entries are packed one after the other in one `bytearray`:

    flags (1 byte: DELETED=1, SAMEFIELDS=2)
    varint ms delta (ms - master ms)
    varint seq: seq - master seq when the ms delta is 0, else seq itself
    SAMEFIELDS: for each master field, the value as varint length + bytes
    otherwise:  varint field count, then field, value, field, value ... (varint length + bytes)

Entries with the master fields (the common case: every entry of a stream has the same
fields) store their values only. Deleting an entry marks it DELETED in place, as Redis
does; a node with no live entry left is dropped. The nodes are kept in a list ordered by
master ID with a parallel list of master IDs (IDs only grow, so new nodes go at the end and
a bisect finds the node of an ID: an ordered index over node first-IDs, as the radix
tree's). A new node starts when the last one reaches `stream-node-max-entries` entries
(live and deleted) or when `stream-node-max-bytes` would be reached: the byte count used
for that is the size the node's listpack would have in Redis (`_lp_entry_size`), so nodes
split where Redis's do, which XTRIM ~ and XINFO's radix-tree-keys show.

Reads reply from a per-node cache of the live entries already encoded as RESP arrays (`[ID,
[field, value, ...]]`, the same bytes in RESP2 and RESP3), with their IDs for bisecting: built
when a node is first read, extended by appends, dropped when an entry of the node is deleted.
At most `ENCODED_NODES_MAX` nodes (all streams together) keep one, the oldest built dropped
first, so reading a stream does not double its memory while the nodes being read (usually the
tail) answer XRANGE/XREAD by joining bytes.

Consumer groups keep Redis's state: last delivered ID, entries-read (None when unknown,
Redis's SCG_INVALID_ENTRIES_READ), a pending entries list (PEL: ID -> `Nack`, in ID order)
and consumers (each with its own PEL sharing the Nack objects, and a seen time). The lag
and entries-read computations follow Redis 7.0 (`estimate_distance`, `lag`).

Deliberately not here: parsing, replies, propagation, blocking (commands/streams.py).
Times are passed in (ms) by the caller; nothing reads a clock.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

from sortedcontainers import SortedDict

from keystream.keyspace.db import register_type

__all__ = [
    "ID_MAX",
    "MAX64",
    "Consumer",
    "Group",
    "Nack",
    "Stream",
    "format_id",
    "make_id",
    "rax_node_count",
]

MAX64 = 2**64 - 1
ID_MAX = (MAX64 << 64) | MAX64
_DELETED = 1
_SAMEFIELDS = 2
# Redis refuses an entry whose fields and values total more than this (STREAM_LISTPACK_MAX_SIZE).
LISTPACK_MAX_SIZE = 1 << 30


def make_id(ms: int, seq: int) -> int:
    return (ms << 64) | seq


def format_id(sid: int) -> bytes:
    return b"%d-%d" % (sid >> 64, sid & MAX64)


# -- listpack sizes (what a Redis node would take: decides where nodes split) ------------
def _backlen(n: int) -> int:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def _lp_int_size(v: int) -> int:
    if 0 <= v <= 127:
        enc = 1
    elif -4096 <= v <= 4095:
        enc = 2
    elif -32768 <= v <= 32767:
        enc = 3
    elif -8388608 <= v <= 8388607:
        enc = 4
    elif -2147483648 <= v <= 2147483647:
        enc = 5
    else:
        enc = 9
    return enc + 1  # +1: the backlen of an encoding this short


def _as_lp_int(s: bytes) -> int | None:
    """The int a listpack would store s as (lpStringToInt64: canonical decimal only), or None."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    if s == b"0":
        return 0
    body = s[1:] if s[:1] == b"-" else s
    if not body or not body.isdigit() or body[:1] == b"0":
        return None
    v = int(s)
    if -(2**63) <= v < 2**63:
        return v
    return None


def _lp_entry_size(s: bytes) -> int:
    n = len(s)
    if n and (s[0] > 57 or s[0] < 45 or s[0] == 46 or s[0] == 47) and n < 64:  # cannot be an integer
        return n + 2
    v = _as_lp_int(s)
    if v is not None:
        return _lp_int_size(v)
    enc = 1 + n if n < 64 else (2 + n if n < 4096 else 5 + n)
    return enc + _backlen(enc)


# -- varints ---------------------------------------------------------------------------------
def _put_varint(buf: bytearray, n: int) -> None:
    while n >= 0x80:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def _get_varint(buf: bytearray, pos: int) -> tuple[int, int]:
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    pos += 1
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _encode_entry(sid: int, pairs: list[bytes]) -> bytes:
    """An entry as its reply: the RESP array [ID, [field, value, ...]] (same in RESP2 and RESP3)."""
    sid_b = b"%d-%d" % (sid >> 64, sid & MAX64)
    parts = [b"*2\r\n$%d\r\n%s\r\n*%d\r\n" % (len(sid_b), sid_b, len(pairs))]
    for v in pairs:
        parts.append(b"$%d\r\n%s\r\n" % (len(v), v))
    return b"".join(parts)


# Nodes whose entries are cached in reply form, oldest first (bounded: see `_Node.encoded`).
_ENCODED: deque[_Node] = deque()
ENCODED_NODES_MAX = 1024


class _Node:
    """One packed node (a Redis listpack): see the module docstring."""

    __slots__ = (
        "buf",
        "deleted",
        "enc",
        "entry_bytes",
        "field_list",
        "fields",
        "last",
        "live",
        "master",
        "master_bytes",
    )

    def __init__(self, master: int, fields: tuple[bytes, ...]) -> None:
        self.master = master
        self.fields = fields
        self.field_list = list(fields)
        self.buf = bytearray()
        self.live = 0
        self.deleted = 0
        self.last = master  # the ID of the last entry, deleted or not
        # Redis listpack bytes: master fields + their count + terminator, and the entries
        self.master_bytes = _lp_int_size(len(fields)) + sum(map(_lp_entry_size, fields)) + _lp_int_size(0)
        self.entry_bytes = 0
        # (IDs, replies) of the live entries while the node is in the bounded reply cache
        self.enc: tuple[list[int], list[bytes]] | None = None

    def lp_bytes(self) -> int:
        """The size Redis's listpack of this node would have."""
        return 7 + _lp_int_size(self.live) + _lp_int_size(self.deleted) + self.master_bytes + self.entry_bytes

    def append(self, sid: int, pairs: list[bytes]) -> None:
        buf = self.buf
        n = len(pairs) >> 1
        same = pairs[0::2] == self.field_list
        master = self.master
        ms_delta = (sid >> 64) - (master >> 64)
        seq = sid & MAX64
        seq_delta = seq - (master & MAX64)
        buf.append(_SAMEFIELDS if same else 0)
        if ms_delta < 0x80:
            buf.append(ms_delta)
            size = 4  # the flags and the ms delta, 2 listpack bytes each
        else:
            _put_varint(buf, ms_delta)
            size = 2 + _lp_int_size(ms_delta)
        stored_seq = seq_delta if ms_delta == 0 else seq
        if stored_seq < 0x80:
            buf.append(stored_seq)
        else:
            _put_varint(buf, stored_seq)
        size += 2 if 0 <= seq_delta < 0x80 else _lp_int_size(
            seq_delta if seq_delta >= -(2**63) else seq_delta + 2**64)
        if same:
            size += 2 if n + 3 < 0x80 else _lp_int_size(n + 3)
            values = pairs[1::2]
        else:
            _put_varint(buf, n)
            size += _lp_int_size(n) + _lp_int_size(2 * n + 4)
            values = pairs
        # each value: varint length + bytes; what it costs in a listpack (inlined: hot path)
        for v in values:
            k = len(v)
            if k < 0x80:
                buf.append(k)
            else:
                _put_varint(buf, k)
            buf += v
            if k and k < 64 and (v[0] > 57 or v[0] < 45 or v[0] == 46 or v[0] == 47):
                size += k + 2
            else:
                size += _lp_entry_size(v)
        self.entry_bytes += size
        self.live += 1
        self.last = sid
        enc = self.enc
        if enc is not None:
            enc[0].append(sid)
            enc[1].append(_encode_entry(sid, pairs))

    def encoded(self) -> tuple[list[int], list[bytes]]:
        """The live entries' IDs and replies. Built on first use; at most ENCODED_NODES_MAX
        nodes keep theirs (the oldest built is dropped first), so a stream read from end to end
        does not double its memory."""
        enc = self.enc
        if enc is None:
            ids: list[int] = []
            replies: list[bytes] = []
            for _, _, sid, pairs in self.entries():
                ids.append(sid)
                replies.append(_encode_entry(sid, pairs))
            enc = self.enc = (ids, replies)
            _ENCODED.append(self)
            while len(_ENCODED) > ENCODED_NODES_MAX:
                _ENCODED.popleft().enc = None
        return enc

    def entries(self, with_deleted: bool = False) -> Iterator[tuple[int, int, int, list[bytes]]]:
        """(position of the flags byte, flags, ID, [field, value, ...]) of each entry, in order."""
        buf = self.buf
        end = len(buf)
        pos = 0
        master = self.master
        mms = master >> 64
        mseq = master & MAX64
        fields = self.fields
        nf = len(fields)
        while pos < end:
            start = pos
            flags = buf[pos]
            ms_delta = buf[pos + 1]
            if ms_delta < 0x80:
                pos += 2
            else:
                ms_delta, pos = _get_varint(buf, pos + 1)
            sq = buf[pos]
            if sq < 0x80:
                pos += 1
            else:
                sq, pos = _get_varint(buf, pos)
            sid = ((mms + ms_delta) << 64) | (mseq + sq if ms_delta == 0 else sq)
            if flags & _SAMEFIELDS:
                count = nf
                out: list[bytes] = [b""] * (2 * nf)
                for i in range(nf):
                    n = buf[pos]
                    if n < 0x80:
                        pos += 1
                    else:
                        n, pos = _get_varint(buf, pos)
                    out[2 * i] = fields[i]
                    out[2 * i + 1] = bytes(buf[pos:pos + n])
                    pos += n
            else:
                count, pos = _get_varint(buf, pos)
                out = []
                for _ in range(2 * count):
                    n = buf[pos]
                    if n < 0x80:
                        pos += 1
                    else:
                        n, pos = _get_varint(buf, pos)
                    out.append(bytes(buf[pos:pos + n]))
                    pos += n
            if with_deleted or not flags & _DELETED:
                yield start, flags, sid, out

    def ids(self) -> list[tuple[int, int, int]]:
        """(position, flags, ID) of every entry (deleted ones too), without copying values."""
        return [(p, f, i) for p, f, i, _ in self.entries(True)]

    def mark_deleted(self, pos: int) -> None:
        self.buf[pos] |= _DELETED
        self.enc = None
        self.live -= 1
        self.deleted += 1

    def copy(self) -> _Node:
        n = _Node(self.master, self.fields)
        n.buf = bytearray(self.buf)
        n.live = self.live
        n.deleted = self.deleted
        n.last = self.last
        n.entry_bytes = self.entry_bytes
        return n


class Nack:
    """A pending entry: who it was delivered to, when (ms), how many times."""

    __slots__ = ("consumer", "delivery_count", "delivery_time")

    def __init__(self, consumer: Consumer | None, now_ms: int) -> None:
        self.consumer = consumer
        self.delivery_time = now_ms
        self.delivery_count = 1


class Consumer:
    __slots__ = ("name", "pel", "seen_time")

    def __init__(self, name: bytes, now_ms: int) -> None:
        self.name = name
        self.pel: SortedDict = SortedDict()  # ID -> Nack (shared with the group's PEL)
        self.seen_time = now_ms


class Group:
    __slots__ = ("consumers", "entries_read", "last_id", "pel")

    def __init__(self, last_id: int, entries_read: int | None) -> None:
        self.last_id = last_id
        self.entries_read = entries_read  # None: unknown (Redis's SCG_INVALID_ENTRIES_READ)
        self.pel: SortedDict = SortedDict()  # ID -> Nack
        self.consumers: dict[bytes, Consumer] = {}

    def consumer(self, name: bytes) -> Consumer | None:
        return self.consumers.get(name)

    def create_consumer(self, name: bytes, now_ms: int) -> Consumer | None:
        """A new consumer, or None if it exists."""
        if name in self.consumers:
            return None
        c = self.consumers[name] = Consumer(name, now_ms)
        return c

    def delete_consumer(self, c: Consumer) -> int:
        """Remove c and its pending entries; returns how many it had."""
        n = len(c.pel)
        pel = self.pel
        for sid in c.pel:
            del pel[sid]
        del self.consumers[c.name]
        return n

    def ack(self, sid: int) -> bool:
        nack = self.pel.pop(sid, None)
        if nack is None:
            return False
        if nack.consumer is not None:
            nack.consumer.pel.pop(sid, None)
        return True

    def assign(self, sid: int, nack: Nack, consumer: Consumer) -> None:
        """Move a pending entry to consumer (keeping its times and counts)."""
        if nack.consumer is not consumer:
            if nack.consumer is not None:
                nack.consumer.pel.pop(sid, None)
            consumer.pel[sid] = nack
            nack.consumer = consumer

    def deliver(self, sid: int, consumer: Consumer, now_ms: int) -> Nack:
        """Record that sid was delivered to consumer now (XREADGROUP): a new pending entry, or
        the existing one given to this consumer with its count reset to 1."""
        nack = self.pel.get(sid)
        if nack is None:
            nack = self.pel[sid] = Nack(consumer, now_ms)
            consumer.pel[sid] = nack
            return nack
        if nack.consumer is not None:
            nack.consumer.pel.pop(sid, None)
        nack.consumer = consumer
        nack.delivery_time = now_ms
        nack.delivery_count = 1
        consumer.pel[sid] = nack
        return nack

    def copy(self) -> Group:
        g = Group(self.last_id, self.entries_read)
        for name, c in self.consumers.items():
            nc = g.consumers[name] = Consumer(name, c.seen_time)
            for sid, nack in c.pel.items():
                nn = Nack(nc, nack.delivery_time)
                nn.delivery_count = nack.delivery_count
                nc.pel[sid] = nn
                g.pel[sid] = nn
        for sid, nack in self.pel.items():
            if sid not in g.pel:  # created by XCLAIM FORCE with no consumer: cannot stay so
                nn = Nack(None, nack.delivery_time)
                nn.delivery_count = nack.delivery_count
                g.pel[sid] = nn
        return g


class Stream:
    """A stream key's value. See the module docstring."""

    __slots__ = ("atime", "entries_added", "first_id", "firsts", "groups", "last_id", "length",
                 "max_deleted", "msize", "nodes", "signals")
    atime: int  # access data, set by the database (see keyspace/db.py)
    msize: int  # accounted size, set by the database (see keyspace/db.py)

    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self.firsts: list[int] = []  # master IDs of nodes, in order
        self.length = 0
        self.last_id = 0
        self.first_id = 0  # "recorded-first-entry-id"
        self.max_deleted = 0
        self.entries_added = 0
        self.groups: dict[bytes, Group] = {}
        # Bumped by what wakes clients blocked on the stream (XADD, XGROUP DESTROY): Redis
        # signals the key ready only then, not on every change.
        self.signals = 0

    def __len__(self) -> int:
        return self.length

    def encoding(self, config: Any) -> bytes:
        return b"stream"

    # -- IDs ---------------------------------------------------------------------------
    def next_auto_id(self, now_ms: int) -> int | None:
        """The ID `*` gives (None when the last ID is the maximum)."""
        last = self.last_id
        if now_ms > last >> 64:
            return now_ms << 64
        if last == ID_MAX:
            return None
        return last + 1  # seq overflow carries into ms, as streamIncrID

    def id_for_ms(self, ms: int) -> int | None:
        """The ID `ms-*` gives, or None if there is none above the last ID."""
        last = self.last_id
        if ms == last >> 64:
            if last & MAX64 == MAX64:
                return None
            return last + 1
        return ms << 64

    # -- entries -----------------------------------------------------------------------
    def append(self, sid: int, pairs: list[bytes], max_bytes: int, max_entries: int,
               total: int = -1) -> None:
        """Add an entry (sid must be above last_id; pairs: field, value, ...; total: the
        summed length of pairs, if the caller has it)."""
        nodes = self.nodes
        node = nodes[-1] if nodes else None
        if node is not None:
            limit = max_bytes if 0 < max_bytes <= LISTPACK_MAX_SIZE else LISTPACK_MAX_SIZE
            if total < 0:
                total = sum(map(len, pairs))
            live = node.live
            deleted = node.deleted
            if live < 0x80 and deleted < 0x80:  # both counters take 2 listpack bytes
                lp_bytes = 11 + node.master_bytes + node.entry_bytes
            else:
                lp_bytes = node.lp_bytes()
            if lp_bytes + total >= limit or (max_entries and live + deleted >= max_entries):
                node = None
        if node is None:
            node = _Node(sid, tuple(pairs[0::2]))
            nodes.append(node)
            self.firsts.append(sid)
        node.append(sid, pairs)
        self.length += 1
        self.entries_added += 1
        self.last_id = sid
        if self.length == 1:
            self.first_id = sid

    def add_node(self, master: int, fields: tuple[bytes, ...],
                 entries: list[tuple[bool, int, list[bytes]]]) -> None:
        """Append a whole node as loaded from RDB: its master ID and fields and its entries
        (deleted?, ID, [field, value, ...]) in order, deleted ones included. Stream-level
        metadata (last ID, first ID, entries added ...) is the loader's to set."""
        node = _Node(master, fields)
        for deleted, sid, pairs in entries:
            pos = len(node.buf)
            node.append(sid, pairs)
            if deleted:
                node.mark_deleted(pos)
        self.nodes.append(node)
        self.firsts.append(master)
        self.length += node.live

    def node_dump(self) -> Iterator[tuple[int, tuple[bytes, ...], int, int,
                                          Iterator[tuple[int, int, int, list[bytes]]]]]:
        """Each node as (master ID, master fields, live count, deleted count, its entries as
        `_Node.entries(True)` gives them): what an RDB writer needs."""
        for node in self.nodes:
            yield node.master, node.fields, node.live, node.deleted, node.entries(True)

    def _start_node(self, start: int) -> int:
        i = bisect_right(self.firsts, start) - 1
        return max(0, i)

    def range(self, start: int = 0, end: int = ID_MAX, count: int = 0) -> list[tuple[int, list[bytes]]]:
        """Live entries with start <= ID <= end, in order, at most count (0: all)."""
        out: list[tuple[int, list[bytes]]] = []
        if start > end:
            return out
        nodes = self.nodes
        for i in range(self._start_node(start), len(nodes)):
            node = nodes[i]
            if node.master > end:
                break
            if node.last < start or not node.live:
                continue
            for _, _, sid, pairs in node.entries():
                if sid < start:
                    continue
                if sid > end:
                    return out
                out.append((sid, pairs))
                if len(out) == count:
                    return out
        return out

    def rev_range(self, start: int = 0, end: int = ID_MAX, count: int = 0) -> list[tuple[int, list[bytes]]]:
        """As `range`, from end down to start."""
        out: list[tuple[int, list[bytes]]] = []
        if start > end:
            return out
        nodes = self.nodes
        for i in range(bisect_right(self.firsts, end) - 1, -1, -1):
            node = nodes[i]
            if node.last < start:
                break
            if not node.live:
                continue
            for _, _, sid, pairs in reversed(list(node.entries())):
                if sid > end:
                    continue
                if sid < start:
                    return out
                out.append((sid, pairs))
                if len(out) == count:
                    return out
        return out

    def range_encoded(self, start: int = 0, end: int = ID_MAX, count: int = 0, rev: bool = False
                      ) -> tuple[list[int], list[bytes]]:
        """As `range` / `rev_range`, giving the IDs and each entry already in reply form."""
        ids: list[int] = []
        replies: list[bytes] = []
        if start > end:
            return ids, replies
        nodes = self.nodes
        if rev:
            order = range(bisect_right(self.firsts, end) - 1, -1, -1)
        else:
            order = range(self._start_node(start), len(nodes))
        for i in order:
            node = nodes[i]
            if rev:
                if node.last < start:
                    break
            elif node.master > end:
                break
            if not node.live or node.last < start or node.master > end:
                continue
            nids, nreplies = node.encoded()
            lo = bisect_left(nids, start)
            hi = bisect_right(nids, end)
            if lo >= hi:
                continue
            if rev:
                if count:
                    lo = max(lo, hi - (count - len(ids)))
                ids.extend(reversed(nids[lo:hi]))
                replies.extend(reversed(nreplies[lo:hi]))
            else:
                if count:
                    hi = min(hi, lo + count - len(ids))
                ids.extend(nids[lo:hi])
                replies.extend(nreplies[lo:hi])
            if count and len(ids) >= count:
                break
        return ids, replies

    def entry_reply(self, sid: int) -> bytes | None:
        """The live entry sid in reply form (see `range_encoded`), or None."""
        i = bisect_right(self.firsts, sid) - 1
        if i < 0:
            return None
        node = self.nodes[i]
        if sid > node.last or not node.live:
            return None
        ids, replies = node.encoded()
        j = bisect_left(ids, sid)
        return replies[j] if j < len(ids) and ids[j] == sid else None

    def _locate(self, sid: int) -> tuple[int, int] | None:
        """(node index, flags position) of the live entry sid."""
        i = bisect_right(self.firsts, sid) - 1
        if i < 0:
            return None
        node = self.nodes[i]
        if sid > node.last or not node.live:
            return None
        for pos, flags, eid, _ in node.entries():
            if eid == sid:
                return i, pos
            if eid > sid:
                return None
        return None

    def last_valid_id(self) -> int:
        """The ID of the last live entry (0 if none)."""
        nodes = self.nodes
        for i in range(len(nodes) - 1, -1, -1):
            node = nodes[i]
            if node.live:
                return node.encoded()[0][-1]
        return 0

    def edge_id(self, first: bool, skip_tombstones: bool) -> int:
        """streamGetEdgeID: the first/last entry ID (live only or not); when there is none,
        the maximum ID for first, 0 for last."""
        if skip_tombstones:
            found = (self.range if first else self.rev_range)(0, ID_MAX, 1)
            if found:
                return found[0][0]
        elif self.nodes:
            return self.nodes[0].ids()[0][2] if first else self.nodes[-1].last
        return ID_MAX if first else 0

    def _remove_node(self, i: int) -> None:
        del self.nodes[i]
        del self.firsts[i]

    def delete(self, sid: int) -> bool:
        """Delete one entry (XDEL's low level: max-deleted and first ID are the caller's)."""
        where = self._locate(sid)
        if where is None:
            return False
        i, pos = where
        node = self.nodes[i]
        if node.live == 1:
            self._remove_node(i)
        else:
            node.mark_deleted(pos)
        self.length -= 1
        return True

    def xdel(self, ids: list[int]) -> int:
        """XDEL: delete these entries; updates max-deleted-entry-id and the first ID."""
        deleted = 0
        first_entry = False
        for sid in ids:
            if self.delete(sid):
                if sid == self.first_id:
                    first_entry = True
                self.max_deleted = max(self.max_deleted, sid)
                deleted += 1
        if deleted:
            if self.length == 0:
                self.first_id = 0
            elif first_entry:
                self.first_id = self.edge_id(True, True)
        return deleted

    def trim(self, maxlen: int | None, minid: int | None, approx: bool, limit: int) -> int:
        """streamTrim: by length (maxlen) or by ID (minid); approx trims whole nodes only;
        limit (0: none) caps the entries removed. Returns how many were removed."""
        deleted = 0
        nodes = self.nodes
        while nodes:
            if maxlen is not None and self.length <= maxlen:
                break
            node = nodes[0]
            entries = node.live
            if limit and deleted + entries > limit:
                break
            if maxlen is not None:
                remove = self.length - entries >= maxlen
            else:
                remove = node.last < minid  # type: ignore[operator]
            if remove:
                self._remove_node(0)
                self.length -= entries
                deleted += entries
                continue
            if approx:
                break
            for pos, flags, sid in node.ids():
                if maxlen is not None:
                    if self.length <= maxlen:
                        break
                elif sid >= minid:  # type: ignore[operator]
                    break
                if not flags & _DELETED:
                    node.mark_deleted(pos)
                    self.length -= 1
                    deleted += 1
            break
        if self.length == 0:
            self.first_id = 0
        elif deleted:
            self.first_id = self.edge_id(True, True)
        return deleted

    # -- consumer-group bookkeeping (Redis 7.0's entries-read and lag) ----------------------
    def has_tombstones(self, start: int, end: int = ID_MAX) -> bool:
        """streamRangeHasTombstones: whether a deleted entry may lie in [start, end]."""
        md = self.max_deleted
        if not self.length or md == 0:
            return False
        if self.first_id > md:
            return False
        return start <= md <= end

    def estimate_distance(self, sid: int) -> int | None:
        """streamEstimateDistanceFromFirstEverEntry: sid's entries-read counter, or None."""
        if not self.entries_added:
            return 0
        if not self.length and sid <= self.last_id:
            return self.entries_added
        if sid == self.last_id:
            return self.entries_added
        if sid > self.last_id:
            return None
        md = self.max_deleted
        if md == 0 or md < self.first_id:
            if sid < self.first_id:
                return self.entries_added - self.length
            if sid == self.first_id:
                return self.entries_added - self.length + 1
        return None

    def lag(self, group: Group) -> int | None:
        """streamReplyWithCGLag: entries not yet delivered to group, or None if unknown."""
        if not self.entries_added:
            return 0
        if group.entries_read is not None and not self.has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        read = self.estimate_distance(group.last_id)
        return None if read is None else self.entries_added - read

    def advance_group(self, group: Group, sid: int) -> bool:
        """A group delivered sid: move its last ID and entries-read forward as Redis does.
        Returns True if the last ID moved."""
        if sid <= group.last_id:
            return False
        if group.entries_read is not None and not self.has_tombstones(sid):
            group.entries_read += 1
        elif self.entries_added:
            group.entries_read = self.estimate_distance(sid)
        group.last_id = sid
        return True

    # -- whole value -----------------------------------------------------------------------
    def copy(self) -> Stream:
        s = Stream()
        s.nodes = [n.copy() for n in self.nodes]
        s.firsts = list(self.firsts)
        s.length = self.length
        s.last_id = self.last_id
        s.first_id = self.first_id
        s.max_deleted = self.max_deleted
        s.entries_added = self.entries_added
        s.groups = {name: g.copy() for name, g in self.groups.items()}
        return s

    def node_count(self) -> int:
        return len(self.nodes)

    def memory_bytes(self) -> int:
        """The bytes of the node buffers (MEMORY USAGE's estimate adds the objects around them)."""
        return sum(len(n.buf) for n in self.nodes)


def rax_node_count(keys: list[int]) -> int:
    """How many nodes Redis's radix tree has holding these node keys (128-bit IDs, sorted):
    XINFO STREAM's radix-tree-nodes. The tree is the compressed trie of the keys' 16 bytes:
    a node at the root, at each branching point, at each child of a branching point and at
    each key's end."""
    if not keys:
        return 1
    enc = [k.to_bytes(16, "big") for k in keys]
    seen = {b"", *enc}
    for a, b in pairwise(enc):
        n = 0
        while a[n] == b[n]:
            n += 1
        seen.add(a[:n])
        seen.add(a[:n + 1])
        seen.add(b[:n + 1])
    return len(seen)


register_type(Stream, b"stream")
