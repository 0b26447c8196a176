"""Lazy freeing (Redis's lazyfree.c): big values and flushed keyspaces freed in slices.

Dropping the last reference to a container with a million elements frees them all in one
go, holding the event loop for as long as that takes (a thread would not help: freeing
runs under the GIL without a switch). A value that left the keyspace on a lazy path
(UNLINK, FLUSHALL/FLUSHDB ASYNC and the `lazyfree-lazy-*` settings) is queued here instead,
and a callback on the event loop empties the queued containers a slice per loop turn (at
most `SLICE` elements or `SLICE_SECONDS`), so clients are served between slices.

As Redis, only values whose freeing effort is above `THRESHOLD` (64 allocations: elements
of a hash table, nodes of a list or stream) are freed lazily; smaller ones are dropped at
once. `pending_objects` counts what waits (one per value, one per key of a flushed
database), and `engine.stats.lazyfreed_objects` what was freed so, for INFO's
`lazyfree_pending_objects` and `lazyfreed_objects`. The bytes still held are counted in
`used_memory` until freed (`pending_bytes`, from the keyspace's accounting).

A queued container is emptied in place: it must be unreachable from the keyspace (it is:
values are never shared between keys). Without an event loop (an engine that no server
runs) everything is freed at once.
"""

from __future__ import annotations

import time
from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any

from keystream.keyspace.datatypes.hash import Hash
from keystream.keyspace.datatypes.list import ListValue
from keystream.keyspace.datatypes.set import Set
from keystream.keyspace.datatypes.stream import Stream
from keystream.keyspace.datatypes.zset import ZSet

if TYPE_CHECKING:
    from keystream.engine import Engine

__all__ = ["SLICE", "THRESHOLD", "LazyFree", "free_effort"]

THRESHOLD = 64  # Redis's LAZYFREE_THRESHOLD
SLICE = 8192    # elements freed per event-loop turn, at most
SLICE_SECONDS = 0.002  # and for at most this long (checked every _STEP elements)
_STEP = 1024
# The size of a node of Redis's quicklist (list-max-listpack-size -2).
_LIST_NODE_BYTES = 8192


def free_effort(value: Any) -> int:
    """How many allocations freeing value costs, as Redis's lazyfreeGetFreeEffort counts
    them: 1 for a compact encoding or a string."""
    t = type(value)
    if t is Hash or t is Set:
        return len(value) if value.big else 1
    if t is ListValue:
        # Redis counts quicklist nodes (8 KB listpacks): the elements' bytes, estimated from
        # the first few (stored as RESP bulks: ~4 bytes of header over a listpack entry's)
        n = len(value)
        head = list(islice(value, 5))
        per = sum(len(e) - 4 for e in head) / len(head) if head else 0
        return int(n * per) // _LIST_NODE_BYTES + 1
    if t is ZSet:
        return len(value) if value.big is not None else 1
    if t is Stream:
        effort = len(value.nodes)
        groups = value.groups
        if groups:
            first = next(iter(groups.values()))
            effort += len(groups) * (1 + len(first.pel))
        return effort
    return 1


def _parts(value: Any) -> list[Any]:
    """The containers to empty, slice by slice, to free value."""
    t = type(value)
    if t is ZSet:
        big = value.big
        if big is None:
            return []
        return [big.scores, big.sl] + ([big.bulk] if big.bulk else [])
    if t is Stream:
        return [value.nodes, value.groups]
    if t is Hash or t is ListValue:
        d = value.d  # a dict or deque; a compact form (bytes) goes at once
        return [] if type(d) is bytes else [d]
    return [value]


class _Job:
    __slots__ = ("objects", "parts", "size")

    def __init__(self, parts: list[Any], objects: int, size: int) -> None:
        self.parts = parts
        self.objects = objects
        self.size = size


class LazyFree:
    __slots__ = ("_jobs", "_scheduled", "engine", "pending_bytes", "pending_objects")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._jobs: deque[_Job] = deque()
        self._scheduled = False
        self.pending_objects = 0
        self.pending_bytes = 0

    def free_value(self, value: Any) -> None:
        """value left the keyspace: free it in slices if it is big (else the caller's
        reference going away frees it)."""
        if free_effort(value) > THRESHOLD and self.engine.loop is not None:
            self._add(_Job(_parts(value), 1, value.msize))

    def free_tables(self, data: dict[bytes, Any], expires: dict[bytes, int], access: dict[bytes, int],
                    size: int) -> None:
        """A flushed database's tables (FLUSHALL/FLUSHDB ASYNC): free them in slices."""
        if self.engine.loop is not None:
            self._add(_Job([data, expires, access], len(data), size))

    def _add(self, job: _Job) -> None:
        self._jobs.append(job)
        self.pending_objects += job.objects
        self.pending_bytes += job.size
        if not self._scheduled:
            self._scheduled = True
            loop = self.engine.loop
            assert loop is not None  # checked by the callers
            loop.call_soon(self._run)

    def _run(self) -> None:
        """One slice: pop up to SLICE elements from the queued containers (a big value
        met in a flushed keyspace becomes parts of the same job); again next turn."""
        budget = SLICE
        jobs = self._jobs
        deadline = time.perf_counter() + SLICE_SECONDS
        while jobs and budget > 0 and time.perf_counter() < deadline:
            job = jobs[0]
            parts = job.parts
            while parts and budget > 0:
                part = parts[-1]
                n = min(len(part), budget, _STEP)
                budget -= n
                if isinstance(part, dict):
                    pop = part.popitem
                    for _ in range(n):
                        value = pop()[1]
                        if type(value) is not bytes and type(value) is not int and free_effort(value) > THRESHOLD:
                            parts[-1:-1] = _parts(value)
                else:
                    pop = part.pop
                    for _ in range(n):
                        pop()
                if not part:
                    parts.pop()
                    budget -= 1
            if not parts:
                jobs.popleft()
                self.pending_objects -= job.objects
                self.pending_bytes -= job.size
                self.engine.stats.lazyfreed_objects += job.objects
        if jobs:
            loop = self.engine.loop
            assert loop is not None
            loop.call_soon(self._run)
        else:
            self._scheduled = False
