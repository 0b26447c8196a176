"""The transaction APIs over raw sockets, each at its lowest and highest advertised version.

FindCoordinator (key type 1), InitProducerId, AddPartitionsToTxn (v5 batched + verify-only),
AddOffsetsToTxn, TxnOffsetCommit, EndTxn, WriteTxnMarkers, DescribeTransactions,
ListTransactions, DescribeProducers; transactional Produce checks; read_committed Fetch and
ListOffsets; OffsetFetch require_stable.
"""

from __future__ import annotations

import datetime
import itertools
import shutil
import socket
import struct
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from keystream.kafka.codec import messages
from tests.conftest import ServerHandle, start_keystream, wait_until
from tests.integration.kafka.test_protocol import connect, frame, read_frame, response
from tests.unit.log.test_producer_state import idem_batch

NONE, OUT_OF_RANGE, UNKNOWN_TP, COORD_LOADING, INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE = 0, 1, 3, 14, 47, 48
INVALID_MAPPING, INVALID_TIMEOUT, CONCURRENT, FENCED_COORD, NOT_FOUND = 49, 50, 51, 52, 105
PRODUCER_FENCED, ABORTABLE, UNSTABLE, NOT_ATTEMPTED, INVALID_REQUEST, INVALID_TOPIC = 90, 120, 88, 55, 42, 17

_corr = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    h = start_keystream("--transaction.state.log.num.partitions", "2", "--offsets.topic.num.partitions", "2",
                        "--transaction.max.timeout.ms", "300000", kafka=True)
    yield h
    h.stop()


@pytest.fixture
def sock(server: ServerHandle) -> Iterator[socket.socket]:
    with connect(server) as s:
        yield s


def build(key: int, version: int, cls: str, **fields: Any) -> Any:
    mod = __import__(messages.request_class(key, version).__module__, fromlist=["x"])
    return messages.build(getattr(mod, cls), **fields)


def call(sock: socket.socket, api_key: int, version: int, /, **fields: Any) -> Any:
    req = messages.build(messages.request_class(api_key, version), **fields)
    corr = next(_corr)
    sock.sendall(frame(api_key, version, corr, messages.encode(req)))
    got, resp = response(sock, api_key, version)
    assert got == corr
    return resp


def create_topic(sock: socket.socket, partitions: int = 1) -> str:
    name = "rt-" + uuid.uuid4().hex[:10]
    t = build(19, 7, "CreatableTopic", name=name, num_partitions=partitions, replication_factor=1,
              assignments=(), configs=())
    r = call(sock, 19, 7, topics=(t,), timeout=datetime.timedelta(seconds=5), validate_only=False)
    assert r.topics[0].error_code == 0
    return name


def init_pid(sock: socket.socket, tid: str, version: int = 5, pid: int = -1, epoch: int = -1,
             timeout_ms: int = 60000) -> Any:
    return call(sock, 22, version, transactional_id=tid, transaction_timeout=datetime.timedelta(milliseconds=timeout_ms),
                producer_id=pid, producer_epoch=epoch)


def add_partitions(sock: socket.socket, tid: str, pid: int, epoch: int, topic: str, parts: tuple[int, ...],
                   version: int = 3) -> list[int]:
    t = build(24, version, "AddPartitionsToTxnTopic", name=topic, partitions=parts)
    r = call(sock, 24, version, v3_and_below_transactional_id=tid, v3_and_below_producer_id=pid,
             v3_and_below_producer_epoch=epoch, v3_and_below_topics=(t,))
    return [p.partition_error_code for p in r.results_by_topic_v3_and_below[0].results_by_partition]


def produce(sock: socket.socket, topic: str, records: bytes, tid: str | None, version: int = 9,
            partition: int = 0) -> Any:
    req = build(0, version, "ProduceRequest", transactional_id=tid, acks=-1, timeout=datetime.timedelta(seconds=5),
                topic_data=(build(0, version, "TopicProduceData", name=topic, partition_data=(
                    build(0, version, "PartitionProduceData", index=partition, records=records),)),))
    corr = next(_corr)
    sock.sendall(frame(0, version, corr, messages.encode(req)))
    return response(sock, 0, version)[1].responses[0].partition_responses[0]


