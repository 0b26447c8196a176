"""The transaction coordinator in-process: load in progress, replay, timeouts on a fake clock,
expiry, and the records of `__transaction_state` in Kafka's schemas."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from keystream.config import Config
from keystream.engine import Engine
from keystream.kafka.errors import ErrorCode
from keystream.kafka.txn import records as rec
from keystream.kafka.txn.coordinator import TRANSACTION_TOPIC, TransactionCoordinator, TxnState


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    config = Config()
    for name, text in (("dir", str(tmp_path)), ("kafka-port", "0"), ("transaction.state.log.num.partitions", "2")):
        config.set_text(name, text)
    yield Engine(config)        # the coordinators are the engine's: no Kafka listener needed


def run(engine: Engine, body) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        await engine.start()
        try:
            await body()
        finally:
            await engine.stop()

    asyncio.run(main())


def test_records_round_trip_in_kafkas_layout() -> None:
    key = rec.encode_key("tid")
    assert key == b"\x00\x00\x00\x03tid" and rec.decode_key(key) == "tid"
    r = rec.TxnRecord(7, 3, 60000, 1, [("b", 1), ("a", 0), ("a", 2)], 1000, 900)
    value = rec.encode_value(r, empty=False, version=0)
    # version 0, pid, epoch, timeout, status, 2 topics: "a" [0, 2], "b" [1], last update, start
    head = (7).to_bytes(8, "big") + b"\x00\x03" + (60000).to_bytes(4, "big") + b"\x01"
    assert value[:17] == b"\x00\x00" + head
    back = rec.decode_value(value)
    assert back is not None and sorted(back.partitions) == [("a", 0), ("a", 2), ("b", 1)]
    assert (back.last_update_ms, back.start_ms) == (1000, 900)
    empty = rec.encode_value(rec.TxnRecord(7, 3, 60000, 0, [], 1, -1), empty=True, version=0)
    assert empty[17:21] == b"\xff\xff\xff\xff"                 # null partitions for Empty
    assert rec.decode_value(b"\x00\x02" + value[2:]) is None   # a version we do not read
    # version 1 (what Kafka 4.0 writes): compact arrays and strings, tagged fields only when not default
    tail = (1000).to_bytes(8, "big") + (900).to_bytes(8, "big")
    v1 = rec.encode_value(r, empty=False)
    assert v1 == (b"\x00\x01" + head + b"\x03" + b"\x02a\x03" + (0).to_bytes(4, "big") + (2).to_bytes(4, "big")
                  + b"\x00" + b"\x02b\x02" + (1).to_bytes(4, "big") + b"\x00" + tail + b"\x00")
    assert rec.decode_value(v1) == rec.TxnRecord(7, 3, 60000, 1, sorted(r.partitions), 1000, 900)
    tagged = rec.TxnRecord(7, 3, 60000, 4, [], 1000, 900, previous_producer_id=5, next_producer_id=-1,
                           client_transaction_version=2)
    v1 = rec.encode_value(tagged, empty=False)
    assert v1.endswith(tail + b"\x02" + b"\x00\x08" + (5).to_bytes(8, "big") + b"\x02\x02\x00\x02")
    assert rec.decode_value(v1) == tagged
    assert rec.encode_value(rec.TxnRecord(7, 3, 60000, 0, [], 1, -1), empty=True)[17] == 0   # null compact array


def test_load_in_progress_then_replayed_state(engine: Engine) -> None:
    async def body() -> None:
        err, pid, epoch = engine.txn.init_producer_id("t1", 60000, -1, -1, 4)
        assert (err, epoch) == (0, 0)
        engine.logs.create_topic("data", 1, {})
        assert engine.txn.add_partitions("t1", pid, epoch, [("data", 0)], True) == 0
        fresh = TransactionCoordinator(engine)
        fresh.start()
        assert fresh.init_producer_id("t1", 60000, -1, -1, 4)[0] == ErrorCode.coordinator_load_in_progress
        assert fresh.describe("t1")[0] == ErrorCode.coordinator_load_in_progress
        assert fresh.list(set(), set(), -1)[0] == ErrorCode.coordinator_load_in_progress
        while fresh.loading:
            await asyncio.sleep(0.01)
        err, txn = fresh.describe("t1")
        assert err == 0 and txn is not None
        assert (txn.producer_id, txn.producer_epoch, txn.state, txn.partitions) == \
            (pid, epoch, TxnState.ONGOING, {("data", 0)})
        await fresh.stop()

    run(engine, body)


def test_timed_out_transaction_is_aborted_with_a_bumped_epoch(engine: Engine) -> None:
    async def body() -> None:
        engine.logs.create_topic("data", 1, {})
        _err, pid, epoch = engine.txn.init_producer_id("t2", 1000, -1, -1, 4)
        assert engine.txn.add_partitions("t2", pid, epoch, [("data", 0)], True) == 0
        txn = engine.txn.txns["t2"]
        engine.txn.abort_timed_out(txn.start_ms + 1000)            # not past the timeout yet
        assert txn.state == TxnState.ONGOING
        engine.txn.abort_timed_out(txn.start_ms + 1001)
        assert (txn.state, txn.producer_epoch) == (TxnState.COMPLETE_ABORT, epoch + 1)
        plog = engine.logs.partition("data", 0)
        assert plog is not None and plog.log_end_offset == 1         # the ABORT marker
        # the late producer is fenced
        assert engine.txn.end_txn("t2", pid, epoch, True, True) == ErrorCode.producer_fenced

    run(engine, body)


def test_expired_ids_are_tombstoned(engine: Engine) -> None:
    async def body() -> None:
        _err, pid, _epoch = engine.txn.init_producer_id("t3", 1000, -1, -1, 4)
        txn = engine.txn.txns["t3"]
        ttl = engine.config["transactional.id.expiration.ms"]
        engine.txn.expire(txn.last_update_ms + ttl - 1)
        assert "t3" in engine.txn.txns
        engine.txn.expire(txn.last_update_ms + ttl)
        assert "t3" not in engine.txn.txns
        plog = engine.logs.partition(TRANSACTION_TOPIC, engine.txn.partition_for("t3"))
        assert plog is not None
        fresh = TransactionCoordinator(engine)
        fresh.start()
        while fresh.loading:
            await asyncio.sleep(0.01)
        assert fresh.describe("t3")[0] == ErrorCode.transactional_id_not_found
        assert fresh.init_producer_id("t3", 1000, -1, -1, 4)[1] != pid
        await fresh.stop()

    run(engine, body)


def test_tv2_epoch_overflow_moves_to_a_new_producer_id(engine: Engine) -> None:
    async def body() -> None:
        engine.logs.create_topic("data", 1, {})
        _err, pid, _epoch = engine.txn.init_producer_id("t5", 60000, -1, -1, 5)
        txn = engine.txn.txns["t5"]
        last = 32766                                   # Short.MAX_VALUE - 1: the bump exhausts the epoch
        txn.producer_epoch = last
        assert engine.txn.add_partitions("t5", pid, last, [("data", 0)], True, 2) == 0
        err, new_pid, new_epoch = engine.txn.end_txn_v2("t5", pid, last, True)
        assert err == 0 and new_pid != pid and new_epoch == 0
        assert (txn.producer_id, txn.producer_epoch, txn.last_producer_id, txn.state) == \
            (new_pid, 0, pid, TxnState.COMPLETE_COMMIT)
        plog = engine.logs.partition("data", 0)
        assert plog is not None and plog.producers.producers[pid].epoch == 32767      # the marker's epoch
        assert engine.txn.end_txn_v2("t5", pid, last, True) == (0, new_pid, 0)       # retry of the old id
        assert engine.txn.end_txn_v2("t5", pid, last, False)[0] == ErrorCode.invalid_txn_state
        assert engine.txn.end_txn_v2("t5", pid, 5, True)[0] == ErrorCode.invalid_producer_id_mapping
        # the new id and the previous one are in the state record and replayed
        fresh = TransactionCoordinator(engine)
        fresh.start()
        while fresh.loading:
            await asyncio.sleep(0.01)
        back = fresh.txns["t5"]
        assert (back.producer_id, back.producer_epoch, back.last_producer_id, back.client_tv) == (new_pid, 0, pid, 2)
        await fresh.stop()

    run(engine, body)


def test_tv2_prepare_with_a_new_producer_id_completes_after_a_crash(engine: Engine) -> None:
    async def body() -> None:
        engine.logs.create_topic("data", 1, {})
        _err, pid, _epoch = engine.txn.init_producer_id("t6", 60000, -1, -1, 5)
        txn = engine.txn.txns["t6"]
        txn.producer_epoch = 32766
        assert engine.txn.add_partitions("t6", pid, 32766, [("data", 0)], True, 2) == 0
        # what a crash right after the PrepareCommit record leaves: bumped epoch, next id staged
        txn.state, txn.producer_epoch, txn.next_producer_id = TxnState.PREPARE_COMMIT, 32767, 4242
        engine.txn._store(txn)
        fresh = TransactionCoordinator(engine)
        fresh.start()
        while fresh.loading:
            await asyncio.sleep(0.01)
        back = fresh.txns["t6"]
        assert (back.state, back.producer_id, back.producer_epoch, back.next_producer_id) == \
            (TxnState.COMPLETE_COMMIT, 4242, 0, -1)
        plog = engine.logs.partition("data", 0)
        assert plog is not None and plog.log_end_offset == 1            # the COMMIT marker, at epoch 32767
        await fresh.stop()

    run(engine, body)
