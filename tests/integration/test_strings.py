"""String commands against real Redis: every command, option and error, RESP2 and RESP3."""

from __future__ import annotations

import time

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Pair, run_script


def make_list(pair: Pair, key: str) -> None:
    """Store a non-string value at key."""
    pair.run("LPUSH", key, "x")


SET_SCRIPT = """
set foo bar
get foo
set foo bar nx
set foo bar2 xx
get foo
set foo bar3 nx get
set foo baz xx get
set nokey v xx get
set nokey v nx get
get nokey
set foo bar ex 10
set foo bar px 10000
set foo bar exat 99999999999
set foo bar pxat 99999999999999
set foo bar px 0
set foo bar ex -1
set foo bar ex 0
set foo bar exat 0
set foo bar ex 9223372036854775807
set foo bar ex 9223372036854775
set foo bar px 9223372036854775807
set foo bar pxat 9223372036854775807
set foo bar ex abc
set foo bar ex 1.5
set foo bar ex 10 px 10
set foo bar ex 10 ex 20
set foo bar keepttl ex 10
set foo bar ex 10 keepttl
set foo bar keepttl
set foo bar nx xx
set foo bar xx nx
set foo bar nx nx
set foo bar ex
set foo bar foo
set foo bar keepttl get
set foo bar GET get
set foo bar pxat 1
get foo
setex foo 0 x
setex foo -5 x
setex foo abc x
setex foo 10 x
psetex foo -5 x
psetex foo 0 x
psetex foo 10000 y
get foo
setnx foo x
setnx foo2 x
get foo2
set
set foo
setnx foo
"""


def test_set_family(pair: Pair) -> None:
    run_script(pair, SET_SCRIPT)


def test_mget_mset(pair: Pair) -> None:
    run_script(pair, """
    mset a 1 b 2 c
    mset a 1
    mset a 1 b 2
    mset a 3 a 4
    get a
    msetnx a 1 z 2
    msetnx y 1 z 2
    msetnx q 1 q 2
    get q
    msetnx a
    mget a b c y z q
    mget nokey
    """)


def test_getset_getdel_getex(pair: Pair) -> None:
    run_script(pair, """
    getset a 9
    getset a 10
    get a
    getdel a
    getdel a
    set b 1
    getex b
    getex b ex 100
    getex b px 100000
    getex b exat 99999999999
    getex b pxat 99999999999999
    getex b persist
    getex b ex 0
    getex b ex -1
    getex b px abc
    getex b ex 9223372036854775807
    getex b ex 1 px 1
    getex b persist ex 1
    getex b ex 1 persist
    getex b keepttl
    getex b get
    getex b ex
    getex b persist persist
    getex nope ex -1
    getex nope foo
    getex b pxat 1
    get b
    set b 1
    getex b exat 1
    get b
    """)


def test_incr_family(pair: Pair) -> None:
    run_script(pair, """
    incr c
    incr c
    decr c
    incrby c 10
    incrby c -10
    incrby c abc
    incrby c 1.5
    incrby c ""
    incrby c 9223372036854775808
    decrby c 5
    decrby c -9223372036854775808
    decrby c 9223372036854775807
    set big 9223372036854775807
    incr big
    incrby big 0
    set small -9223372036854775808
    decr small
    incrby small -1
    set s abc
    incr s
    set s " 1"
    incr s
    set s "1 "
    incr s
    set s 01
    incr s
    set s -0
    incr s
    set s +1
    incr s
    set s 123456789012345678901
    incr s
    set s 1.0
    incr s
    """)


