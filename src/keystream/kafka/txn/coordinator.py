"""The transaction coordinator (Kafka's TransactionCoordinator, transaction versions 1 and 2).

Design notes (follow Kafka's TransactionCoordinator and TransactionStateManager; KIP-98, KIP-360,
KIP-890 part 1):

- One coordinator, on the event loop; single node, so it coordinates every transactional id.
  Its state is one `TxnMetadata` per transactional id, persisted as records of the compacted
  `__transaction_state` topic (records.py, Kafka's schemas), partition = abs(java hash(id)) %
  `transaction.state.log.num.partitions`. Each state change is appended (page cache, os.write)
  before the reply, so it survives kill -9 of the broker.
- States: Empty -> Ongoing (AddPartitionsToTxn / AddOffsetsToTxn) -> PrepareCommit or
  PrepareAbort (EndTxn) -> CompleteCommit / CompleteAbort. Completing a transaction writes the
  Prepare record, then a marker in every partition of the transaction (for a group's
  `__consumer_offsets` partition the group coordinator then applies or drops the pending
  transactional offsets), then the Complete record. On one node markers are plain local
  appends, so EndTxn completes before it answers; a crash between the records is repaired at
  load: a transaction found in PrepareCommit/PrepareAbort gets its markers (again) and its
  Complete record, as Kafka's coordinator does on fail-over.
- InitProducerId bumps the epoch (a new producer id once the epoch is exhausted), which fences
  the previous producer instance; an Ongoing transaction of the previous epoch is aborted
  first with the bumped epoch and the caller gets CONCURRENT_TRANSACTIONS, retries, and then
  gets the next epoch (Kafka's prepareFenceProducerEpoch). v3+ callers naming their current
  producer id and epoch (KIP-360) are checked against it, and a retry of a bump that
  succeeded gets the same answer again.
- Transactions past their `transaction.timeout.ms` are aborted with a bumped epoch (so the late
  producer is fenced), checked every `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
  Transactional ids whose last transaction ended `transactional.id.expiration.ms` ago are
  removed (tombstone) every `transaction.remove.expired.transaction.cleanup.interval.ms`.
- Loading: at start-up `__transaction_state` is replayed in a background task; until its
  partition is loaded a transactional id answers COORDINATOR_LOAD_IN_PROGRESS.
- Produce of transactional batches is verified here (KIP-890 part 1): the partition must have
  been added to the producer's Ongoing transaction.

Error mapping for old request versions (as Kafka's handlers): PRODUCER_FENCED becomes
INVALID_PRODUCER_EPOCH for InitProducerId < v4 and AddPartitionsToTxn/AddOffsetsToTxn/EndTxn < v2.

- Transaction version 2 (KIP-890 part 2, finalized as `transaction.version` 2 in ApiVersions):
  EndTxn v5 bumps the epoch on every completion (markers carry the bumped epoch, so a zombie of
  the previous transaction is fenced in every partition); at an exhausted epoch the producer
  moves to a new producer id (kept as `next_producer_id` in the Prepare record, so a crash
  between the records still completes the move). Partitions join implicitly: Produce v12 and
  TxnOffsetCommit v5 add them (add_for_produce, add_partitions with client_tv 2).

Deliberate differences: the coordinator epoch is always 0 (one node, never fails over); a
timed-out TV2 transaction is fenced with one epoch bump (Kafka bumps once more for the abort;
either way the producer's next request is fenced).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from keystream.kafka.errors import ErrorCode, error_for
from keystream.kafka.groups import records as group_records
from keystream.kafka.internal_topic import InternalTopic
from keystream.kafka.txn import records as rec
from keystream.log.errors import LogError

if TYPE_CHECKING:
    from keystream.engine import Engine
    from keystream.log.partition import PartitionLog

log = logging.getLogger("keystream.kafka.txn")

__all__ = ["TRANSACTION_TOPIC", "TransactionCoordinator", "TxnMetadata", "TxnState"]

TRANSACTION_TOPIC = "__transaction_state"
OFFSETS_TOPIC = "__consumer_offsets"
COORDINATOR_EPOCH = 0
_MAX_EPOCH = 32767


class TxnState(enum.IntEnum):
    """Kafka's TransactionState, with its record ids."""

    EMPTY = 0
    ONGOING = 1
    PREPARE_COMMIT = 2
    PREPARE_ABORT = 3
    COMPLETE_COMMIT = 4
    COMPLETE_ABORT = 5
    DEAD = 6
    PREPARE_EPOCH_FENCE = 7

    @property
    def display(self) -> str:
        return _NAMES[self]


