"""Bitmap commands against real Redis: every command, option and error, RESP2 and RESP3."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Pair, run_script


def test_setbit_getbit(pair: Pair) -> None:
    run_script(pair, """
    setbit b 7 1
    setbit b 7 1
    setbit b 7 0
    setbit b 100 1
    get b
    getbit b 100
    getbit b 101
    getbit b 100000
    getbit nokey 5
    setbit b -1 1
    setbit b 4294967296 1
    getbit b 4294967296
    setbit b 4294967295 a
    setbit b 1 2
    setbit b 1 -1
    setbit b abc 1
    getbit b abc
    set n 12
    getbit n 2
    setbit n 7 1
    get n
    """)


def test_bitcount(pair: Pair) -> None:
    run_script(pair, """
    set s foobar
    bitcount s
    bitcount s 0 0
    bitcount s 1 1
    bitcount s 1 1 bit
    bitcount s 1 1 BYTE
    bitcount s 5 30 bit
    bitcount s -5 -1 bit
    bitcount s -1 -5
    bitcount s -1 -5 foo
    bitcount s 0
    bitcount s 0 1 2 3
    bitcount s 0 1 foo
    bitcount nokey 0
    bitcount s a b
    bitcount s 0 b
    bitcount s -100 100
    bitcount s 9223372036854775807 9223372036854775807 bit
    set e ""
    bitcount e
    bitcount e 0 -1
    """)


def test_bitpos(pair: Pair) -> None:
    run_script(pair, """
    set s foobar
    bitpos s 1
    bitpos s 0
    bitpos s 2
    bitpos s a
    bitpos nokey 1 a b c d e
    bitpos nokey 0
    bitpos s 1 2
    bitpos s 1 2 3
    bitpos s 1 2 3 bit
    bitpos s 0 2 3 bit
    bitpos s 1 2 3 foo
    bitpos s 1 a 3 foo
    bitpos s 1 2 a bit
    bitpos s 1 2 3 bit extra
    set ff "\xff\xff\xff"
    bitpos ff 0
    bitpos ff 0 1
    bitpos ff 0 1 2
    bitpos ff 0 3 bit
    bitpos ff 0 3 20 bit
    bitpos ff 1 3 20 bit
    bitpos ff 0 -1
    bitpos ff 0 -1 -1 bit
    bitpos ff 0 5 2
    set e ""
    bitpos e 0
    bitpos e 1
    bitpos e 0 0
    set z "\x00\x00\xff"
    bitpos z 1
    bitpos z 0
    bitpos z 1 0 1
    bitpos z 1 0 17 bit
    bitpos z 1 17 -1 bit
    bitpos z 0 17 -1 bit
    bitpos z 0 -7 -1 bit
    bitpos z 1 -3 -2 bit
    """)


def test_bitop(pair: Pair) -> None:
    run_script(pair, """
    set s foobar
    set z "\x00\x00\xff"
    bitop and dest s z
    get dest
    bitop or dest s z nokey
    get dest
    bitop xor dest s z
    get dest
    bitop XOR dest s
    get dest
    bitop not dest s
    get dest
    bitop not dest s z
    bitop not dest nokey
    bitop foo dest s
    bitop and dest nokey nokey2
    get dest
    bitop and dest
    """)


def test_bitfield(pair: Pair) -> None:
    run_script(pair, """
    bitfield bf set i8 0 100 get i8 0
    bitfield bf incrby i8 0 100
    bitfield bf overflow sat incrby i8 0 100
    bitfield bf overflow fail incrby i8 0 100
    bitfield bf overflow wrap incrby i8 0 100
    bitfield bf set u8 #1 255 get u8 #1 incrby u8 #1 10
    bitfield bf overflow sat incrby u8 #1 300 incrby u8 #1 -1000
    bitfield bf set u8 0 -1
    bitfield bf overflow sat set u8 0 -1
    bitfield bf overflow fail set u8 0 -1
    bitfield bf overflow sat set i8 0 200 set i8 0 -200
    bitfield bf set i64 0 -9223372036854775808 incrby i64 0 -1
    bitfield bf overflow sat incrby i64 0 -1 incrby i64 0 9223372036854775807 incrby i64 0 1
    bitfield bf overflow fail incrby i64 0 9223372036854775807 incrby i64 0 -1
    bitfield bf set u63 0 9223372036854775807 incrby u63 0 1
    bitfield bf get u63 3 get i64 5 get i1 0 get u1 1
    bitfield bf get u64 0
    bitfield bf get I8 0
    bitfield bf get i0 0
    bitfield bf get i65 0
    bitfield bf get i08 0
    bitfield bf get i8 -1
    bitfield bf get i8 #-1
    bitfield bf get i8 #
    bitfield bf get i8 #2
    bitfield bf get i8 4294967296
    bitfield bf get i8
    bitfield bf overflow foo
    bitfield bf overflow
    bitfield bf foo
    bitfield bf set i8 0 abc
    bitfield bf incrby i8 0
    bitfield bf
    bitfield nokey get i8 0
    get bf
    bitfield_ro bf get i8 0 get u4 #3
    bitfield_ro bf set i8 0 1
    bitfield_ro bf overflow sat
    bitfield_ro nokey get u8 100
    set s foobar
    bitfield_ro s set i8 0 1
    bitfield s get i8 0
    bitfield newk overflow fail incrby u2 100 8
    get newk
    bitfield newk2 set u2 10 3
    get newk2
    bitfield s set i5 3 -7 get i5 3 get u20 2
    get s
    bitfield s incrby i37 13 123456789012 get u37 13
    get s
    """)


def test_wrong_type(pair: Pair) -> None:
    pair.run("LPUSH", "lst", "x")
    run_script(pair, """
    setbit lst 0 1
    setbit lst 0 2
    getbit lst 0
    getbit lst a
    bitcount lst
    bitcount lst 0 1
    bitpos lst 1
    bitpos lst 2
    bitop and dest lst
    bitop not dest lst
    bitop foo dest lst
    bitfield lst get i8 0
    bitfield lst set i8 0 1
    bitfield lst get i0 0
    bitfield_ro lst get i8 0
    bitfield_ro lst set i8 0 1
    """)


_KEYS = st.sampled_from(["b1", "b2"])
_NUMS = st.one_of(st.integers(-70, 70).map(str), st.sampled_from(["a", "", "#3", "1.5"]))
_TYPES = st.sampled_from(["i1", "u1", "i8", "u8", "i13", "u31", "i64", "u63", "u64", "x8"])


def _command():
    return st.one_of(
        st.tuples(st.just("SETBIT"), _KEYS, _NUMS, st.sampled_from(["0", "1", "2"])),
        st.tuples(st.just("GETBIT"), _KEYS, _NUMS),
        st.tuples(st.just("BITCOUNT"), _KEYS, _NUMS, _NUMS, st.sampled_from(["BIT", "BYTE"])),
        st.tuples(st.just("BITCOUNT"), _KEYS, _NUMS, _NUMS),
        st.tuples(st.just("BITPOS"), _KEYS, st.sampled_from(["0", "1"]), _NUMS),
        st.tuples(st.just("BITPOS"), _KEYS, st.sampled_from(["0", "1"]), _NUMS, _NUMS,
                  st.sampled_from(["BIT", "BYTE"])),
        st.tuples(st.just("BITOP"), st.sampled_from(["AND", "OR", "XOR", "NOT"]), _KEYS, _KEYS),
        st.tuples(st.just("BITFIELD"), _KEYS, st.sampled_from(["GET", "SET", "INCRBY"]), _TYPES,
                  _NUMS, st.integers(-2**63, 2**63 - 1).map(str)),
        st.tuples(st.just("BITFIELD"), _KEYS, st.just("OVERFLOW"),
                  st.sampled_from(["WRAP", "SAT", "FAIL"]), st.just("INCRBY"), _TYPES, _NUMS,
                  st.integers(-300, 300).map(str)),
        st.tuples(st.just("SET"), _KEYS, st.binary(max_size=6)),
        st.tuples(st.just("GET"), _KEYS),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(cmds=st.lists(_command(), min_size=1, max_size=25))
def test_generated_sequences(keystream_server, redis_server, cmds) -> None:
    pair = Pair(keystream_server.port, redis_server.port, 2)
    try:
        pair.both("FLUSHALL")
        for cmd in cmds:
            pair.run(*cmd)
    finally:
        pair.close()