def end_txn(sock: socket.socket, tid: str, pid: int, epoch: int, commit: bool, version: int = 4) -> int:
    return call(sock, 26, version, transactional_id=tid, producer_id=pid, producer_epoch=epoch,
                committed=commit).error_code


def fetch(sock: socket.socket, topic: str, offset: int, isolation: int, version: int = 12) -> Any:
    p = build(1, version, "FetchPartition", partition=0, current_leader_epoch=-1, fetch_offset=offset,
              last_fetched_epoch=-1, log_start_offset=-1, partition_max_bytes=1 << 20)
    t = build(1, version, "FetchTopic", topic=topic, partitions=(p,))
    r = call(sock, 1, version, replica_id=-1, max_wait=datetime.timedelta(0), min_bytes=0, max_bytes=1 << 20,
             isolation_level=isolation, session_id=0, session_epoch=-1, topics=(t,), forgotten_topics_data=(),
             rack_id="")
    return r.responses[0].partitions[0]


def list_latest(sock: socket.socket, topic: str, isolation: int, version: int) -> int:
    p = build(2, version, "ListOffsetsPartition", partition_index=0, current_leader_epoch=-1, timestamp=-1)
    r = call(sock, 2, version, replica_id=-1, isolation_level=isolation,
             topics=(build(2, version, "ListOffsetsTopic", name=topic, partitions=(p,)),))
    return r.topics[0].partitions[0].offset


def txn_batch(n: int, pid: int, epoch: int, seq: int) -> bytes:
    """A transactional batch stamped now (an old timestamp would roll the segment before a marker)."""
    return idem_batch(n, pid, epoch, seq, ts=int(time.time() * 1000), transactional=True)


def batch_bases(records: bytes | None) -> list[tuple[int, int]]:
    """(base offset, attributes) of each batch in a fetch response's records."""
    out = []
    pos = 0
    data = records or b""
    while pos + 61 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        (attrs,) = struct.unpack_from(">h", data, pos + 21)
        out.append((base, attrs))
        pos += 12 + length
    return out


def test_find_coordinator_for_transactions(server: ServerHandle, sock: socket.socket) -> None:
    r = call(sock, 10, 1, key="tid-a", key_type=1)
    assert (r.error_code, r.node_id, r.port) == (0, 0, server.kafka_port)
    r = call(sock, 10, 4, key_type=1, coordinator_keys=("tid-a", ""))
    assert [(c.key, c.error_code) for c in r.coordinators] == [("tid-a", 0), ("", INVALID_REQUEST)]
    r = call(sock, 10, 1, key="", key_type=1)
    assert r.error_code == INVALID_REQUEST


def test_init_producer_id_bumps_and_fences(sock: socket.socket) -> None:
    tid = "ipi-" + uuid.uuid4().hex[:6]
    r0 = init_pid(sock, tid, version=0)
    assert (r0.error_code, r0.producer_epoch) == (0, 0) and r0.producer_id >= 0
    r1 = init_pid(sock, tid, version=5, pid=r0.producer_id, epoch=0)
    assert (r1.error_code, r1.producer_id, r1.producer_epoch) == (0, r0.producer_id, 1)
    # a retry of that bump gets the same answer; an old epoch is fenced
    assert init_pid(sock, tid, 5, r0.producer_id, 0).producer_epoch == 1
    assert init_pid(sock, tid, 5, r0.producer_id + 999, 0).error_code == PRODUCER_FENCED
    assert init_pid(sock, tid, 3, r0.producer_id + 999, 0).error_code == INVALID_PRODUCER_EPOCH
    assert init_pid(sock, tid, 5, timeout_ms=300001).error_code == INVALID_TIMEOUT
    assert init_pid(sock, tid, 5, timeout_ms=0).error_code == INVALID_TIMEOUT
    assert init_pid(sock, tid, 5).producer_epoch == 2        # no producer id given: always a bump


