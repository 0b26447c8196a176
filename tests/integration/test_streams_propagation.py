"""What stream commands propagate, compared with what real Redis 7.0 appends to its AOF (see
test_propagation.py for the method): XADD with generated IDs and `~` trimming rewritten as `=`,
XTRIM ~, XREADGROUP as XCLAIM/XGROUP SETID/XGROUP CREATECONSUMER, XCLAIM and XAUTOCLAIM
(deleted entries included), and commands that change nothing propagating nothing."""

from __future__ import annotations

import pytest

from tests.integration.test_propagation import _AofReader, _Recorder, _same_effects


@pytest.fixture(scope="module")
def aof():
    reader = _AofReader()
    yield reader
    reader.close()


SEQUENCES = {
    "add_trim": [
        "CONFIG SET stream-node-max-entries 5", "XADD s 1-1 a 1", "XADD s 1-* a 2", "XADD s 2-* a 3",
        "XADD s NOMKSTREAM 3-0 a 1", "XADD nokey NOMKSTREAM 3-0 a 1", "XADD s 1-0 a 1",
        "XADD s MAXLEN ~ 2 4-0 a 1", "XADD s MAXLEN = 3 5-* a 1", "XADD s MINID ~ 3 6-0 a 1",
        "XADD s MAXLEN ~ 1 LIMIT 3 7-0 a 1", "XTRIM s MAXLEN 100", "XTRIM s MAXLEN ~ 1",
        "XTRIM s MINID ~ 7", "XTRIM s MINID 7", "XDEL s 1-1 7-0", "XDEL s 7-0", "XSETID s 9-9",
        "XSETID s 10-0 ENTRIESADDED 50 MAXDELETEDID 9-0", "XLEN s", "XRANGE s - +",
    ],
    "groups": [
        "XADD s 1-0 a 1", "XADD s 2-0 b 2", "XADD s 3-0 c 3", "XGROUP CREATE s g 0",
        "XGROUP CREATE s g 0", "XGROUP CREATE t g $ MKSTREAM", "XGROUP CREATE s h 0 ENTRIESREAD 1",
        "XGROUP CREATECONSUMER s g c0", "XGROUP CREATECONSUMER s g c0",
        "XREADGROUP GROUP g alice COUNT 2 STREAMS s >", "XREADGROUP GROUP g alice STREAMS s 0",
        "XREADGROUP GROUP g bob NOACK STREAMS s >", "XREADGROUP GROUP g bob NOACK STREAMS s >",
        "XREADGROUP GROUP h carol NOACK COUNT 1 STREAMS s >", "XACK s g 1-0 9-0", "XACK s g 1-0",
        "XGROUP SETID s g 0 ENTRIESREAD 0", "XREADGROUP GROUP g dave STREAMS s t > >",
        "XCLAIM s g erin 0 2-0 3-0", "XCLAIM s g erin 0 2-0 JUSTID RETRYCOUNT 5 LASTID 9-0",
        "XCLAIM s g erin 0 4-0 LASTID 10-0", "XCLAIM s g erin 0 8-0 FORCE", "XDEL s 2-0",
        "XCLAIM s g frank 0 2-0", "XAUTOCLAIM s g gus 0 0 COUNT 1", "XDEL s 3-0",
        "XAUTOCLAIM s g gus 0 0", "XAUTOCLAIM s g gus 0 0 JUSTID",
        "XGROUP DELCONSUMER s g gus", "XGROUP DELCONSUMER s g nobody", "XGROUP DESTROY s h",
        "XGROUP DESTROY s h", "XPENDING s g", "XINFO GROUPS s",
    ],
}


@pytest.mark.parametrize("family", list(SEQUENCES))
def test_stream_effects_match_redis_aof(aof, family) -> None:
    rec = _Recorder()
    aof.run("FLUSHALL")
    aof.run("SELECT", "0")
    mismatches = []
    for line in SEQUENCES[family]:
        args = line.split()
        ours = rec.run(*args)
        theirs = aof.run(*args)
        if not _same_effects(ours, theirs):
            mismatches.append(f"{line}: keystream {ours} != redis {theirs}")
    assert not mismatches, "\n".join(mismatches)