INCRBYFLOAT_SCRIPT = """
set f 10.5
incrbyfloat f 0.1
incrbyfloat f 1e200
incrbyfloat f -1e200
incrbyfloat g 3.0e3
incrbyfloat g 0x10
incrbyfloat g 0x1.8p1
incrbyfloat g inf
incrbyfloat g -inf
incrbyfloat g infinity
incrbyfloat g nan
incrbyfloat g " 1"
incrbyfloat g "1 "
incrbyfloat g ""
incrbyfloat g abc
incrbyfloat g 1e5000
incrbyfloat g 1e-5000
incrbyfloat g 1e4000
incrbyfloat g -1e-4950
incrbyfloat g 5.0e-4950
incrbyfloat g .5
incrbyfloat g 5.
incrbyfloat g +1.5
incrbyfloat g 1e
incrbyfloat g 1e+
incrbyfloat g 1_0
incrbyfloat h 1e4000
incrbyfloat g2 1.1
incrbyfloat g2 2.2
incrbyfloat g3 0.1
incrbyfloat g3 0.2
incrbyfloat g4 -0.0
incrbyfloat g5 1.7976931348623157e308
incrbyfloat g5 1.7976931348623157e308
incrbyfloat g6 1e-30
incrbyfloat g7 123456789012345678901234567890
incrbyfloat g8 0.1234567890123456789
incrbyfloat g8 -0.1234567890123456789
set g9 abc
incrbyfloat g9 1
set g10 "1.5 "
incrbyfloat g10 1
set g11 5.0e3
incrbyfloat g11 -5000
"""


def test_incrbyfloat(pair: Pair) -> None:
    run_script(pair, INCRBYFLOAT_SCRIPT)


def test_append_strlen_ranges(pair: Pair) -> None:
    run_script(pair, """
    append c 234
    append c 5
    append newc ""
    exists newc
    strlen c
    strlen nokey
    set s foobarbaz
    getrange s 0 -1
    getrange s -1 -5
    getrange s 1 100
    getrange s -100 -2
    getrange s -3 -1
    getrange s 5 6
    getrange s 5 3
    getrange s 9 9
    getrange nokey 0 1
    getrange s a 1
    getrange s 1 a
    getrange s 9223372036854775807 -9223372036854775808
    substr s 0 1
    substr s -2 -1
    setrange s 1 XYZW
    setrange s 12 q
    get s
    setrange s -1 q
    setrange s a q
    setrange s 0 ""
    setrange nk 0 ""
    setrange nk 5 ""
    exists nk
    setrange nk 3 x
    get nk
    setrange nk 536870912 x
    setrange nk 536870911 x
    setrange nk 536870911 ""
    set e ""
    strlen e
    getrange e 0 -1
    """)


def test_lcs(pair: Pair) -> None:
    run_script(pair, """
    set k1 ohmytext
    set k2 mynewtext
    lcs k1 k2
    lcs k1 k2 len
    lcs k1 k2 idx
    lcs k1 k2 IDX minmatchlen 4
    lcs k1 k2 idx withmatchlen
    lcs k1 k2 idx minmatchlen 4 withmatchlen
    lcs k1 k2 idx minmatchlen -5
    lcs k1 k2 idx len
    lcs k1 k2 len idx
    lcs k1 k2 minmatchlen
    lcs k1 k2 minmatchlen abc
    lcs k1 k2 foo
    lcs k1 nokey
    lcs nokey nokey2 idx
    lcs k1 k1 idx withmatchlen
    set r1 ACCGGTCGAGTGCGCGGAAGCCGGCCGAA
    set r2 GTCGTTCGGAATGCCGTTGCTCTGTAAA
    lcs r1 r2
    lcs r1 r2 idx withmatchlen
    lcs r1 r2 idx minmatchlen 3
    """)


def test_wrong_type_errors(pair: Pair) -> None:
    make_list(pair, "lst")
    run_script(pair, """
    get lst
    set lst x get
    getset lst x
    getdel lst
    getex lst
    getex lst ex 10
    strlen lst
    append lst x
    incr lst
    incrby lst 5
    incrby lst abc
    decr lst
    decrby lst 1
    incrbyfloat lst 1
    incrbyfloat lst abc
    getrange lst 0 1
    getrange lst a 1
    setrange lst 0 ""
    setrange lst 0 x
    setrange lst -1 x
    lcs lst k1
    lcs k1 lst
    mget lst nokey
    setnx lst x
    msetnx lst x
    set lst x xx get
    """)