def test_full_transaction_lowest_versions(sock: socket.socket) -> None:
    topic = create_topic(sock)
    tid = "low-" + uuid.uuid4().hex[:6]
    r = init_pid(sock, tid, version=0)
    pid, epoch = r.producer_id, r.producer_epoch
    # produce before AddPartitionsToTxn: refused
    refused = produce(sock, topic, txn_batch(2, pid, epoch, 0), tid, version=3)
    assert refused.error_code == INVALID_TXN_STATE
    assert add_partitions(sock, tid, pid, epoch, topic, (0,), version=0) == [0]
    assert add_partitions(sock, tid, pid, epoch, "no-such-topic", (0,), version=0) == [UNKNOWN_TP]
    assert add_partitions(sock, tid, pid, epoch + 1, topic, (0,), version=0) == [INVALID_PRODUCER_EPOCH]
    assert add_partitions(sock, tid, pid + 1, epoch, topic, (0,), version=0) == [INVALID_MAPPING]
    assert add_partitions(sock, "nobody", pid, epoch, topic, (0,), version=0) == [INVALID_MAPPING]
    # a transactional batch without the request's transactional id, or from an older epoch
    assert produce(sock, topic, txn_batch(1, pid, epoch, 0), None, 3).error_code \
        == INVALID_TXN_STATE
    ok = produce(sock, topic, txn_batch(2, pid, epoch, 0), tid, version=3)
    assert (ok.error_code, ok.base_offset) == (0, 0)
    assert list_latest(sock, topic, 1, 2) == 0 and list_latest(sock, topic, 0, 2) == 2
    assert call(sock, 25, 0, transactional_id=tid, producer_id=pid, producer_epoch=epoch,
                group_id="g-low").error_code == 0
    part = build(28, 0, "TxnOffsetCommitRequestPartition", partition_index=0, committed_offset=17,
                 committed_metadata="m")
    tr = call(sock, 28, 0, transactional_id=tid, group_id="g-low", producer_id=pid, producer_epoch=epoch,
              topics=(build(28, 0, "TxnOffsetCommitRequestTopic", name=topic, partitions=(part,)),))
    assert tr.topics[0].partitions[0].error_code == 0
    assert end_txn(sock, tid, pid, epoch, True, version=0) == 0
    assert end_txn(sock, tid, pid, epoch, True, version=0) == 0               # a retry
    assert end_txn(sock, tid, pid, epoch, False, version=0) == INVALID_TXN_STATE
    assert list_latest(sock, topic, 1, 2) == 3                                 # the marker is offset 2
    f = fetch(sock, topic, 0, 1, version=4)
    assert [b for b, _a in batch_bases(f.records)] == [0, 2]
    assert (f.high_watermark, f.last_stable_offset) == (3, 3)
    of = call(sock, 9, 1, group_id="g-low", topics=(build(9, 1, "OffsetFetchRequestTopic", name=topic,
                                                          partition_indexes=(0,)),))
    assert of.topics[0].partitions[0].committed_offset == 17


