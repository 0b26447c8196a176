"""Transaction version 2 (KIP-890 part 2) over raw sockets, as a Kafka 4.0 Java producer drives it.

ApiVersions finalizes `transaction.version` 2; the producer then sends no AddPartitionsToTxn
or AddOffsetsToTxn: Produce v12 and TxnOffsetCommit v5 add the partitions, and EndTxn v5
bumps the epoch on every completion and answers the epoch to go on with.
"""

from __future__ import annotations

import socket
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerHandle, start_keystream
from tests.integration.kafka.test_protocol import connect
from tests.integration.kafka.test_txn_protocol import (
    ABORTABLE,
    INVALID_MAPPING,
    INVALID_PRODUCER_EPOCH,
    INVALID_TXN_STATE,
    PRODUCER_FENCED,
    batch_bases,
    build,
    call,
    create_topic,
    fetch,
    init_pid,
    produce,
    txn_batch,
)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    h = start_keystream("--transaction.state.log.num.partitions", "2", "--offsets.topic.num.partitions", "2",
                        kafka=True)
    yield h
    h.stop()


@pytest.fixture
def sock(server: ServerHandle) -> Iterator[socket.socket]:
    with connect(server) as s:
        yield s


def end_v5(sock: socket.socket, tid: str, pid: int, epoch: int, commit: bool) -> tuple[int, int, int]:
    r = call(sock, 26, 5, transactional_id=tid, producer_id=pid, producer_epoch=epoch, committed=commit)
    return r.error_code, r.producer_id, r.producer_epoch


def txn_commit_offset(sock: socket.socket, tid: str, group: str, pid: int, epoch: int, topic: str,
                      offset: int, version: int = 5) -> int:
    part = build(28, version, "TxnOffsetCommitRequestPartition", partition_index=0, committed_offset=offset,
                 committed_leader_epoch=-1, committed_metadata=None)
    topics = (build(28, version, "TxnOffsetCommitRequestTopic", name=topic, partitions=(part,)),)
    r = call(sock, 28, version, transactional_id=tid, group_id=group, producer_id=pid, producer_epoch=epoch,
             generation_id=-1, member_id="", group_instance_id=None, topics=topics)
    return int(r.topics[0].partitions[0].error_code)


def committed(sock: socket.socket, group: str, topic: str) -> int:
    of = call(sock, 9, 9, groups=(build(9, 9, "OffsetFetchRequestGroup", group_id=group, member_id=None,
                                        member_epoch=-1, topics=(
                                            build(9, 9, "OffsetFetchRequestTopics", name=topic,
                                                  partition_indexes=(0,)),)),), require_stable=True)
    return int(of.groups[0].topics[0].partitions[0].committed_offset)


def describe(sock: socket.socket, tid: str) -> Any:
    return call(sock, 65, 0, transactional_ids=(tid,)).transaction_states[0]


def marker_epochs(records: bytes | None) -> list[int]:
    """The producer epoch of each control batch in a fetch response's records."""
    data = records or b""
    out = []
    pos = 0
    for base, attrs in batch_bases(data):
        del base
        if attrs & 0x20:
            out.append(struct.unpack_from(">h", data, pos + 51)[0])
        pos += 12 + struct.unpack_from(">i", data, pos + 8)[0]
    return out