def test_max_string_size(pair: Pair) -> None:
    pair.run("CONFIG", "SET", "proto-max-bulk-len", "1048576")
    try:
        pair.run("SET", "k", "x" * 1048000)
        pair.run("APPEND", "k", "y" * 1000)
        pair.run("SETRANGE", "k", 1048570, "z" * 10)
        pair.run("SETRANGE", "new", 1048576, "z")
        pair.run("STRLEN", "k")
        pair.run("SET", "a", "x" * 600)
        pair.run("SET", "b", "y" * 600)
        pair.run("LCS", "a", "b", "LEN")
        pair.run("SET", "a", "x" * 1000)
        pair.run("LCS", "a", "b", "LEN")
    finally:
        pair.run("CONFIG", "SET", "proto-max-bulk-len", "536870912")


def test_expiry_effects(r: redis.Redis) -> None:
    r.set("k", "v", px=100000)
    assert 99000 < r.pttl("k") <= 100000
    r.set("k", "v2", keepttl=True)
    assert r.pttl("k") > 99000
    r.incr("n")
    r.expire("n", 100)
    r.incr("n")
    r.incrbyfloat("n", 1.5)
    r.append("n", "0")
    r.setrange("n", 0, "4")
    assert r.get("n") == b"4.50" and r.ttl("n") > 90
    r.set("n", "1")
    assert r.ttl("n") == -1
    r.set("k", "v", ex=100)
    r.getset("k", "w")
    assert r.ttl("k") == -1
    r.set("k", "v", px=50)
    deadline = time.monotonic() + 5
    while r.exists("k") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r.get("k") is None
    r.set("k", "v")
    assert r.getex("k", px=100000) == b"v" and 90000 < r.pttl("k") <= 100000
    assert r.getex("k", persist=True) == b"v" and r.ttl("k") == -1


def test_resp3_shapes(r3: redis.Redis) -> None:
    r3.set("a", "ohmytext")
    r3.set("b", "mynewtext")
    reply = r3.lcs("a", "b", idx=True, withmatchlen=True)
    assert reply[b"len"] == 6
    assert reply[b"matches"][0] == [[4, 7], [5, 8], 4]
    assert r3.incrbyfloat("f", "10.5") == 10.5
    assert r3.mget("a", "nokey") == [b"ohmytext", None]


# -- generated command sequences, compared reply by reply with real Redis -------------
_KEYS = st.sampled_from(["k1", "k2", "k3"])
_INTS = st.one_of(
    st.integers(-3, 40).map(str),
    st.sampled_from(["abc", "", "1.5", "9223372036854775807", "-9223372036854775808",
                     "9223372036854775808", "01", " 1", "-0"]),
)
_FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.sampled_from(["0.1", "-0.1", "1e308", "inf", "nan", "abc", "3.0e3", "0x10", "1e-300"]),
)
_VALUES = st.one_of(st.sampled_from(["", "0", "10", "-5", "3.5", "abc", "hello world"]),
                    st.binary(max_size=8))


def _command():
    return st.one_of(
        st.tuples(st.just("SET"), _KEYS, _VALUES),
        st.tuples(st.just("SET"), _KEYS, _VALUES, st.sampled_from(
            ["NX", "XX", "GET", "KEEPTTL", "EX", "PX", "BOGUS"]), _INTS),
        st.tuples(st.sampled_from(["GET", "STRLEN", "INCR", "DECR", "GETDEL", "GETEX"]), _KEYS),
        st.tuples(st.sampled_from(["INCRBY", "DECRBY"]), _KEYS, _INTS),
        st.tuples(st.just("INCRBYFLOAT"), _KEYS, _FLOATS),
        st.tuples(st.sampled_from(["APPEND", "SETNX", "GETSET"]), _KEYS, _VALUES),
        st.tuples(st.sampled_from(["GETRANGE", "SUBSTR"]), _KEYS, _INTS, _INTS),
        st.tuples(st.just("SETRANGE"), _KEYS, _INTS, _VALUES),
        st.tuples(st.just("MGET"), _KEYS, _KEYS),
        st.tuples(st.sampled_from(["MSET", "MSETNX"]), _KEYS, _VALUES, _KEYS, _VALUES),
        st.tuples(st.just("LCS"), _KEYS, _KEYS, st.sampled_from(["LEN", "IDX", "WITHMATCHLEN"])),
        st.tuples(st.just("LPUSH"), _KEYS, _VALUES),
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
