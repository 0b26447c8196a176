"""The group coordinator's start-up replay over a compacted `__consumer_offsets`: random commits,
offset deletes and group deletes, tiny segments, the log cleaner run to completion (tombstones
kept, then dropped past their horizon), and a reload that must see exactly the last state."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from keystream.config import Config
from keystream.kafka.groups.coordinator import OFFSETS_TOPIC, GroupCoordinator
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
