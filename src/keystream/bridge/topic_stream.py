"""Every partition of every Kafka topic as a Redis stream key, read from the log itself.

`TopicStreams` (the engine's `topic_streams`) answers, for a key `<bridge-stream-prefix><topic>:
<partition>` naming a partition that exists, the stream commands the bridge supports: XRANGE,
XREVRANGE, XREAD (COUNT, BLOCK, `$`), XLEN, XINFO STREAM [FULL [COUNT n]], TYPE, EXISTS, and
XADD, which produces a record. The command modules ask `lookup(key)` first; every other write
command is refused before it runs (`check_write`, from the engine's call path), so nothing but
the log's own appends, retention and DeleteRecords ever changes what such a key shows.

Reads walk the partition's segments (no copy of the data is kept anywhere else): the batch
holding the first wanted offset is found with the segment's offset index, batches are read
whole from the segment file (up to 256 KB at a time) and decoded once into ready-to-send
entries (`recordio.py`). Decoded runs of consecutive batches ("chunks") are cached per
segment object, in file order, within 64 MB (least recently used go first); the tail of the
active segment grows its last chunk in place. A compacted segment is a new segment object, so
the cache never serves records compaction removed. A range without aborted transactions is
then a slice of a chunk's entries, as a native stream answers from its nodes. A reader sees:

- offsets from the log start offset (retention and DeleteRecords move it) ...
- ... below the last stable offset (LSO): records of a transaction still open are invisible,
  as to a read_committed consumer, and so is everything after its first record;
- no records of aborted transactions (the partition's aborted-transaction index, with Kafka's
  consumer algorithm: a producer's transactional batches are dropped from the first offset of
  an aborted transaction up to its ABORT marker), and no control records (markers).

XLEN counts those records exactly (batch headers only, except a batch cut by the log start); the
count is kept per partition and extended as the log grows, recounted after retention,
DeleteRecords or compaction changed the segments. XREVRANGE reads forward in windows from the
end (the log has no backward links), doubling the window until COUNT entries are found.

XINFO STREAM: length is XLEN; radix-tree-keys and radix-tree-nodes count the segments;
last-generated-id is the ID of the offset below the LSO (what `$` means), max-deleted-entry-id
that of the offset below the log start, recorded-first-entry-id that of the log start,
entries-added the LSO (offsets assigned below it, markers and aborted records included);
groups 0 (a topic's consumer groups are Kafka's).

Blocking XREAD waits through `commands/blocking.py` like any stream reader: every append to a
partition (Produce, XADD, a transaction marker that moves the LSO) reports the key as written
(`xadd` event) in every database where a client waits on it.

Not here: the entry format (recordio.py), argument parsing (commands/streams.py).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from keystream.bridge.recordio import CODECS, DecodedBatch, decode_entries, encode_entry_batch, entry_id
from keystream.log.batch import (
    CONTROL_BIT,
    HEADER_SIZE,
    LOG_OVERHEAD,
    TRANSACTIONAL_BIT,
    batch_header,
    control_record_type,
)
from keystream.log.errors import CorruptRecordError, LogError
from keystream.log.manager import INTERNAL_TOPICS
from keystream.resp import errors as E
from keystream.resp.errors import CommandError
from keystream.resp.writer import MapReply, Raw

if TYPE_CHECKING:
    from keystream.client import Client
    from keystream.commands.registry import Command
    from keystream.engine import Engine
    from keystream.log.partition import PartitionLog
    from keystream.log.segment import Segment

log = logging.getLogger("keystream.bridge")

__all__ = ["TopicStreams", "first_offset_at", "last_offset_at"]

_MAX64 = 2**64 - 1
_READ_CHUNK = 256 * 1024
_CACHE_BYTES = 64 * 1024 * 1024


def first_offset_at(sid: int) -> int:
    """The first offset whose entry ID `<offset>-1` is >= the stream ID sid (128-bit int)."""
    ms, seq = sid >> 64, sid & _MAX64
    return ms if seq <= 1 else ms + 1


def last_offset_at(sid: int) -> int:
    """The last offset whose entry ID is <= sid (-1: none)."""
    ms, seq = sid >> 64, sid & _MAX64
    return ms if seq >= 1 else ms - 1


def _raw_entries(entries: list[bytes]) -> Raw:
    return Raw(b"*%d\r\n%s" % (len(entries), b"".join(entries)))


class _Count:
    """XLEN of one partition: `n` visible records below `upper`, valid while `segments` is a
    prefix of the log's segments and the log start is still `start`."""

    __slots__ = ("n", "segments", "start", "upper")

    def __init__(self, segments: list[Segment], start: int) -> None:
        self.segments = segments
        self.start = start
        self.upper = start
        self.n = 0