_NAMES = {
    TxnState.EMPTY: "Empty", TxnState.ONGOING: "Ongoing", TxnState.PREPARE_COMMIT: "PrepareCommit",
    TxnState.PREPARE_ABORT: "PrepareAbort", TxnState.COMPLETE_COMMIT: "CompleteCommit",
    TxnState.COMPLETE_ABORT: "CompleteAbort", TxnState.DEAD: "Dead",
    TxnState.PREPARE_EPOCH_FENCE: "PrepareEpochFence",
}
STATE_BY_NAME = {v: k for k, v in _NAMES.items()}
_COMPLETE = (TxnState.EMPTY, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)
_PREPARE = (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT)


@dataclass(slots=True)
class TxnMetadata:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: TxnState = TxnState.EMPTY
    partitions: set[tuple[str, int]] = field(default_factory=set)
    start_ms: int = -1
    last_update_ms: int = -1
    last_producer_id: int = -1
    last_producer_epoch: int = -1
    next_producer_id: int = -1          # TV2: the id the producer gets when this (overflowing) transaction ends
    client_tv: int = 0                  # the client transaction version (2: KIP-890 part 2)


class TransactionCoordinator:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.config = engine.config
        self.txns: dict[str, TxnMetadata] = {}
        self.loading: set[int] = set()
        self._load_task: asyncio.Task[None] | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.topic = InternalTopic(engine, TRANSACTION_TOPIC, "transaction.state.log.num.partitions",
                                   "transaction.state.log.segment.bytes")

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        meta = self.engine.logs.topics.get(TRANSACTION_TOPIC)
        if meta is not None:
            self.loading = set(range(meta.num_partitions))
            self._load_task = loop.create_task(self._load_all(meta.num_partitions))
        self._abort_timed_out_tick()
        self._expire_tick()

    async def stop(self) -> None:
        if self._load_task is not None:
            self._load_task.cancel()
        for t in self._timers.values():
            t.cancel()
        self._timers.clear()

    def now_ms(self) -> int:
        return self.engine.now_ms()

    # -- the state topic -------------------------------------------------------------------
    def num_partitions(self) -> int:
        return self.topic.num_partitions()

    def partition_for(self, transactional_id: str) -> int:
        return self.topic.partition_for(transactional_id)

    def ensure_topic(self) -> None:
        self.topic.ensure()

    def _store(self, txn: TxnMetadata) -> None:
        """Append txn's current state to __transaction_state (LogError if that fails)."""
        plog = self.topic.partition_log(self.partition_for(txn.transactional_id))
        previous = txn.last_producer_id if txn.last_producer_id != txn.producer_id else -1
        value = rec.encode_value(rec.TxnRecord(txn.producer_id, txn.producer_epoch, txn.timeout_ms, int(txn.state),
                                               sorted(txn.partitions), txn.last_update_ms, txn.start_ms,
                                               previous, txn.next_producer_id, txn.client_tv),
                                 empty=txn.state == TxnState.EMPTY)
        now = self.now_ms()
        plog.append(group_records.build_batch([(rec.encode_key(txn.transactional_id), value)], now), now,
                    from_client=False)

    def _tombstone(self, transactional_id: str) -> None:
        partition = self.partition_for(transactional_id)
        plog = self.engine.logs.partition(TRANSACTION_TOPIC, partition)
        if plog is not None:
            now = self.now_ms()
            plog.append(group_records.build_batch([(rec.encode_key(transactional_id), None)], now), now,
                        from_client=False)

    def coordinator_error(self, transactional_id: str) -> int:
        if self.loading and self.partition_for(transactional_id) in self.loading:
            return ErrorCode.coordinator_load_in_progress
        return 0

    # -- loading ---------------------------------------------------------------------------
    async def _load_all(self, count: int) -> None:
        for p in range(count):
            try:
                await self._load_partition(p)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("loading %s-%d failed", TRANSACTION_TOPIC, p)
        # Pending transactional offsets live in the groups: complete nothing before they are loaded.
        while self.engine.groups.loading:
            await asyncio.sleep(0.01)
        for txn in list(self.txns.values()):
            try:
                if txn.state in _PREPARE:
                    self._send_markers_and_complete(txn, txn.state == TxnState.PREPARE_COMMIT)
                elif txn.state == TxnState.PREPARE_EPOCH_FENCE:
                    self._abort(txn, bump=False)
            except LogError:
                log.exception("completing transaction %s after load failed", txn.transactional_id)
        self.loading.clear()
        log.info("transaction coordinator loaded %d transactional ids", len(self.txns))

    async def _load_partition(self, partition: int) -> None:
        found: dict[str, rec.TxnRecord | None] = {}
        async for pos, chunk in self.topic.replay(partition):
            for offset, key, value in group_records.iter_records(chunk):
                if key is None or offset < pos:
                    continue
                try:
                    tid = rec.decode_key(key)
                    if tid is not None:
                        found[tid] = None if value is None else rec.decode_value(value)
                except (ValueError, IndexError, struct.error, UnicodeDecodeError) as e:
                    log.warning("skipping a malformed %s record: %s", TRANSACTION_TOPIC, e)
        for tid, r in found.items():
            if r is None:
                self.txns.pop(tid, None)
                continue
            self.txns[tid] = TxnMetadata(tid, r.producer_id, r.producer_epoch, r.timeout_ms, TxnState(r.status),
                                         set(r.partitions), r.start_ms, r.last_update_ms,
                                         last_producer_id=r.previous_producer_id,
                                         next_producer_id=r.next_producer_id, client_tv=r.client_transaction_version)

    # -- checks shared by the APIs ---------------------------------------------------------
    def _fenced(self, version_supports_fenced: bool) -> int:
        return ErrorCode.producer_fenced if version_supports_fenced else ErrorCode.invalid_producer_epoch

    def _lookup(self, transactional_id: str, pid: int, epoch: int, fenced_ok: bool
                ) -> tuple[int, TxnMetadata | None]:
        err = self.coordinator_error(transactional_id)
        if err:
            return err, None
        txn = self.txns.get(transactional_id)
        if txn is None or txn.producer_id != pid:
            return ErrorCode.invalid_producer_id_mapping, None
        if txn.producer_epoch != epoch:
            return self._fenced(fenced_ok), None
        return 0, txn

    # -- InitProducerId --------------------------------------------------------------------
    def init_producer_id(self, transactional_id: str, timeout_ms: int, given_pid: int, given_epoch: int,
                         version: int) -> tuple[int, int, int]:
        """(error, producer id, epoch) for InitProducerId with a transactional id."""
        if timeout_ms <= 0 or timeout_ms > self.config["transaction.max.timeout.ms"]:
            return ErrorCode.invalid_transaction_timeout, -1, -1
        err = self.coordinator_error(transactional_id)
        if err:
            return err, -1, -1
        now = self.now_ms()
        txn = self.txns.get(transactional_id)
        if txn is None:
            pid = self.engine.producer_ids.generate()
            txn = TxnMetadata(transactional_id, pid, -1, timeout_ms, last_update_ms=now)
            self.txns[transactional_id] = txn
        elif given_pid >= 0:
            if given_pid == txn.producer_id and given_epoch == txn.producer_epoch:
                pass                                              # the current instance: bump
            elif (given_epoch == txn.last_producer_epoch and given_pid in (txn.producer_id, txn.last_producer_id)
                  and txn.state in _COMPLETE):
                return 0, txn.producer_id, txn.producer_epoch      # a retry of a bump that succeeded
            else:
                return self._fenced(version >= 4), -1, -1
        if txn.state in _PREPARE or txn.state == TxnState.PREPARE_EPOCH_FENCE:
            return ErrorCode.concurrent_transactions, -1, -1
        if txn.state == TxnState.ONGOING:
            try:
                self._abort(txn, bump=True)
            except LogError:
                log.exception("aborting the transaction of %s failed", transactional_id)
                return ErrorCode.unknown_server_error, -1, -1
            return ErrorCode.concurrent_transactions, -1, -1
        if txn.state == TxnState.DEAD:
            return ErrorCode.concurrent_transactions, -1, -1
        before = (txn.producer_id, txn.producer_epoch, txn.last_producer_id, txn.last_producer_epoch, txn.timeout_ms,
                  txn.state, txn.last_update_ms)
        # Only a caller naming its (current) epoch may retry this bump; a new instance fences every older one.
        last_epoch = txn.producer_epoch if given_pid >= 0 else -1
        if txn.producer_epoch >= _MAX_EPOCH - 1:
            txn.last_producer_id, txn.last_producer_epoch = txn.producer_id, last_epoch
            txn.producer_id, txn.producer_epoch = self.engine.producer_ids.generate(), 0
        else:
            txn.last_producer_id, txn.last_producer_epoch = txn.producer_id, last_epoch
            txn.producer_epoch += 1
        txn.timeout_ms = timeout_ms
        txn.state = TxnState.EMPTY
        txn.partitions = set()
        txn.start_ms = -1
        txn.last_update_ms = now
        try:
            self._store(txn)
        except LogError:
            log.exception("storing transaction state of %s failed", transactional_id)
            (txn.producer_id, txn.producer_epoch, txn.last_producer_id, txn.last_producer_epoch, txn.timeout_ms,
             txn.state, txn.last_update_ms) = before
            if txn.producer_epoch < 0:
                del self.txns[transactional_id]
            return ErrorCode.unknown_server_error, -1, -1
        return 0, txn.producer_id, txn.producer_epoch

    # -- AddPartitionsToTxn / AddOffsetsToTxn ------------------------------------------------
    def add_partitions(self, transactional_id: str, pid: int, epoch: int, partitions: list[tuple[str, int]],
                       fenced_ok: bool, client_tv: int = 0) -> int:
        """Add partitions to the Ongoing transaction (starting one); client_tv 2 for TV2's implicit adds."""
        err, txn = self._lookup(transactional_id, pid, epoch, fenced_ok)
        if txn is None:
            return err
        if txn.state in _PREPARE or txn.state == TxnState.PREPARE_EPOCH_FENCE:
            return ErrorCode.concurrent_transactions
        if txn.state == TxnState.DEAD:
            return ErrorCode.invalid_txn_state
        new = set(partitions) - txn.partitions
        if txn.state == TxnState.ONGOING and not new:
            return 0
        before = (txn.state, set(txn.partitions), txn.start_ms, txn.last_update_ms)
        now = self.now_ms()
        before_tv = txn.client_tv
        if txn.state != TxnState.ONGOING:
            txn.start_ms = now
            txn.partitions = set()
            txn.client_tv = client_tv
        txn.state = TxnState.ONGOING
        txn.partitions |= set(partitions)
        txn.last_update_ms = now
        try:
            self._store(txn)
        except LogError:
            log.exception("storing transaction state of %s failed", transactional_id)
            txn.state, txn.partitions, txn.start_ms, txn.last_update_ms = before
            txn.client_tv = before_tv
            return ErrorCode.unknown_server_error
        return 0

    def verify_partitions(self, transactional_id: str, pid: int, epoch: int, partitions: list[tuple[str, int]]
                          ) -> int | dict[tuple[str, int], int]:
        """AddPartitionsToTxn v4 verify_only: an error for all, or per partition NONE / INVALID_TXN_STATE."""
        err, txn = self._lookup(transactional_id, pid, epoch, True)
        if txn is None:
            return err
        if txn.state in _PREPARE or txn.state == TxnState.PREPARE_EPOCH_FENCE:
            return ErrorCode.concurrent_transactions
        ongoing = txn.state == TxnState.ONGOING
        return {tp: 0 if ongoing and tp in txn.partitions else ErrorCode.invalid_txn_state for tp in partitions}

    def verify_produce(self, transactional_id: str | None, pid: int, epoch: int, tp: tuple[str, int]) -> int:
        """0 if a transactional batch of (pid, epoch) may go to partition tp (KIP-890 part 1)."""
        if transactional_id is None:
            return ErrorCode.invalid_txn_state
        if self.coordinator_error(transactional_id):
            return ErrorCode.not_enough_replicas       # retriable, as Kafka maps a loading coordinator
        txn = self.txns.get(transactional_id)
        if txn is None or txn.producer_id != pid:
            return ErrorCode.invalid_txn_state
        if epoch < txn.producer_epoch:
            return ErrorCode.invalid_producer_epoch
        if epoch != txn.producer_epoch or txn.state != TxnState.ONGOING or tp not in txn.partitions:
            return ErrorCode.invalid_txn_state
        return 0

    def add_for_produce(self, transactional_id: str | None, pid: int, epoch: int, tp: tuple[str, int]) -> int:
        """Produce v12 (TV2): add tp to the producer's transaction itself; 0 or the produce error.

        As Kafka's broker maps its coordinator's answer: PRODUCER_FENCED is INVALID_PRODUCER_EPOCH,
        a transaction being completed or a loading coordinator is the retriable NOT_ENOUGH_REPLICAS.
        """
        if transactional_id is None:
            return ErrorCode.invalid_txn_state
        err = self.add_partitions(transactional_id, pid, epoch, [tp], True, 2)
        if err == ErrorCode.producer_fenced:
            return ErrorCode.invalid_producer_epoch
        if err in (ErrorCode.concurrent_transactions, ErrorCode.coordinator_load_in_progress):
            return ErrorCode.not_enough_replicas
        return err

    # -- EndTxn ----------------------------------------------------------------------------
    def end_txn(self, transactional_id: str, pid: int, epoch: int, commit: bool, fenced_ok: bool) -> int:
        err, txn = self._lookup(transactional_id, pid, epoch, fenced_ok)
        if txn is None:
            return err
        state = txn.state
        if state == TxnState.ONGOING:
            try:
                self._complete(txn, commit)
            except LogError:
                log.exception("ending the transaction of %s failed", transactional_id)
                return ErrorCode.unknown_server_error
            return 0
        if state == TxnState.COMPLETE_COMMIT:
            return 0 if commit else ErrorCode.invalid_txn_state
        if state == TxnState.COMPLETE_ABORT:
            return ErrorCode.invalid_txn_state if commit else 0
        if state == TxnState.PREPARE_COMMIT:
            return ErrorCode.concurrent_transactions if commit else ErrorCode.invalid_txn_state
        if state == TxnState.PREPARE_ABORT:
            return ErrorCode.invalid_txn_state if commit else ErrorCode.concurrent_transactions
        if state == TxnState.PREPARE_EPOCH_FENCE:
            return ErrorCode.concurrent_transactions
        return ErrorCode.invalid_txn_state

    def end_txn_v2(self, transactional_id: str, pid: int, epoch: int, commit: bool) -> tuple[int, int, int]:
        """EndTxn v5+ (transaction version 2): (error, producer id, epoch) the producer goes on with.

        Every completion bumps the epoch (markers carry the bumped one); an epoch that would reach
        the maximum moves the producer to a new producer id at epoch 0. A retry names the epoch
        before the bump (or the last epoch of the previous id) and gets the same answer again.
        An abort without any partition added (TV2 adds them implicitly, so a client cannot know)
        bumps the epoch without markers.
        """
        err = self.coordinator_error(transactional_id)
        if err:
            return err, -1, -1
        txn = self.txns.get(transactional_id)
        if txn is None:
            return ErrorCode.invalid_producer_id_mapping, -1, -1
        retry_on_overflow = (txn.last_producer_id == pid != txn.producer_id and epoch == _MAX_EPOCH - 1
                             and txn.producer_epoch == 0)
        retry_on_bump = txn.producer_id == pid and txn.producer_epoch == epoch + 1
        if txn.producer_id != pid and not retry_on_overflow:
            return ErrorCode.invalid_producer_id_mapping, -1, -1
        state = txn.state
        if state in _PREPARE:
            valid = retry_on_bump
        elif state in (TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT):
            valid = retry_on_bump or retry_on_overflow or epoch == txn.producer_epoch
        else:
            valid = epoch == txn.producer_epoch
        if not valid:
            return ErrorCode.producer_fenced, -1, -1
        is_retry = retry_on_bump or retry_on_overflow
        if state == TxnState.ONGOING:
            return self._complete_v2(txn, commit)
        if state == TxnState.COMPLETE_COMMIT:
            if commit:
                return (0, txn.producer_id, txn.producer_epoch) if is_retry else (ErrorCode.invalid_txn_state, -1, -1)
            return (ErrorCode.invalid_txn_state, -1, -1) if is_retry else self._complete_v2(txn, False)
        if state == TxnState.COMPLETE_ABORT:
            if not commit:
                return (0, txn.producer_id, txn.producer_epoch) if is_retry else self._complete_v2(txn, False)
            return ErrorCode.invalid_txn_state, -1, -1
        if state == TxnState.PREPARE_COMMIT:
            return (ErrorCode.concurrent_transactions if commit else ErrorCode.invalid_txn_state), -1, -1
        if state == TxnState.PREPARE_ABORT:
            return (ErrorCode.invalid_txn_state if commit else ErrorCode.concurrent_transactions), -1, -1
        if state == TxnState.EMPTY and not commit:
            return self._complete_v2(txn, False)
        return ErrorCode.invalid_txn_state, -1, -1

    def _complete_v2(self, txn: TxnMetadata, commit: bool) -> tuple[int, int, int]:
        before = (txn.producer_epoch, txn.last_producer_epoch, txn.next_producer_id, txn.state, txn.start_ms,
                  txn.last_update_ms, txn.client_tv)
        if txn.producer_epoch >= _MAX_EPOCH - 1:
            txn.next_producer_id = self.engine.producer_ids.generate()
        txn.last_producer_epoch = txn.producer_epoch
        txn.producer_epoch += 1
        txn.client_tv = 2
        if txn.state != TxnState.ONGOING:
            txn.start_ms = self.now_ms()
            txn.partitions = set()
        try:
            self._complete(txn, commit)
        except LogError:
            log.exception("ending the transaction of %s failed", txn.transactional_id)
            if txn.state not in _COMPLETE:
                (txn.producer_epoch, txn.last_producer_epoch, txn.next_producer_id, txn.state, txn.start_ms,
                 txn.last_update_ms, txn.client_tv) = before
            return ErrorCode.unknown_server_error, -1, -1
        return 0, txn.producer_id, txn.producer_epoch

    def _complete(self, txn: TxnMetadata, commit: bool) -> None:
        txn.state = TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT
        txn.last_update_ms = self.now_ms()
        self._store(txn)
        self._send_markers_and_complete(txn, commit)

    def _abort(self, txn: TxnMetadata, bump: bool) -> None:
        """Abort txn's Ongoing transaction, first bumping the epoch to fence its producer."""
        if bump and txn.producer_epoch < _MAX_EPOCH:
            txn.last_producer_epoch = txn.producer_epoch
            txn.producer_epoch += 1
        self._complete(txn, False)

    def _send_markers_and_complete(self, txn: TxnMetadata, commit: bool) -> None:
        markers = sorted(txn.partitions)
        results = self.write_markers(txn.producer_id, txn.producer_epoch, commit, COORDINATOR_EPOCH, markers)
        for tp, code in results.items():
            if code and code != ErrorCode.unknown_topic_or_partition:
                log.error("writing the %s marker of %s in %s-%d failed: %s", "commit" if commit else "abort",
                          txn.transactional_id, tp[0], tp[1], ErrorCode(code).name)
        txn.state = TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT
        txn.partitions = set()
        txn.last_update_ms = self.now_ms()
        if txn.next_producer_id >= 0:                  # TV2 epoch overflow: the producer moves to a new id
            txn.last_producer_id, txn.producer_id, txn.producer_epoch = txn.producer_id, txn.next_producer_id, 0
            txn.next_producer_id = -1
        self._store(txn)

    def write_markers(self, pid: int, epoch: int, commit: bool, coordinator_epoch: int,
                      partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Append a COMMIT/ABORT marker to each partition (WriteTxnMarkers); an error code per partition."""
        out: dict[tuple[str, int], int] = {}
        engine = self.engine
        now = self.now_ms()
        for topic, part in partitions:
            plog: PartitionLog | None = engine.logs.partition(topic, part)
            if plog is None:
                out[(topic, part)] = ErrorCode.unknown_topic_or_partition
                continue
            try:
                plog.append_marker(pid, epoch, commit, coordinator_epoch, now)
            except LogError as e:
                out[(topic, part)] = error_for(e)
                continue
            out[(topic, part)] = 0
            if topic == OFFSETS_TOPIC:
                engine.groups.complete_txn_offsets(part, pid, commit)
            engine.notify_append(topic, part)
        return out

    # -- timers ----------------------------------------------------------------------------
    def _call_later(self, delay_ms: int, job: Callable[[], None]) -> None:
        self._timers[job.__name__] = asyncio.get_running_loop().call_later(delay_ms / 1000, job)

    def _abort_timed_out_tick(self) -> None:
        """Abort (fencing the producer) every Ongoing transaction past its timeout."""
        try:
            self.abort_timed_out(self.now_ms())
        except Exception:
            log.exception("aborting timed-out transactions failed")
        self._call_later(self.config["transaction.abort.timed.out.transaction.cleanup.interval.ms"],
                         self._abort_timed_out_tick)

    def abort_timed_out(self, now: int) -> None:
        for txn in list(self.txns.values()):
            if (txn.state == TxnState.ONGOING and txn.start_ms >= 0 and now - txn.start_ms > txn.timeout_ms
                    and not self.coordinator_error(txn.transactional_id)):
                log.info("aborting the transaction of %s: past its timeout of %d ms", txn.transactional_id,
                         txn.timeout_ms)
                self._abort(txn, bump=True)

    def _expire_tick(self) -> None:
        try:
            self.expire(self.now_ms())
        except Exception:
            log.exception("expiring transactional ids failed")
        self._call_later(self.config["transaction.remove.expired.transaction.cleanup.interval.ms"],
                         self._expire_tick)

    def expire(self, now: int) -> None:
        ttl = self.config["transactional.id.expiration.ms"]
        for tid, txn in list(self.txns.items()):
            if txn.state in _COMPLETE and now - txn.last_update_ms >= ttl and not self.coordinator_error(tid):
                self._tombstone(tid)
                del self.txns[tid]

    # -- describing --------------------------------------------------------------------------
    def describe(self, transactional_id: str) -> tuple[int, TxnMetadata | None]:
        err = self.coordinator_error(transactional_id)
        if err:
            return err, None
        txn = self.txns.get(transactional_id)
        if txn is None:
            return ErrorCode.transactional_id_not_found, None
        return 0, txn

    def list(self, states: set[str], pids: set[int], min_duration_ms: int) -> tuple[int, set[str], list[TxnMetadata]]:
        """(error, unknown state filters, matching transactions); COORDINATOR_LOAD_IN_PROGRESS while loading."""
        if self.loading:
            return ErrorCode.coordinator_load_in_progress, set(), []
        unknown = {s for s in states if s not in STATE_BY_NAME}
        now = self.now_ms()
        out = []
        for txn in self.txns.values():
            if states and txn.state.display not in states:
                continue
            if pids and txn.producer_id not in pids:
                continue
            if min_duration_ms >= 0 and (txn.state != TxnState.ONGOING or now - txn.start_ms < min_duration_ms):
                continue
            out.append(txn)
        return 0, unknown, out
