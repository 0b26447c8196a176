"""Recovery of the transaction coordinator after kill -9 in each phase of a commit.

The broker is killed with a transaction Ongoing (records in two partitions and a transactional
offset commit); the data directory is then brought to the state a crash at a later point of
EndTxn leaves, by appending what the coordinator would have written so far:

- "before-markers": the PrepareCommit record is in `__transaction_state`, no marker anywhere;
- "between-markers": PrepareCommit, and the COMMIT marker in the first partition only;
- "torn-state-write": the PrepareCommit record was half written (a torn tail).

Kafka's outcome: a transaction found in PrepareCommit is completed at load (markers written in
every partition, group offsets applied, CompleteCommit); a torn record is cut off by log
recovery, so the transaction is still Ongoing and the producer's retried EndTxn commits it.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import socket
import tempfile
import time
import uuid

import pytest

from keystream.config import Config
from keystream.kafka.groups.records import build_batch, java_string_hash
from keystream.kafka.txn import records as txn_records
from keystream.log.manager import LogManager
from tests.conftest import start_keystream, wait_until
from tests.integration.kafka.test_protocol import connect
from tests.integration.kafka.test_txn_protocol import (
    add_partitions,
    build,
    call,
    create_topic,
    end_txn,
    fetch,
    init_pid,
    produce,
    txn_batch,
)

ARGS = ("--transaction.state.log.num.partitions", "2", "--offsets.topic.num.partitions", "2")
PREPARE_COMMIT, ONGOING_STATE = 2, "Ongoing"


def _describe_state(sock: socket.socket, tid: str) -> str | None:
    d = call(sock, 65, 0, transactional_ids=(tid,)).transaction_states[0]
    return None if d.error_code else d.transaction_state


def _visible(sock: socket.socket, topic: str, partition_count: int) -> list[int]:
    """Records readable with read_committed in each partition (data batches only, aborted excluded)."""
    out = []
    for part in range(partition_count):
        p = build(1, 12, "FetchPartition", partition=part, current_leader_epoch=-1, fetch_offset=0,
                  last_fetched_epoch=-1, log_start_offset=-1, partition_max_bytes=1 << 20)
        r = call(sock, 1, 12, replica_id=-1, max_wait=datetime.timedelta(0), min_bytes=0, max_bytes=1 << 20,
                 isolation_level=1, session_id=0, session_epoch=-1, rack_id="", forgotten_topics_data=(),
                 topics=(build(1, 12, "FetchTopic", topic=topic, partitions=(p,)),))
        part_data = r.responses[0].partitions[0]
        out.append(part_data.last_stable_offset)
    return out


@pytest.mark.parametrize("phase", ["before-markers", "between-markers", "torn-state-write"])
def test_commit_interrupted_by_kill(phase: str) -> None:
    data = tempfile.mkdtemp(prefix="ks-txnrec-")
    try:
        h = start_keystream(*ARGS, data_dir=data, kafka=True)
        tid = "rec-" + uuid.uuid4().hex[:6]
        group = "grp-" + uuid.uuid4().hex[:6]
        with connect(h) as s:
            topic = create_topic(s, 2)
            r = init_pid(s, tid)
            pid, epoch = r.producer_id, r.producer_epoch
            assert add_partitions(s, tid, pid, epoch, topic, (0, 1)) == [0, 0]
            for part in (0, 1):
                assert produce(s, topic, txn_batch(2, pid, epoch, 0), tid, partition=part).error_code == 0
            assert call(s, 25, 3, transactional_id=tid, producer_id=pid, producer_epoch=epoch,
                        group_id=group).error_code == 0
            offs = build(28, 3, "TxnOffsetCommitRequestPartition", partition_index=0, committed_offset=42,
                         committed_leader_epoch=-1, committed_metadata="")
            tr = call(s, 28, 3, transactional_id=tid, group_id=group, producer_id=pid, producer_epoch=epoch,
                      generation_id=-1, member_id="", group_instance_id=None,
                      topics=(build(28, 3, "TxnOffsetCommitRequestTopic", name=topic, partitions=(offs,)),))
            assert tr.topics[0].partitions[0].error_code == 0
            offsets_part = abs(java_string_hash(group)) % 2
        h.stop(signal.SIGKILL)

        # what a crash later in EndTxn leaves behind
        m = LogManager(data, Config())
        m.load()
        now = int(time.time() * 1000)
        parts = [(topic, 0), (topic, 1), ("__consumer_offsets", offsets_part)]
        value = txn_records.encode_value(txn_records.TxnRecord(pid, epoch, 60000, PREPARE_COMMIT, parts, now, now),
                                         empty=False)
        state_part = abs(java_string_hash(tid)) % 2
        record = build_batch([(txn_records.encode_key(tid), value)], now)
        state_log = m.partition("__transaction_state", state_part)
        assert state_log is not None
        if phase != "torn-state-write":
            state_log.append(record, now, from_client=False)
        if phase == "between-markers":
            plog = m.partition(topic, 0)
            assert plog is not None
            plog.append_marker(pid, epoch, True, 0, now)
        seg_path = state_log.segments[-1].log_path
        m.close()
        if phase == "torn-state-write":
            with open(seg_path, "ab") as f:
                f.write(record[:len(record) // 2])

        h = start_keystream(*ARGS, "--kafka-port", str(h.kafka_port), data_dir=data, kafka=True)
        with connect(h) as s:
            wait_until(lambda: _describe_state(s, tid) is not None, what="the coordinator's load")
            if phase == "torn-state-write":
                assert _describe_state(s, tid) == ONGOING_STATE
                assert _visible(s, topic, 2) == [0, 0]           # both partitions still unstable
                assert end_txn(s, tid, pid, epoch, True) == 0      # the producer's retry
            else:
                wait_until(lambda: _describe_state(s, tid) == "CompleteCommit", what="the commit's completion")
            lsos = _visible(s, topic, 2)
            assert lsos[1] == 3 and lsos[0] == (4 if phase == "between-markers" else 3)
            assert [len(fetch(s, topic, 0, 1).aborted_transactions)] == [0]
            of = call(s, 9, 7, group_id=group, require_stable=True, topics=(
                build(9, 7, "OffsetFetchRequestTopic", name=topic, partition_indexes=(0,)),))
            assert (of.topics[0].partitions[0].error_code, of.topics[0].partitions[0].committed_offset) == (0, 42)
        h.stop()
        assert "Traceback" not in h.log()
    finally:
        shutil.rmtree(data, ignore_errors=True)
        assert not os.path.exists(data)
