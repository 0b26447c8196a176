"""Producer id allocation for InitProducerId.

Ids are handed out from blocks of `BLOCK_SIZE`, as Kafka's controller hands blocks to
brokers. Before the first id of a block is given out, the end of the block is persisted in
`<dir>/meta/producer-ids` (written to a temporary file, fsynced, renamed, directory fsynced),
so an id is never handed out twice, across restarts and crashes included: after a restart
allocation resumes at the next block, and the unused rest of the previous one is skipped.

File format: one line of JSON, `{"version": 1, "next_block_start": N}`.
"""

from __future__ import annotations

import json
import os

__all__ = ["BLOCK_SIZE", "ProducerIdManager"]

BLOCK_SIZE = 1000
_FILE = "producer-ids"
_MAX_ID = 2**63 - 1


class ProducerIdManager:
    """Hands out producer ids, never the same twice."""

    def __init__(self, meta_dir: str) -> None:
        self.meta_dir = meta_dir
        self.path = os.path.join(meta_dir, _FILE)
        self._next = 0
        self._block_end = 0         # exclusive; _next == _block_end: a new block is needed

    def generate(self) -> int:
        """The next producer id (OSError if the block could not be persisted)."""
        if self._next >= self._block_end:
            self._claim_block()
        pid = self._next
        self._next += 1
        return pid

    def _claim_block(self) -> None:
        start = max(self._read(), self._block_end)
        end = start + BLOCK_SIZE
        if end > _MAX_ID:
            raise OSError("producer ids are exhausted")
        os.makedirs(self.meta_dir, exist_ok=True)
        tmp = self.path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, json.dumps({"version": 1, "next_block_start": end}).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.meta_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._next, self._block_end = start, end

    def _read(self) -> int:
        try:
            with open(self.path) as f:
                return int(json.load(f)["next_block_start"])
        except FileNotFoundError:
            return 0