def test_implicit_adds_and_an_epoch_bump_per_transaction(sock: socket.socket) -> None:
    topic = create_topic(sock)
    tid = "tv2-" + uuid.uuid4().hex[:6]
    group = "g-" + tid
    r = init_pid(sock, tid)
    pid, e0 = r.producer_id, r.producer_epoch
    # Produce v12 adds the partition itself (no AddPartitionsToTxn); below v12 it must have been added
    assert produce(sock, topic, txn_batch(2, pid, e0, 0), tid, version=11).error_code == INVALID_TXN_STATE
    assert produce(sock, topic, txn_batch(2, pid, e0, 0), tid, version=12).error_code == 0
    d = describe(sock, tid)
    assert (d.transaction_state, [(t.topic, tuple(t.partitions)) for t in d.topics]) == ("Ongoing", [(topic, (0,))])
    # TxnOffsetCommit v5 adds the group's partition itself; v4 would have needed AddOffsetsToTxn
    assert txn_commit_offset(sock, tid, group, pid, e0, topic, 7, version=4) == ABORTABLE
    assert txn_commit_offset(sock, tid, group, pid, e0, topic, 2) == 0
    assert describe(sock, tid).topics and committed(sock, group, topic) == -1
    # EndTxn v5: committed with the bumped epoch, which the answer carries
    assert end_v5(sock, tid, pid, e0, True) == (0, pid, e0 + 1)
    assert end_v5(sock, tid, pid, e0, True) == (0, pid, e0 + 1)              # a retry: the same answer
    assert end_v5(sock, tid, pid, e0, False)[0] == INVALID_TXN_STATE           # a retry must match the result
    assert end_v5(sock, tid, pid, e0 - 1, True)[0] == PRODUCER_FENCED
    assert end_v5(sock, tid, pid + 1000, e0 + 1, True)[0] == INVALID_MAPPING
    assert committed(sock, group, topic) == 2
    f = fetch(sock, topic, 0, 1)
    assert f.aborted_transactions == () and marker_epochs(f.records) == [e0 + 1]
    assert describe(sock, tid).transaction_state == "CompleteCommit"
    # the next transaction runs at the bumped epoch, sequence from 0; the old epoch is fenced in the log
    e1 = e0 + 1
    assert produce(sock, topic, txn_batch(1, pid, e0, 2), tid, version=12).error_code == INVALID_PRODUCER_EPOCH
    assert produce(sock, topic, txn_batch(3, pid, e1, 0), tid, version=12).error_code == 0
    assert end_v5(sock, tid, pid, e1, False) == (0, pid, e1 + 1)
    f = fetch(sock, topic, 0, 1)
    assert [(a.producer_id, a.first_offset) for a in f.aborted_transactions] == [(pid, 3)]
    assert marker_epochs(f.records) == [e1, e1 + 1]
    # the epoch answered by EndTxn is the one InitProducerId (KIP-360) recovery names
    r = init_pid(sock, tid, pid=pid, epoch=e1 + 1)
    assert (r.error_code, r.producer_id, r.producer_epoch) == (0, pid, e1 + 2)


def test_abort_without_partitions_and_commit_of_nothing(sock: socket.socket) -> None:
    tid = "tv2e-" + uuid.uuid4().hex[:6]
    r = init_pid(sock, tid)
    pid, e0 = r.producer_id, r.producer_epoch
    # TV2 adds partitions implicitly, so a producer may abort a transaction that added none: epoch bump only
    assert end_v5(sock, tid, pid, e0, False) == (0, pid, e0 + 1)
    assert describe(sock, tid).transaction_state == "CompleteAbort"
    assert end_v5(sock, tid, pid, e0, False) == (0, pid, e0 + 1)              # retry
    assert end_v5(sock, tid, pid, e0 + 1, False) == (0, pid, e0 + 2)          # another empty abort
    assert end_v5(sock, tid, pid, e0 + 2, True)[0] == INVALID_TXN_STATE       # nothing to commit


def test_produce_v12_refusals(sock: socket.socket) -> None:
    topic = create_topic(sock)
    tid = "tv2r-" + uuid.uuid4().hex[:6]
    r = init_pid(sock, tid)
    pid, e0 = r.producer_id, r.producer_epoch
    assert produce(sock, topic, txn_batch(1, pid, e0, 0), None, version=12).error_code == INVALID_TXN_STATE
    assert produce(sock, topic, txn_batch(1, pid + 1000, 0, 0), tid, version=12).error_code == INVALID_MAPPING
    assert produce(sock, topic, txn_batch(1, pid, e0 + 1, 0), tid, version=12).error_code == INVALID_PRODUCER_EPOCH
    # a fenced instance (a newer InitProducerId) is refused with INVALID_PRODUCER_EPOCH
    assert init_pid(sock, tid).producer_epoch == e0 + 1
    assert produce(sock, topic, txn_batch(1, pid, e0, 0), tid, version=12).error_code == INVALID_PRODUCER_EPOCH
    assert txn_commit_offset(sock, tid, "g", pid, e0, topic, 1) == INVALID_PRODUCER_EPOCH