def test_full_transaction_highest_versions_with_abort(sock: socket.socket) -> None:
    topic = create_topic(sock)
    tid = "high-" + uuid.uuid4().hex[:6]
    r = init_pid(sock, tid, version=5)
    pid, epoch = r.producer_id, r.producer_epoch
    txn = build(24, 5, "AddPartitionsToTxnTransaction", transactional_id=tid, producer_id=pid, producer_epoch=epoch,
                verify_only=False, topics=(build(24, 5, "AddPartitionsToTxnTopic", name=topic, partitions=(0,)),))
    r5 = call(sock, 24, 5, transactions=(txn,))
    assert r5.error_code == 0
    assert r5.results_by_transaction[0].topic_results[0].results_by_partition[0].partition_error_code == 0
    # verify-only: partition 0 is in the transaction, the group partition not
    verify = build(24, 5, "AddPartitionsToTxnTransaction", transactional_id=tid, producer_id=pid,
                   producer_epoch=epoch, verify_only=True, topics=(
                       build(24, 5, "AddPartitionsToTxnTopic", name=topic, partitions=(0,)),
                       build(24, 5, "AddPartitionsToTxnTopic", name="__consumer_offsets", partitions=(0,))))
    rv = call(sock, 24, 5, transactions=(verify,))
    codes = [[p.partition_error_code for p in t.results_by_partition]
             for t in rv.results_by_transaction[0].topic_results]
    assert codes == [[0], [INVALID_TXN_STATE]]
    assert produce(sock, topic, txn_batch(3, pid, epoch, 0), tid).error_code == 0
    # TxnOffsetCommit before AddOffsetsToTxn: TRANSACTION_ABORTABLE at v4
    part = build(28, 4, "TxnOffsetCommitRequestPartition", partition_index=0, committed_offset=3,
                 committed_leader_epoch=-1, committed_metadata=None)
    topics = (build(28, 4, "TxnOffsetCommitRequestTopic", name=topic, partitions=(part,)),)
    args = {"transactional_id": tid, "group_id": "g-high", "producer_id": pid, "producer_epoch": epoch,
            "generation_id": -1, "member_id": "", "group_instance_id": None, "topics": topics}
    assert call(sock, 28, 4, **args).topics[0].partitions[0].error_code == ABORTABLE
    assert call(sock, 25, 4, transactional_id=tid, producer_id=pid, producer_epoch=epoch,
                group_id="g-high").error_code == 0
    assert call(sock, 28, 4, **args).topics[0].partitions[0].error_code == 0
    # the pending offset is unstable for require_stable fetchers
    of = call(sock, 9, 7, group_id="g-high", require_stable=True, topics=(
        build(9, 7, "OffsetFetchRequestTopic", name=topic, partition_indexes=(0,)),))
    assert (of.topics[0].partitions[0].error_code, of.topics[0].partitions[0].committed_offset) == (UNSTABLE, -1)
    # describe while Ongoing
    d = call(sock, 65, 0, transactional_ids=(tid,)).transaction_states
    assert (d[0].transaction_state, d[0].producer_id, d[0].producer_epoch) == ("Ongoing", pid, epoch)
    assert max((t.topic, tuple(t.partitions)) for t in d[0].topics) == (topic, (0,))
    # an unknown id: TRANSACTIONAL_ID_NOT_FOUND with start time -1 (which kio will not decode)
    req = messages.build(messages.request_class(65, 0), transactional_ids=("no-such-id",))
    sock.sendall(frame(65, 0, 99, messages.encode(req)))
    raw = read_frame(sock)
    assert struct.unpack_from(">ibibh", raw, 0) == (99, 0, 0, 2, NOT_FOUND)   # corr, tags, throttle, 1 state
    dp = call(sock, 61, 0, topics=(build(61, 0, "TopicRequest", name=topic, partition_indexes=(0, 9)),))
    parts = dp.topics[0].partitions
    st = next(a for a in parts[0].active_producers if a.producer_id == pid)
    assert (st.current_txn_start_offset, st.last_sequence, parts[1].error_code) == (0, 2, UNKNOWN_TP)
    lt = call(sock, 66, 1, state_filters=("Ongoing", "Bogus"), producer_id_filters=(pid,), duration_filter=0)
    assert [t.transactional_id for t in lt.transaction_states] == [tid] and lt.unknown_state_filters == ("Bogus",)
    assert [t.transactional_id for t in call(sock, 66, 1, state_filters=("Ongoing",), producer_id_filters=(pid,),
                                             duration_filter=3_600_000).transaction_states] == []
    assert end_txn(sock, tid, pid, epoch, False, version=4) == 0
    assert end_txn(sock, tid, pid, epoch + 1, False, version=4) == PRODUCER_FENCED
    assert end_txn(sock, tid, pid, epoch + 1, False, version=1) == INVALID_PRODUCER_EPOCH
    # read_committed: the aborted transaction is listed; read_uncommitted gets null
    f = fetch(sock, topic, 0, 1, version=13 - 1)
    assert [(a.producer_id, a.first_offset) for a in f.aborted_transactions] == [(pid, 0)]
    assert batch_bases(f.records)[-1] == (3, 0x30)            # the ABORT marker, a control batch
    assert fetch(sock, topic, 0, 0).aborted_transactions is None
    assert list_latest(sock, topic, 1, 7) == 4
    of = call(sock, 9, 7, group_id="g-high", require_stable=True, topics=(
        build(9, 7, "OffsetFetchRequestTopic", name=topic, partition_indexes=(0,)),))
    assert (of.topics[0].partitions[0].error_code, of.topics[0].partitions[0].committed_offset) == (0, -1)
    assert call(sock, 66, 0, state_filters=("CompleteAbort",), producer_id_filters=()).transaction_states


