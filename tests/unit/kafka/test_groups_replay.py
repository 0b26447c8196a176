"""The group coordinator's start-up replay over a compacted `__consumer_offsets`: random commits,
offset deletes and group deletes, tiny segments, the log cleaner run to completion (tombstones
kept, then dropped past their horizon), and a reload that must see exactly the last state;
offset expiry (`offsets.retention.minutes`, explicit retention) across reloads, on a fake clock."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from keystream.config import Config
from keystream.kafka.groups.coordinator import OFFSETS_TOPIC, GroupCoordinator, GroupState
from keystream.log.manager import LogManager
from tests.unit.log.test_cleaner import clean_all

NOW = 1_700_000_000_000

ops = st.lists(st.one_of(
    st.tuples(st.just("commit"), st.integers(0, 3), st.sets(st.integers(0, 2), min_size=1)),
    st.tuples(st.just("delete_offsets"), st.integers(0, 3), st.sets(st.integers(0, 2), min_size=1)),
    st.tuples(st.just("delete_group"), st.integers(0, 3), st.just(frozenset())),
), min_size=1, max_size=120)


def _snapshot(coord: GroupCoordinator) -> dict[str, dict[tuple[str, int], tuple[int, int, str]]]:
    """Offsets per group; a standalone group whose offsets were all deleted stays in memory
    (until expiry marks it Dead, as in Kafka) but has no record left to reload it from."""
    return {gid: {k: (r.offset, r.leader_epoch, r.metadata) for k, r in g.offsets.items()}
            for gid, g in coord.groups.items() if g.offsets or g.protocol_type is not None}


async def _loaded(broker: SimpleNamespace) -> GroupCoordinator:
    coord = GroupCoordinator(broker)  # type: ignore[arg-type]
    coord.start()
    while coord.loading:
        await asyncio.sleep(0)
    return coord


@settings(max_examples=40, deadline=None)
@given(script=ops, horizon_passed=st.booleans())
def test_replay_after_compaction_matches_the_last_state(script: list, horizon_passed: bool) -> None:
    config = Config()
    config.set_text("offsets.topic.num.partitions", "1")
    config.set_text("offsets.topic.segment.bytes", "400")
    config.set_text("log.cleaner.min.cleanable.ratio", "0.01")
    clock = [NOW]
    with tempfile.TemporaryDirectory(prefix="ks-a5-") as tmp:
        logs = LogManager(str(Path(tmp)), config)
        logs.load()
        broker = SimpleNamespace(config=config, logs=logs, now_ms=lambda: clock[0],
                                 notify_append=lambda t, p: None)
        logs.create_topic("t", 3, {})

        async def scenario() -> None:
            coord = await _loaded(broker)
            for n, (op, g, parts) in enumerate(script):
                gid = f"g{g}"
                clock[0] += 1
                if op == "commit":
                    coord.commit_offsets(gid, -1, "", None, [("t", p, n * 10 + p, n % 5, f"m{n}") for p in sorted(parts)])
                elif op == "delete_offsets":
                    coord.delete_offsets(gid, [("t", p) for p in sorted(parts)])
                else:
                    coord.delete_group(gid)
            # a last commit of another group, so that the interesting records leave the active segment
            for i in range(20):
                coord.commit_offsets("filler", -1, "", None, [("t", 0, i, -1, "x" * 40)])
            want = _snapshot(coord)
            await coord.stop()

            clean_all(logs, clock[0])
            if horizon_passed:          # tombstones survive the first pass; past the horizon they go
                clean_all(logs, clock[0] + 86_400_001)
            again = await _loaded(broker)
            assert _snapshot(again) == want
            await again.stop()

        asyncio.run(scenario())
        assert OFFSETS_TOPIC in logs.topics
        logs.close()


def test_explicit_expiry_is_stored_as_value_v1() -> None:
    from keystream.kafka.groups import records as rec

    r = rec.OffsetRecord(42, -1, "m", 1000, 5000)
    value = rec.encode_offset_value(r)
    assert value[:2] == b"\x00\x01"
    assert rec.decode_offset_value(value) == r


def test_empty_group_offsets_expire_after_retention_from_becoming_empty() -> None:
    """offsets.retention.minutes counts from the moment a consumer group became Empty, not from
    the commit; a Stable group's offsets of topics it no longer subscribes to count from the
    commit; explicit expiry (OffsetCommit v2-4 retention_time) survives a reload."""
    config = Config()
    config.set_text("offsets.topic.num.partitions", "1")
    config.set_text("offsets.retention.minutes", "1")
    config.set_text("group.initial.rebalance.delay.ms", "0")
    clock = [NOW]
    sub = b"\x00\x00\x00\x00\x00\x01\x00\x01a\xff\xff\xff\xff"          # subscribes to topic "a"

    with tempfile.TemporaryDirectory(prefix="ks-a5-") as tmp:
        logs = LogManager(tmp, config)
        logs.load()
        broker = SimpleNamespace(config=config, logs=logs, now_ms=lambda: clock[0], notify_append=lambda t, p: None)
        logs.create_topic("a", 1, {})
        logs.create_topic("b", 1, {})

        async def scenario() -> None:
            coord = await _loaded(broker)
            fut = coord.join("cg", "", None, "c", "/h", 10000, 10000, "consumer", [("range", sub)], False)
            joined = await fut          # type: ignore[misc]
            assert joined.error == 0
            synced = coord.sync("cg", joined.generation, joined.member_id, None, None, None,
                                [(joined.member_id, b"x")])
            assert (await synced).error == 0      # type: ignore[misc]
            gen = coord.groups["cg"].generation
            assert coord.commit_offsets("cg", gen, joined.member_id, None,
                                        [("a", 0, 5, -1, None), ("b", 0, 6, -1, None)]) == {("a", 0): 0, ("b", 0): 0}
            assert coord.commit_offsets("explicit", -1, "", None, [("a", 0, 1, -1, None)], retention_ms=90_000) \
                == {("a", 0): 0}
            clock[0] += 61_000
            coord.expire_offsets(clock[0])       # Stable: "b" is not subscribed and 61 s old; "a" is
            assert set(coord.groups["cg"].offsets) == {("a", 0)}
            assert coord.leave("cg", [(joined.member_id, None)]) == (0, [0])
            assert coord.groups["cg"].state is GroupState.EMPTY
            clock[0] += 50_000                   # the commit of "a" is 111 s old, the group empty for 50 s
            coord.expire_offsets(clock[0])
            assert set(coord.groups["cg"].offsets) == {("a", 0)}
            assert "explicit" not in coord.groups          # its 90 s expiry passed
            await coord.stop()

            again = await _loaded(broker)
            assert set(again.groups) == {"cg"}
            clock[0] += 10_001                   # empty for 60 s
            again.expire_offsets(clock[0])
            assert "cg" not in again.groups
            await again.stop()
            third = await _loaded(broker)
            assert third.groups == {}
            await third.stop()

        asyncio.run(scenario())
        logs.close()


def test_explicit_expiry_survives_a_reload() -> None:
    config = Config()
    config.set_text("offsets.topic.num.partitions", "1")
    clock = [NOW]
    with tempfile.TemporaryDirectory(prefix="ks-a5-") as tmp:
        logs = LogManager(tmp, config)
        logs.load()
        broker = SimpleNamespace(config=config, logs=logs, now_ms=lambda: clock[0], notify_append=lambda t, p: None)
        logs.create_topic("a", 1, {})

        async def scenario() -> None:
            coord = await _loaded(broker)
            coord.commit_offsets("g", -1, "", None, [("a", 0, 1, -1, None)], retention_ms=5_000)
            await coord.stop()
            again = await _loaded(broker)
            assert again.groups["g"].offsets[("a", 0)].expire_timestamp == NOW + 5_000
            clock[0] += 5_000
            again.expire_offsets(clock[0])
            assert "g" not in again.groups
            await again.stop()

        asyncio.run(scenario())
        logs.close()
