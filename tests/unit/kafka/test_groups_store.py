"""The group coordinator's offsets store without a network: records of __consumer_offsets,
expiry, tombstones and reloading, and COORDINATOR_LOAD_IN_PROGRESS."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

from keystream.config import Config
from keystream.kafka.groups import records as rec
from keystream.kafka.groups.coordinator import OFFSETS_TOPIC, GroupCoordinator, GroupState
from keystream.log.manager import LogManager


def test_java_string_hash_and_partition() -> None:
    assert rec.java_string_hash("") == 0
    assert rec.java_string_hash("hello") == 99162322
    assert rec.java_string_hash("polygenelubricants") == -2147483648    # Integer.MIN_VALUE
    assert rec.java_string_hash("Aa") == rec.java_string_hash("BB") == 2112
    assert rec.java_string_hash("\U0001F600") == 0xD83D * 31 + 0xDE00     # UTF-16 surrogates, as Java


def test_records_round_trip_in_kafka_schemas() -> None:
    key = rec.encode_offset_key("g", "t", 3)
    assert key == b"\x00\x01\x00\x01g\x00\x01t\x00\x00\x00\x03"
    assert rec.decode_key(key) == ("offset", "g", "t", 3)
    value = rec.encode_offset_value(rec.OffsetRecord(42, 7, "meta", 1000))
    assert value == b"\x00\x03" + (42).to_bytes(8, "big") + (7).to_bytes(4, "big") + b"\x00\x04meta" + \
        (1000).to_bytes(8, "big")
    assert rec.decode_offset_value(value) == rec.OffsetRecord(42, 7, "meta", 1000)
    group = rec.GroupRecord("consumer", 5, "range", "m1", 99,
                            [rec.MemberRecord("m1", None, "c", "/h", 300, 10, b"sub", b"asg")])
    assert rec.decode_key(rec.encode_group_key("g")) == ("group", "g")
    assert rec.decode_group_value(rec.encode_group_value(group)) == group
    batch = rec.build_batch([(key, value), (rec.encode_group_key("g"), None)], 1234)
    got = list(rec.iter_records(memoryview(batch)))
    assert got == [(0, key, value), (1, rec.encode_group_key("g"), None)]


def _broker(tmp: Path, config: Config, clock: list[int]) -> SimpleNamespace:
    logs = LogManager(str(tmp), config)
    logs.load()
    return SimpleNamespace(config=config, logs=logs, now_ms=lambda: clock[0], notify_append=lambda t, p: None)


def test_expiry_tombstones_and_reload(tmp_path: Path) -> None:
    config = Config()
    config.set_text("offsets.topic.num.partitions", "3")
    config.set_text("offsets.retention.minutes", "1")
    clock = [int(time.time() * 1000)]

    async def scenario() -> None:
        broker = _broker(tmp_path, config, clock)
        broker.logs.create_topic("t", 2, {})
        coord = GroupCoordinator(broker)  # type: ignore[arg-type]
        coord.start()
        assert coord.commit_offsets("keep", -1, "", None, [("t", 0, 10, -1, "a")]) == {("t", 0): 0}
        assert coord.commit_offsets("old", -1, "", None, [("t", 1, 4, 2, None)]) == {("t", 1): 0}
        assert coord.commit_offsets("x", 3, "m", None, [("t", 0, 1, -1, None)]) == 22     # ILLEGAL_GENERATION
        assert broker.logs.topics[OFFSETS_TOPIC].configs["cleanup.policy"] == "compact"
        clock[0] += 30_000
        assert coord.commit_offsets("keep", -1, "", None, [("t", 0, 11, -1, "b")]) == {("t", 0): 0}
        clock[0] += 40_000                      # "old" is 70 s old, "keep" 40 s
        coord.expire_offsets(clock[0])
        assert "old" not in coord.groups
        assert coord.fetch_offsets("keep", [("t", 0)])[1][0][2].offset == 11
        await coord.stop()

        again = GroupCoordinator(broker)  # type: ignore[arg-type]
        again.start()
        assert again.loading
        part = again.partition_for("keep")
        if part in again.loading:
            assert again.heartbeat("keep", 1, "m", None) == 14     # COORDINATOR_LOAD_IN_PROGRESS
        while again.loading:
            await asyncio.sleep(0.01)
        assert set(again.groups) == {"keep"}
        record = again.groups["keep"].offsets[("t", 0)]
        assert (record.offset, record.metadata) == (11, "b")
        assert again.groups["keep"].state is GroupState.EMPTY
        assert again.delete_group("keep") == 0
        await again.stop()

        third = GroupCoordinator(broker)  # type: ignore[arg-type]
        third.start()
        while third.loading:
            await asyncio.sleep(0.01)
        assert third.groups == {}
        await third.stop()
        broker.logs.close()

    asyncio.run(scenario())