def test_init_producer_id_aborts_the_open_transaction_first(sock: socket.socket) -> None:
    topic = create_topic(sock)
    tid = "conc-" + uuid.uuid4().hex[:6]
    r = init_pid(sock, tid)
    pid, epoch = r.producer_id, r.producer_epoch
    assert add_partitions(sock, tid, pid, epoch, topic, (0,)) == [0]
    assert produce(sock, topic, txn_batch(1, pid, epoch, 0), tid).error_code == 0
    assert init_pid(sock, tid).error_code == CONCURRENT          # aborted with epoch+1 meanwhile
    r2 = init_pid(sock, tid)
    assert (r2.error_code, r2.producer_id, r2.producer_epoch) == (0, pid, epoch + 2)
    f = fetch(sock, topic, 0, 1)
    assert [(a.producer_id, a.first_offset) for a in f.aborted_transactions] == [(pid, 0)]
    # the zombie's late write is refused
    late = produce(sock, topic, txn_batch(1, pid, epoch, 1), tid)
    assert late.error_code == INVALID_PRODUCER_EPOCH


def test_write_txn_markers(sock: socket.socket) -> None:
    topic = create_topic(sock, 2)
    tid = "wtm-" + uuid.uuid4().hex[:6]
    init_pid(sock, tid)
    r = init_pid(sock, tid)
    pid, epoch = r.producer_id, r.producer_epoch
    assert epoch == 1
    assert add_partitions(sock, tid, pid, epoch, topic, (0,)) == [0]
    assert produce(sock, topic, txn_batch(2, pid, epoch, 0), tid).error_code == 0

    def marker(ep: int, commit: bool, coordinator_epoch: int, parts: tuple[int, ...]) -> list[int]:
        m = build(27, 1, "WritableTxnMarker", producer_id=pid, producer_epoch=ep, transaction_result=commit,
                  topics=(build(27, 1, "WritableTxnMarkerTopic", name=topic, partition_indexes=parts),),
                  coordinator_epoch=coordinator_epoch)
        res = call(sock, 27, 1, markers=(m,)).markers[0]
        assert res.producer_id == pid
        return [p.error_code for p in res.topics[0].partitions]

    assert marker(epoch, False, 3, (0, 1, 7)) == [0, 0, UNKNOWN_TP]
    f = fetch(sock, topic, 0, 1)
    assert f.last_stable_offset == 3 and [(a.producer_id, a.first_offset) for a in f.aborted_transactions] == \
        [(pid, 0)]
    assert marker(epoch - 1, True, 3, (0,)) == [INVALID_PRODUCER_EPOCH]
    assert marker(epoch, True, 2, (0,)) == [FENCED_COORD]


def test_transactional_produce_to_internal_topic_is_refused(sock: socket.socket) -> None:
    tid = "int-" + uuid.uuid4().hex[:6]
    r = init_pid(sock, tid)
    call(sock, 10, 1, key="g", key_type=0)          # creates __consumer_offsets
    batch = txn_batch(1, r.producer_id, r.producer_epoch, 0)
    assert produce(sock, "__consumer_offsets", batch, tid).error_code == INVALID_TOPIC