class _Chunk:
    """Consecutive batches of one segment, decoded: [pos, end_pos) in the file, offsets first
    to last; the data records flattened into `offsets` / `entries` for slicing."""

    __slots__ = ("batches", "end_pos", "entries", "first", "last", "nbytes", "offsets", "pos", "seg")

    def __init__(self, seg: Segment, pos: int, end_pos: int, batches: list[DecodedBatch]) -> None:
        self.seg = seg
        self.pos = pos
        self.end_pos = end_pos
        self.first = batches[0].base_offset
        self.batches = batches
        self.offsets: list[int] = []
        self.entries: list[bytes] = []
        self.last = -1
        self.nbytes = 0
        self._add(batches)

    def _add(self, batches: list[DecodedBatch]) -> None:
        offsets = self.offsets
        entries = self.entries
        for b in batches:
            for o, e in b.entries:
                offsets.append(o)
                entries.append(e)
            self.nbytes += b.nbytes + 100
        self.last = batches[-1].last_offset

    def extend(self, other: _Chunk) -> None:
        self.batches = self.batches + other.batches
        self.end_pos = other.end_pos
        self._add(other.batches)


def _chunk_first(ch: _Chunk) -> int:
    return ch.first


class TopicStreams:
    """The engine's part that answers for topic partitions' stream keys (see the module header)."""

    __slots__ = ("_cache_bytes", "_counts", "_lru", "_segs", "engine", "logs", "prefix")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.logs = engine.logs
        self.prefix: bytes = engine.config["bridge-stream-prefix"].encode()
        # decoded chunks per segment, in file order; all of them, least recently used first
        self._segs: dict[Segment, list[_Chunk]] = {}
        self._lru: OrderedDict[_Chunk, None] = OrderedDict()
        self._cache_bytes = 0
        self._counts: dict[PartitionLog, _Count] = {}
        engine.config.listeners.append(self._on_config_change)
        engine.log_tasks.append_listeners.append(self._on_append)

    def _on_config_change(self, name: str, value: Any) -> None:
        if name == "bridge-stream-prefix":
            self.prefix = value.encode()

    # -- keys -----------------------------------------------------------------------------
    def lookup(self, key: bytes) -> PartitionLog | None:
        """The partition log key names, or None (not under the prefix, no such partition)."""
        prefix = self.prefix
        if not prefix or not key.startswith(prefix):
            return None
        topic, sep, part = key[len(prefix):].rpartition(b":")
        if not sep or not part.isdigit() or (part[0] == 48 and len(part) > 1) or len(part) > 10:
            return None
        try:
            name = topic.decode("ascii")
        except UnicodeDecodeError:
            return None
        return self.logs.partition(name, int(part))

    def key_of(self, topic: str, partition: int) -> bytes:
        return b"%s%s:%d" % (self.prefix, topic.encode(), partition)

    def check_write(self, cmd: Command, argv: list[bytes]) -> None:
        """Refuse a write command (other than XADD) naming a topic's key: the log is append-only.

        On the call path of every write while topics exist: one prefix test for the common
        one-key command."""
        prefix = self.prefix
        if cmd.get_keys is None and cmd.first_key == cmd.last_key:
            i = cmd.first_key
            if i <= 0 or i >= len(argv) or not prefix or not argv[i].startswith(prefix):
                return
            indexes: Any = (i,)
        else:
            if not prefix:
                return
            try:
                indexes = cmd.key_indexes(argv)
            except (CommandError, IndexError, ValueError):
                return  # malformed: the handler reports it
        for i in indexes:
            key = argv[i]
            if key.startswith(prefix) and cmd.name != "xadd":
                plog = self.lookup(key)
                if plog is not None:
                    raise refusal(cmd.name, key, plog)

    def _on_append(self, topic: str, partition: int) -> None:
        blocking = self.engine.blocking
        if not blocking.waiting or not self.prefix:
            return
        key = self.key_of(topic, partition)
        for db_index in list(blocking.waiting):
            blocking.on_write("xadd", db_index, key)

    # -- reading --------------------------------------------------------------------------
    def _load(self, seg: Segment, pos: int, limit: int) -> _Chunk | None:
        """Decode the whole batches of seg from pos, up to _READ_CHUNK bytes (at least one
        batch) and never past limit (a batch boundary); None if there is none."""
        if pos + HEADER_SIZE > limit or seg.fd < 0:
            return None
        buf = os.pread(seg.fd, min(_READ_CHUNK, limit - pos), pos)
        batches: list[DecodedBatch] = []
        off = 0
        n = len(buf)
        while off + HEADER_SIZE <= n:
            end = off + batch_header(buf, off)[1] + LOG_OVERHEAD
            if end > n:
                if off == 0 and end <= limit - pos:   # one batch larger than the chunk
                    buf = os.pread(seg.fd, end, pos)
                    n = len(buf)
                    if n == end:
                        continue
                break
            try:
                batches.append(decode_entries(buf, off))
            except CorruptRecordError as e:
                raise CommandError(E.bridge_unreadable(seg.dir, str(e))) from None
            off = end
        if not batches:
            return None
        return _Chunk(seg, pos, pos + off, batches)

    def _chunk_from(self, seg: Segment, o: int) -> _Chunk | None:
        """The cached chunk of seg holding the first batch that ends at or after offset o,
        decoding what is needed; None if seg has no such batch."""
        chunks = self._segs.get(seg)
        if chunks is None:
            chunks = self._segs[seg] = []
        while True:
            i = bisect.bisect_right(chunks, o, key=_chunk_first) - 1
            if i >= 0 and chunks[i].last >= o:
                ch = chunks[i]
                self._lru.move_to_end(ch)
                return ch
            nxt = chunks[i + 1] if i + 1 < len(chunks) else None
            pos = seg.index.lookup(o)
            if i >= 0:
                pos = max(pos, chunks[i].end_pos)
            limit = nxt.pos if nxt is not None else seg.size
            loaded = self._load(seg, pos, limit) if pos < limit else None
            if loaded is None:
                return nxt
            ch = loaded
            if i >= 0 and chunks[i].end_pos == loaded.pos and chunks[i].nbytes + loaded.nbytes <= _READ_CHUNK * 2:
                ch = chunks[i]        # the tail of a growing segment stays one chunk
                self._cache_bytes -= ch.nbytes
                ch.extend(loaded)
                self._lru.move_to_end(ch)
            else:
                chunks.insert(i + 1, ch)
                self._lru[ch] = None
            self._cache_bytes += ch.nbytes
            self._evict()
            if ch.last >= o:
                return ch
            # every batch loaded ends before o: the next turn loads from the end of this chunk

    def _evict(self) -> None:
        lru = self._lru
        while self._cache_bytes > _CACHE_BYTES and len(lru) > 1:
            old, _ = lru.popitem(last=False)
            self._cache_bytes -= old.nbytes
            chunks = self._segs[old.seg]
            chunks.remove(old)
            if not chunks:
                del self._segs[old.seg]

    def _chunks(self, plog: PartitionLog, start: int, upper: int):
        """(chunk, from) for the offsets from start in order, until upper: only the chunk's
        offsets from `from` on are new (a chunk grown at the tail comes again)."""
        o = start
        for seg in _segments_between(plog, start, upper):
            o = max(o, seg.base_offset)
            while o < upper and o < seg.next_offset:
                ch = self._chunk_from(seg, o)
                if ch is None:
                    break
                yield ch, o
                o = ch.last + 1

    def entries(self, plog: PartitionLog, first: int, last: int, count: int) -> list[bytes]:
        """Encoded entries of offsets first..last (inclusive), at most count (0: all), as a
        read_committed reader sees them."""
        start = max(first, plog.log_start_offset)
        upper = min(last + 1, plog.last_stable_offset)
        out: list[bytes] = []
        if start >= upper:
            return out
        aborted = plog.aborted_transactions(start, upper)
        if not aborted:   # every data record below the LSO is visible: slices of the chunks
            for ch, frm in self._chunks(plog, start, upper):
                offsets = ch.offsets
                lo = bisect.bisect_left(offsets, frm)
                hi = bisect.bisect_left(offsets, upper, lo)
                if count and hi - lo > count - len(out):
                    hi = lo + count - len(out)
                out += ch.entries[lo:hi]
                if count and len(out) >= count:
                    break
            return out
        # Kafka's consumer: a producer's transactional batches are dropped from the first
        # offset of one of its aborted transactions up to that transaction's ABORT marker.
        aborted.sort(key=lambda a: a[1])
        ai = 0
        dropping: set[int] = set()
        for ch, frm in self._chunks(plog, start, upper):
            for b in ch.batches:
                if b.last_offset < frm:
                    continue
                if b.base_offset >= upper:
                    return out
                while ai < len(aborted) and aborted[ai][1] <= b.last_offset:
                    dropping.add(aborted[ai][0])
                    ai += 1
                if b.control:
                    if b.abort_marker:
                        dropping.discard(b.producer_id)
                    continue
                if b.transactional and b.producer_id in dropping:
                    continue
                for o, e in b.entries:
                    if frm <= o < upper:
                        out.append(e)
                        if len(out) == count:
                            return out
        return out

    def rev_entries(self, plog: PartitionLog, first: int, last: int, count: int) -> list[bytes]:
        """As `entries`, from last down to first."""
        lo = max(first, plog.log_start_offset)
        hi = min(last, plog.last_stable_offset - 1)
        out: list[bytes] = []
        window = max(count, 16)
        while hi >= lo:
            start = max(lo, hi - window + 1)
            found = self.entries(plog, start, hi, 0)
            found.reverse()
            out.extend(found)
            if count and len(out) >= count:
                return out[:count]
            hi = start - 1
            window *= 2
        return out

    def length(self, plog: PartitionLog) -> int:
        """The number of entries XRANGE - + returns."""
        c = self._counts.get(plog)
        segments = plog.segments
        if (c is None or c.start != plog.log_start_offset or len(segments) < len(c.segments)
                or any(a is not b for a, b in zip(c.segments, segments))):
            if c is None:  # forget the counts of partitions deleted since
                partition = self.logs.partition
                self._counts = {p: n for p, n in self._counts.items() if partition(p.topic, p.index) is p}
            c = self._counts[plog] = _Count(list(segments), plog.log_start_offset)
        upper = plog.last_stable_offset
        if upper > c.upper:
            c.n += self._count(plog, c.upper, upper)
            c.upper = upper
            c.segments = list(segments)
        return c.n

    def _count(self, plog: PartitionLog, start: int, upper: int) -> int:
        """Visible records in [start, upper), from batch headers (the filtering of `_batches`):
        only a batch cut by start is decoded, and a control batch's marker type read."""
        aborted = plog.aborted_transactions(start, upper)
        aborted.sort(key=lambda a: a[1])
        ai = 0
        dropping: set[int] = set()
        n = 0
        first = True
        for seg in _segments_between(plog, start, upper):
            if seg.next_offset <= start:
                first = False
                continue
            pos0 = seg.index.lookup(start) if first else 0
            first = False
            for pos, h in seg.iter_headers(pos0):
                base, attrs, producer_id, count = h[0], h[5], h[9], h[12]
                last = base + h[6]
                if base >= upper:
                    return n
                while ai < len(aborted) and aborted[ai][1] <= last:
                    dropping.add(aborted[ai][0])
                    ai += 1
                if attrs & CONTROL_BIT:
                    if producer_id in dropping and control_record_type(seg.read_batch(pos, h[1] + LOG_OVERHEAD)) == 0:
                        dropping.discard(producer_id)
                    continue
                if last < start or (attrs & TRANSACTIONAL_BIT and producer_id in dropping):
                    continue
                if base >= start:
                    n += count
                else:   # the batch holding the log start: only its records from there
                    n += sum(1 for o, _e in self._batch_entries(seg, start) if start <= o < upper)
        return n

    def _batch_entries(self, seg: Segment, o: int) -> list[tuple[int, bytes]]:
        """The (offset, entry) pairs of the batch of seg holding offset o."""
        ch = self._chunk_from(seg, o)
        if ch is not None:
            for b in ch.batches:
                if b.base_offset <= o <= b.last_offset:
                    return b.entries
        return []

    def last_entry_id(self, plog: PartitionLog) -> int:
        """The stream ID `$` means (XINFO's last-generated-id): that of the offset below the LSO
        (0-0 on an empty partition). Nothing at or below it can become visible later."""
        upper = plog.last_stable_offset
        return ((upper - 1) << 64) | 1 if upper else 0

    # -- commands -------------------------------------------------------------------------
    def xrange(self, plog: PartitionLog, start: int, end: int, count: int, rev: bool) -> Raw:
        """XRANGE/XREVRANGE between stream IDs start and end (inclusive), count as XRANGE's (-1: none)."""
        first, last = first_offset_at(start), last_offset_at(end)
        if count == 0:
            return _raw_entries([])
        n = max(count, 0)
        found = self.rev_entries(plog, first, last, n) if rev else self.entries(plog, first, last, n)
        return _raw_entries(found)

    def read_after(self, plog: PartitionLog, gt: int, count: int) -> Raw | None:
        """XREAD's entries with IDs greater than gt, at most count (0: all); None if none."""
        if gt == _ID_MAX:
            return None
        found = self.entries(plog, first_offset_at(gt + 1), plog.last_stable_offset, count)
        return _raw_entries(found) if found else None

    def xinfo_stream(self, plog: PartitionLog, full: bool, count: int) -> MapReply:
        upper = plog.last_stable_offset
        start = plog.log_start_offset
        head: list = [
            (b"length", self.length(plog)),
            (b"radix-tree-keys", len(plog.segments)),
            (b"radix-tree-nodes", len(plog.segments)),
            (b"last-generated-id", entry_id(upper - 1) if upper else b"0-0"),
            (b"max-deleted-entry-id", entry_id(start - 1) if start else b"0-0"),
            (b"entries-added", upper),
            (b"recorded-first-entry-id", entry_id(start) if start < upper else b"0-0"),
        ]
        if full:
            head += [(b"entries", _raw_entries(self.entries(plog, start, upper - 1, count))), (b"groups", [])]
            return MapReply(head)
        firsts = self.entries(plog, start, upper - 1, 1)
        lasts = self.rev_entries(plog, start, upper - 1, 1)
        head += [
            (b"groups", 0),
            (b"first-entry", Raw(firsts[0]) if firsts else None),
            (b"last-entry", Raw(lasts[0]) if lasts else None),
        ]
        return MapReply(head)

    def xadd(self, client: Client, plog: PartitionLog, key: bytes, id_arg: bytes,
             pairs: list[bytes]) -> bytes:
        """Produce the record pairs describe to plog; the new entry's ID, after the append."""
        topic = plog.topic
        where = f"Kafka topic '{topic}' partition {plog.index}"
        if id_arg != b"*":
            raise CommandError(E.bridge_xadd_id(where))
        if topic in INTERNAL_TOPICS:
            raise CommandError(E.bridge_xadd_internal(where))
        rkey: bytes | None = None
        value: bytes | None = None
        timestamp: int | None = None
        headers: list[tuple[bytes, bytes]] = []
        seen: set[bytes] = set()
        for i in range(0, len(pairs), 2):
            f, v = pairs[i], pairs[i + 1]
            if f.startswith(b"header:"):
                headers.append((f[7:], v))
                continue
            if f in seen:
                raise CommandError(E.bridge_xadd_field(where, f, "is given twice"))
            seen.add(f)
            if f == b"key":
                rkey = v
            elif f == b"value":
                value = v
            elif f == b"timestamp":
                if not v.isdigit() or len(v) > 18:
                    raise CommandError(E.bridge_xadd_field(where, f, "must be a timestamp in ms (a non-negative integer)"))
                timestamp = int(v)
            else:
                raise CommandError(E.bridge_xadd_field(where, f, "cannot be held by a Kafka record"))
        if timestamp is None:
            timestamp = client.engine.cmd_time_ms
        compression = self.logs.topic_config(topic)["compression.type"][0]
        batch = encode_entry_batch(rkey, value, headers, timestamp, CODECS.get(compression, 0))
        try:
            result = plog.append(batch, client.engine.now_ms())
        except LogError as e:
            raise CommandError(E.bridge_append_failed(where, str(e))) from None
        self.engine.notify_append(topic, plog.index)
        if plog.unflushed_messages >= plog.config.flush_messages and self.engine.loop is not None:
            # the flush policy's fsync starts now; the reply does not wait for it (see README)
            asyncio.ensure_future(self.engine.log_tasks.flush_appended()).add_done_callback(_flush_failed)
        return entry_id(result.base_offset)


_ID_MAX = (1 << 128) - 1


def _segments_between(plog: PartitionLog, start: int, upper: int) -> list[Segment]:
    """The segments of plog from the one holding start, up to the last that starts below upper."""
    segments = plog.segments
    i = max(bisect.bisect_right(segments, start, key=_base_offset) - 1, 0)
    return segments[i:bisect.bisect_left(segments, upper, key=_base_offset)]


def _base_offset(seg: Segment) -> int:
    return seg.base_offset


def refusal(command: str, key: bytes, plog: PartitionLog) -> CommandError:
    return CommandError(E.bridge_refused(command.replace("|", " ").upper(), key, plog.topic, plog.index))


def _flush_failed(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.error("log flush after an XADD to a topic failed", exc_info=fut.exception())
