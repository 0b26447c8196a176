"""A compacted internal topic a coordinator keeps its state in (`__consumer_offsets`, `__transaction_state`).

What the group and transaction coordinators share about their topic: how many partitions it has
(the topic's own count once it exists, the setting before), which partition an id maps to (Kafka's
`abs(javaHash(id)) % partitions`), creating it on first use with `cleanup.policy=compact`, and
reading a partition back at start-up as runs of stored batches, yielding to the event loop
between runs so a long replay does not stall the broker.

Not here: the record schemas (each coordinator's `records.py`) and what a replay does with them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from keystream.kafka.groups.records import java_string_hash, next_offset
from keystream.log.errors import LogError

if TYPE_CHECKING:
    from keystream.engine import Engine
    from keystream.log.partition import PartitionLog

__all__ = ["InternalTopic"]

_LOAD_SLICE = 4 * 1024 * 1024     # bytes read per step of a replay


class InternalTopic:
    def __init__(self, engine: Engine, name: str, partitions_setting: str, segment_setting: str) -> None:
        self.engine = engine
        self.name = name
        self._partitions_setting = partitions_setting
        self._segment_setting = segment_setting

    def num_partitions(self) -> int:
        meta = self.engine.logs.topics.get(self.name)
        return meta.num_partitions if meta is not None else self.engine.config[self._partitions_setting]

    def partition_for(self, key: str) -> int:
        h = java_string_hash(key)
        return (0 if h == -(2**31) else abs(h)) % self.num_partitions()

    def ensure(self) -> None:
        """Create the topic (compacted, the configured partitions and segment size) if it does not exist."""
        logs = self.engine.logs
        if self.name not in logs.topics:
            config = self.engine.config
            logs.create_topic(self.name, config[self._partitions_setting],
                              {"cleanup.policy": "compact",
                               "segment.bytes": str(config[self._segment_setting]),
                               "compression.type": "producer"})

    def partition_log(self, partition: int) -> PartitionLog:
        """The partition's log, the topic created first if need be (LogError if the partition does not exist)."""
        self.ensure()
        plog = self.engine.logs.partition(self.name, partition)
        if plog is None:
            raise LogError(f"{self.name}-{partition} does not exist")
        return plog

    async def replay(self, partition: int) -> AsyncIterator[tuple[int, memoryview]]:
        """(position, run of stored batches) from the partition's start to its end as it was when called.

        A run starts at the base offset of the batch holding `position`, so its records below
        `position` came in the previous run: skip them. Nothing is yielded for a partition that
        does not exist.
        """
        plog = self.engine.logs.partition(self.name, partition)
        if plog is None:
            return
        pos = plog.log_start_offset
        end = plog.log_end_offset
        while pos < end:
            chunks = plog.read(pos, _LOAD_SLICE)
            if not chunks:
                return
            yield pos, chunks[0]
            after = next_offset(chunks[0])
            if after is None or after <= pos:
                return
            pos = after
            await asyncio.sleep(0)