def test_fetch_offset_between_lso_and_high_watermark(sock: socket.socket) -> None:
    topic = create_topic(sock)
    tid = "gap-" + uuid.uuid4().hex[:6]
    r = init_pid(sock, tid)
    pid, epoch = r.producer_id, r.producer_epoch
    assert add_partitions(sock, tid, pid, epoch, topic, (0,)) == [0]
    assert produce(sock, topic, txn_batch(2, pid, epoch, 0), tid).error_code == 0
    f = fetch(sock, topic, 1, 1)
    assert (f.error_code, f.high_watermark, f.last_stable_offset, f.records) == (0, 2, 0, None) or \
        (f.error_code, f.high_watermark, f.last_stable_offset, len(f.records or b"")) == (0, 2, 0, 0)
    assert fetch(sock, topic, 3, 1).error_code == OUT_OF_RANGE
    assert end_txn(sock, tid, pid, epoch, True) == 0


def test_state_is_replayed_at_start_and_ids_expire() -> None:
    data = tempfile.mkdtemp(prefix="ks-txnexp-")
    args = ("--transaction.state.log.num.partitions", "2", "--transactional.id.expiration.ms", "1500",
            "--transaction.remove.expired.transaction.cleanup.interval.ms", "100")
    try:
        h = start_keystream(*args, data_dir=data, kafka=True)
        with connect(h) as s:
            first = init_pid(s, "kept")
            assert first.error_code == 0
        h.stop()
        h = start_keystream(*args, "--kafka-port", str(h.kafka_port), data_dir=data, kafka=True)
        with connect(h) as s:
            wait_until(lambda: init_pid(s, "kept").error_code != COORD_LOADING, what="the state load")
            # replayed: the same producer id, and the epoch went on (the wait's call bumped it once)
            again = init_pid(s, "kept")
            assert (again.producer_id, again.producer_epoch) == (first.producer_id, first.producer_epoch + 2)
            # 1.5 s after its last transaction ended (here: the last bump) the id is forgotten
            wait_until(lambda: call(s, 66, 0, state_filters=(), producer_id_filters=()).transaction_states == (),
                       timeout=10, what="the id's expiry")
            fresh = init_pid(s, "kept")
            assert fresh.producer_id != first.producer_id and fresh.producer_epoch == 0
        h.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_zombie_cannot_take_the_epoch_of_a_new_instance(sock: socket.socket) -> None:
    tid = "zmb-" + uuid.uuid4().hex[:6]
    zombie = init_pid(sock, tid)
    new = init_pid(sock, tid)                      # a new instance: no producer id given
    assert new.producer_epoch == zombie.producer_epoch + 1
    # the zombie's KIP-360 re-initialisation with its old epoch is fenced, not a "retry"
    assert init_pid(sock, tid, 5, zombie.producer_id, zombie.producer_epoch).error_code == PRODUCER_FENCED
    # while the current instance may bump (and retry that bump)
    bumped = init_pid(sock, tid, 5, new.producer_id, new.producer_epoch)
    assert bumped.producer_epoch == new.producer_epoch + 1
    again = init_pid(sock, tid, 5, new.producer_id, new.producer_epoch)
    assert (again.error_code, again.producer_epoch) == (0, bumped.producer_epoch)


def test_every_batch_of_a_produce_is_verified(sock: socket.socket) -> None:
    topic = create_topic(sock)
    tid = "multi-" + uuid.uuid4().hex[:6]
    r = init_pid(sock, tid)
    pid, epoch = r.producer_id, r.producer_epoch
    assert add_partitions(sock, tid, pid, epoch, topic, (0,)) == [0]
    plain = idem_batch(1, pid + 1, 0, 0, ts=int(time.time() * 1000))
    # a plain idempotent batch first, then a transactional one of another (unverified) producer
    stranger = idem_batch(1, pid + 2, 0, 0, ts=int(time.time() * 1000), transactional=True)
    assert produce(sock, topic, plain + stranger, tid).error_code == INVALID_TXN_STATE
    assert produce(sock, topic, plain + txn_batch(1, pid, epoch, 0), tid).error_code == 0
    assert end_txn(sock, tid, pid, epoch, True) == 0
