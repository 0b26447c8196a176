"""The RDB codec alone: values round-trip in the encodings Redis gives them, old encodings
load, and broken input is refused whole.

The byte layouts of the old encodings are built here by small writers of our own, from the
format descriptions (ziplist.c, zipmap.c); the integration tests check the writer and reader
against a real redis-server.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import pytest

from keystream.keyspace.datatypes.hash import Hash
from keystream.keyspace.datatypes.list import ListValue
from keystream.keyspace.datatypes.set import Set
from keystream.keyspace.datatypes.stream import ID_MAX, Group, Stream, make_id
from keystream.keyspace.datatypes.zset import ZSet
from keystream.persistence.encodings import (
    EncodingError,
    intset_decode,
    intset_encode,
    listpack_decode,
    listpack_encode,
)
from keystream.persistence.rdb import (
    Limits,
    PayloadError,
    RdbError,
    RdbWriter,
    crc64,
    dump_payload,
    encode_length,
    encode_string,
    parse_rdb,
    quicklist_nodes,
    restore_payload,
)

NOW = 1_700_000_000_000
L = Limits()


def _file(entries: list[tuple[bytes, object, int | None]], limits: Limits = L, checksum: bool = True,
          db: int = 0) -> bytes:
    out = io.BytesIO()
    w = RdbWriter(out, limits, checksum)
    w.aux(b"redis-ver", b"7.0.15")
    w.select_db(db, len(entries), sum(1 for e in entries if e[2] is not None))
    for key, value, expire in entries:
        w.key(key, value, expire)
    w.finish()
    return out.getvalue()


def _values(data: bytes, limits: Limits = L) -> dict[bytes, object]:
    c = parse_rdb(data, limits, NOW)
    return {key: value for db in c.dbs.values() for key, value in db.data.items()}


def _hash(d: dict[bytes, bytes], big: bool = False) -> Hash:
    h = Hash(d)
    h.big = big
    return h


# -- primitives ----------------------------------------------------------------------------
def test_crc64_is_redis_jones_crc() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA  # the check value in Redis's crc64.c


def test_length_encodings() -> None:
    assert encode_length(63) == b"\x3f"
    assert encode_length(64) == b"\x40\x40"
    assert encode_length(16383) == b"\x7f\xff"
    assert encode_length(16384) == b"\x80\x00\x00\x40\x00"
    assert encode_length(2**32) == b"\x81" + (2**32).to_bytes(8, "big")


@pytest.mark.parametrize(("value", "encoded"), [
    (b"0", b"\xc0\x00"), (b"-128", b"\xc0\x80"), (b"127", b"\xc0\x7f"), (b"128", b"\xc1\x80\x00"),
    (b"-32769", b"\xc2\xff\x7f\xff\xff"), (b"2147483647", b"\xc2\xff\xff\xff\x7f"),
    (b"2147483648", b"\x0a2147483648"),  # beyond 32 bits: raw
    (b"01", b"\x0201"), (b"-0", b"\x02-0"), (b"+1", b"\x02+1"),  # not canonical: raw
    (b"abc", b"\x03abc"),
])
def test_string_encodings(value: bytes, encoded: bytes) -> None:
    assert encode_string(value, True) == encoded


def test_long_compressible_string_is_lzf_only_when_compression_is_on() -> None:
    v = b"abc" * 20
    c = encode_string(v, True)
    assert c[0] == 0xC3 and len(c) < len(v)
    assert encode_string(v, False) == b"\x3c" + v
    short = b"a" * 20  # Redis compresses only strings over 20 bytes
    assert encode_string(short, True) == b"\x14" + short


def test_listpack_integer_and_string_entries_round_trip() -> None:
    values = [b"0", b"127", b"128", b"-4096", b"4095", b"-32768", b"32767", b"8388607", b"-8388608",
              b"2147483647", b"-2147483648", b"9223372036854775807", b"-9223372036854775808",
              b"9223372036854775808", b"007", b"", b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096]
    blob = listpack_encode(values)
    assert struct.unpack_from("<IH", blob) == (len(blob), len(values))
    assert listpack_decode(blob) == values


def test_listpack_decoder_refuses_broken_blobs() -> None:
    blob = listpack_encode([b"hello", b"12"])
    with pytest.raises(EncodingError):
        listpack_decode(blob[:-1])
    with pytest.raises(EncodingError):
        listpack_decode(blob[:-2] + b"\xff")
    bad_count = blob[:4] + struct.pack("<H", 3) + blob[6:]
    with pytest.raises(EncodingError):
        listpack_decode(bad_count)


def test_intset_widths_and_order() -> None:
    assert intset_encode([3, 1, 2])[:8] == struct.pack("<II", 2, 3)
    assert intset_encode([70000])[:4] == struct.pack("<I", 4)
    assert intset_encode([2**40])[:4] == struct.pack("<I", 8)
    assert intset_decode(intset_encode([5, -3, 2**40])) == [b"-3", b"5", b"1099511627776"]
    unsorted = struct.pack("<II2h", 2, 2, 5, 1)
    with pytest.raises(EncodingError):
        intset_decode(unsorted)


# -- values in their Redis encodings ---------------------------------------------------------
def _roundtrip(value: object, limits: Limits = L) -> object:
    return restore_payload(dump_payload(value, limits), limits)


def test_string_and_containers_round_trip_with_their_encodings() -> None:
    assert _roundtrip(b"hello") == b"hello"
    lst = ListValue.from_values([b"a", b"1", b"x" * 10000, b"-7"])
    back = _roundtrip(lst)
    assert type(back) is ListValue and list(back.values()) == [b"a", b"1", b"x" * 10000, b"-7"]
    small = _roundtrip(_hash({b"f": b"v", b"n": b"12"}))
    assert small == {b"f": b"v", b"n": b"12"} and not small.big
    big = _roundtrip(_hash({b"f%d" % i: b"v" for i in range(600)}, big=True))
    assert len(big) == 600 and big.big
    iset = _roundtrip(Set.build([b"1", b"-5", b"70000"], 512))
    assert iset == {b"1", b"-5", b"70000"} and not iset.big
    hset = _roundtrip(Set.build([b"a", b"1"], 512))
    assert hset == {b"a", b"1"} and hset.big
    zl = _roundtrip(ZSet.build([(1.5, b"a"), (-2.0, b"b"), (float("inf"), b"c"), (0.1, b"d")], False))
    assert zl.items(0, 4) == [(-2.0, b"b"), (0.1, b"d"), (1.5, b"a"), (float("inf"), b"c")]
    assert not zl.skiplist
    zs = _roundtrip(ZSet.build([(i * 0.5, b"m%d" % i) for i in range(200)], True))
    assert zs.skiplist and zs.items(0, 3) == [(0.0, b"m0"), (0.5, b"m1"), (1.0, b"m2")]


def test_loading_applies_the_configured_thresholds() -> None:
    h = _hash({b"f%d" % i: b"v" for i in range(10)})
    assert _roundtrip(h, Limits(hash_entries=5)).big
    z = ZSet.build([(float(i), b"m%d" % i) for i in range(10)], False)
    assert _roundtrip(z, Limits(zset_entries=5)).skiplist
    s = Set.build([b"%d" % i for i in range(10)], 512)
    assert _roundtrip(s, Limits(set_intset=5)).big
    # a skiplist small enough goes back to a listpack on load, as in Redis
    z2 = ZSet.build([(1.0, b"a")], True)
    assert not _roundtrip(z2).skiplist


def test_quicklist_nodes_are_cut_by_size_and_by_count() -> None:
    values = [b"x" * 100] * 200
    nodes = quicklist_nodes(values, -2)  # 8 KB nodes
    assert len(nodes) > 1 and all(7 + sum(map(len, n)) <= 8192 for n in nodes)
    assert [len(n) for n in quicklist_nodes([b"a"] * 10, 4)] == [4, 4, 2]


def test_payload_checks_version_and_checksum() -> None:
    p = dump_payload(b"hello", L)
    assert p[-10:-8] == b"\x0a\x00"
    with pytest.raises(PayloadError):
        restore_payload(p[:-1] + bytes([p[-1] ^ 1]), L)
    newer = p[:-10] + b"\x0b\x00"
    with pytest.raises(PayloadError):
        restore_payload(newer + crc64(newer).to_bytes(8, "little"), L)
    with pytest.raises(PayloadError):
        restore_payload(b"\x00\x01", L)
    garbage = b"\x0e\x05" + b"\x0a\x00"  # a quicklist with 5 nodes and no bytes for them
    with pytest.raises(RdbError):
        restore_payload(garbage + crc64(garbage).to_bytes(8, "little"), L)
    empty = b"\x02\x00\x0a\x00"  # an empty set: Redis refuses empty keys in payloads
    with pytest.raises(RdbError):
        restore_payload(empty + crc64(empty).to_bytes(8, "little"), L)


# -- whole files -----------------------------------------------------------------------------
def test_file_round_trip_with_expiry_and_several_databases() -> None:
    out = io.BytesIO()
    w = RdbWriter(out, L)
    w.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    w.select_db(0, 1, 1)
    w.key(b"a", b"1", NOW + 5000)
    w.select_db(7, 2, 0)
    w.key(b"b", _hash({b"f": b"v"}))
    w.key(b"gone", b"x", NOW - 1)
    w.finish()
    c = parse_rdb(out.getvalue(), L, NOW)
    assert c.dbs[0].data == {b"a": b"1"} and c.dbs[0].expires == {b"a": NOW + 5000}
    assert list(c.dbs[7].data) == [b"b"]
    assert c.keys_expired == 1
    assert c.functions and c.functions[0].startswith(b"#!lua")


def test_checksum_mismatch_truncation_and_bad_signature_are_refused() -> None:
    data = _file([(b"k", b"v" * 100, None), (b"h", _hash({b"f": b"v"}), None)])
    flipped = bytearray(data)
    flipped[30] ^= 0x01
    with pytest.raises(RdbError, match="checksum|corrupt|Short read"):
        parse_rdb(bytes(flipped), L, NOW)
    for cut in (5, 12, len(data) // 2, len(data) - 9, len(data) - 3):
        with pytest.raises(RdbError):
            parse_rdb(data[:cut], L, NOW)
    with pytest.raises(RdbError, match="signature"):
        parse_rdb(b"NOTREDIS" + data[8:], L, NOW)
    with pytest.raises(RdbError, match="version 11"):
        parse_rdb(b"REDIS0011" + data[9:], L, NOW)


def test_checksum_zero_means_not_checked_and_rdbchecksum_off_writes_zero() -> None:
    data = _file([(b"k", b"v", None)], checksum=False)
    assert data[-8:] == bytes(8)
    assert _values(data) == {b"k": b"v"}


def test_too_many_databases_and_duplicate_keys_are_refused() -> None:
    with pytest.raises(RdbError, match="databases"):
        parse_rdb(_file([(b"k", b"v", None)], db=20), L, NOW, databases=16)
    out = io.BytesIO()
    w = RdbWriter(out, L)
    w.select_db(0, 2, 0)
    w.key(b"k", b"1")
    w.key(b"k", b"2")
    w.finish()
    with pytest.raises(RdbError, match="duplicate key"):
        parse_rdb(out.getvalue(), L, NOW)


def test_module_values_are_refused_by_name() -> None:
    body = b"REDIS0010\xf7\x01"
    with pytest.raises(RdbError, match="module"):
        parse_rdb(body, L, NOW)


# -- old encodings (RDB 1-9) -----------------------------------------------------------------
def _zl_entry(v: bytes, prev: int) -> bytes:
    head = bytes((prev,)) if prev < 254 else b"\xfe" + prev.to_bytes(4, "little")
    try:
        i = int(v)
        if str(i).encode() != v:
            raise ValueError
    except ValueError:
        n = len(v)
        enc = bytes((n,)) if n < 64 else bytes((0x40 | (n >> 8), n & 0xFF))
        return head + enc + v
    if 0 <= i <= 12:
        return head + bytes((0xF1 + i,))
    if -128 <= i <= 127:
        return head + b"\xfe" + i.to_bytes(1, "little", signed=True)
    if -32768 <= i <= 32767:
        return head + b"\xc0" + i.to_bytes(2, "little", signed=True)
    if -8388608 <= i <= 8388607:
        return head + b"\xf0" + i.to_bytes(3, "little", signed=True)
    if -(2**31) <= i < 2**31:
        return head + b"\xd0" + i.to_bytes(4, "little", signed=True)
    return head + b"\xe0" + i.to_bytes(8, "little", signed=True)


def _ziplist(values: list[bytes]) -> bytes:
    body = b""
    prev = 0
    tail = 10
    for v in values:
        e = _zl_entry(v, prev)
        tail = 10 + len(body)
        body += e
        prev = len(e)
    return struct.pack("<IIH", 11 + len(body), tail, len(values)) + body + b"\xff"


def _zipmap(pairs: list[tuple[bytes, bytes]]) -> bytes:
    out = bytes((len(pairs),))
    for k, v in pairs:
        out += bytes((len(k),)) + k + bytes((len(v),)) + b"\x00" + v
    return out + b"\xff"


def _old_file(version: int, records: bytes) -> bytes:
    body = b"REDIS%04d" % version + b"\xfe\x00" + records + b"\xff"
    return body + (crc64(body).to_bytes(8, "little") if version >= 5 else b"")


def _s(b: bytes) -> bytes:
    return encode_string(b, False)


def test_ziplist_zipmap_intset_and_old_lists_load() -> None:
    values = [b"a", b"0", b"12", b"13", b"-100", b"1000", b"100000", b"3000000000", b"x" * 70]
    records = (
        b"\x0a" + _s(b"zl_list") + _s(_ziplist(values))
        + b"\x0e" + _s(b"ql1") + b"\x02" + _s(_ziplist([b"a", b"b"])) + _s(_ziplist([b"c"]))
        + b"\x01" + _s(b"linked") + b"\x02" + _s(b"p") + _s(b"q")
        + b"\x09" + _s(b"zipmap") + _s(_zipmap([(b"f", b"v"), (b"g", b"12")]))
        + b"\x0d" + _s(b"zl_hash") + _s(_ziplist([b"f", b"v", b"n", b"5"]))
        + b"\x0c" + _s(b"zl_zset") + _s(_ziplist([b"a", b"1", b"b", b"2.5"]))
        + b"\x0b" + _s(b"intset") + _s(intset_encode([1, 2, 3]))
        + b"\x03" + _s(b"textzset") + b"\x02" + _s(b"m") + b"\x033.5" + _s(b"n") + b"\xfe"
    )
    got = _values(_old_file(9, records))
    assert list(got[b"zl_list"].values()) == values
    assert list(got[b"ql1"].values()) == [b"a", b"b", b"c"]
    assert list(got[b"linked"].values()) == [b"p", b"q"]
    assert got[b"zipmap"] == {b"f": b"v", b"g": b"12"}
    assert got[b"zl_hash"] == {b"f": b"v", b"n": b"5"}
    assert got[b"zl_zset"].items(0, 2) == [(1.0, b"a"), (2.5, b"b")]
    assert got[b"intset"] == {b"1", b"2", b"3"}
    assert got[b"textzset"].items(0, 2) == [(3.5, b"m"), (float("inf"), b"n")]


def test_old_versions_without_checksum_and_second_expiries_load() -> None:
    records = b"\xfd" + (1_800_000_000).to_bytes(4, "little") + b"\x00" + _s(b"k") + _s(b"v")
    c = parse_rdb(_old_file(4, records), L, NOW)
    assert c.dbs[0].expires == {b"k": 1_800_000_000_000}


# -- streams ---------------------------------------------------------------------------------
def _stream() -> Stream:
    """Two nodes (max 4 entries each), entries with and without the master fields, one deleted
    in place, a group with pending entries and a consumer without, a group of unknown
    entries-read."""
    s = Stream()
    for i in range(7):
        pairs = [b"a", b"%d" % i, b"b", b"x" * i] if i != 2 else [b"other", b"-1"]
        s.append(make_id(1000 + i, i), pairs, 4096, 4)
    s.xdel([make_id(1001, 1)])
    g = s.groups[b"g"] = Group(make_id(1004, 4), 4)
    zed = g.create_consumer(b"zed", NOW)
    assert zed is not None
    g.deliver(make_id(1000, 0), zed, NOW - 5)
    g.deliver(make_id(1003, 3), zed, NOW - 2).delivery_count = 7
    g.create_consumer(b"amy", NOW - 9)
    s.groups[b"a-first"] = Group(make_id(1002, 2), None)
    return s


def _stream_state(s: Stream) -> tuple[object, ...]:
    groups = {name: (g.last_id, g.entries_read,
                     [(sid, n.consumer.name if n.consumer else None, n.delivery_time, n.delivery_count)
                      for sid, n in g.pel.items()],
                     {c.name: (c.seen_time, list(c.pel)) for c in g.consumers.values()})
              for name, g in s.groups.items()}
    return (s.range(), s.firsts, [(n.live, n.deleted) for n in s.nodes], s.length, s.last_id,
            s.first_id, s.max_deleted, s.entries_added, groups)


def test_stream_round_trips_with_nodes_tombstones_and_groups() -> None:
    s = _stream()
    p = dump_payload(s, L)
    assert p[0] == 19
    back = restore_payload(p, L)
    assert _stream_state(back) == _stream_state(s)
    assert dump_payload(back, L) == p
    assert list(back.groups) == [b"a-first", b"g"]  # Redis keeps groups in name order
    assert dump_payload(back, Limits(compress=False)) != p


def test_empty_stream_keeps_its_metadata() -> None:
    s = Stream()
    s.append(make_id(5, 5), [b"f", b"v"], 4096, 100)
    s.xdel([make_id(5, 5)])
    back = restore_payload(dump_payload(s, L), L)
    assert (back.length, back.nodes, back.last_id, back.max_deleted, back.entries_added) == \
        (0, [], make_id(5, 5), make_id(5, 5), 1)


def _listpack(items: list[bytes]) -> bytes:
    return encode_string(listpack_encode(items), False)


def _v1_stream(groups: bytes, n_groups: int) -> bytes:
    """RDB_TYPE_STREAM_LISTPACKS (Redis 5/6): one node of entries 10-1 (deleted) and 10-2."""
    node = _listpack([b"1", b"1", b"1", b"f", b"0",
                      b"3", b"0", b"0", b"a", b"4",
                      b"2", b"0", b"1", b"b", b"4"])
    return (b"\x0f" + encode_length(1) + encode_string(make_id(10, 1).to_bytes(16, "big"), False) + node
            + encode_length(1) + encode_length(10) + encode_length(2) + encode_length(n_groups) + groups)


def test_version_1_streams_load_with_what_redis_derives() -> None:
    group = (encode_string(b"g", False) + encode_length(10) + encode_length(1)  # last ID 10-1
             + encode_length(1) + make_id(10, 2).to_bytes(16, "big") + struct.pack("<q", NOW) + encode_length(3)
             + encode_length(1) + encode_string(b"c", False) + struct.pack("<q", NOW - 1)
             + encode_length(1) + make_id(10, 2).to_bytes(16, "big"))
    head = _v1_stream(group, 1) + b"\x0a\x00"
    s = restore_payload(head + crc64(head).to_bytes(8, "little"), L)
    assert s.range() == [(make_id(10, 2), [b"f", b"b"])]
    assert (s.length, s.first_id, s.last_id, s.max_deleted, s.entries_added) == (1, make_id(10, 2),
                                                                                 make_id(10, 2), 0, 1)
    g = s.groups[b"g"]
    assert g.entries_read == 0  # before the first entry, no tombstone known (max deleted 0-0)
    nack = g.pel[make_id(10, 2)]
    assert (nack.consumer, nack.delivery_time, nack.delivery_count) == (g.consumers[b"c"], NOW, 3)
    assert g.consumers[b"c"].seen_time == NOW - 1
    empty = (b"\x0f" + encode_length(0) + encode_length(0) + encode_length(3) + encode_length(0)
             + encode_length(0) + b"\x0a\x00")
    e = restore_payload(empty + crc64(empty).to_bytes(8, "little"), L)
    assert (e.length, e.first_id, e.last_id) == (0, ID_MAX, make_id(3, 0))


def _orphan_pending(s: Stream) -> None:
    zed = s.groups[b"g"].consumers[b"zed"]
    zed.pel[make_id(1, 1)] = zed.pel[make_id(1000, 0)]


@pytest.mark.parametrize("mangle", [
    lambda s: setattr(s, "length", 99),  # length unlike the entries
    lambda s: setattr(s.nodes[0], "live", 5),  # master entry count unlike the node's entries
    lambda s: setattr(s.nodes[1], "master", make_id(1, 0)),  # nodes out of order
    _orphan_pending,  # a consumer's pending entry missing from the group's PEL
    lambda s: s.groups[b"g"].consumers[b"zed"].pel.clear(),  # a group PEL entry without a consumer
])
def test_broken_streams_are_refused(mangle: Callable[[Stream], None]) -> None:
    s = _stream()
    mangle(s)
    good = dump_payload(_stream(), L)
    bad = dump_payload(s, L)
    assert bad != good
    with pytest.raises(RdbError):
        restore_payload(bad, L)
    with pytest.raises(RdbError):
        restore_payload(good[:-10 - 3] + good[-10:-8] + crc64(good[:-13] + good[-10:-8]).to_bytes(8, "little"), L)


# -- payload validation as Redis reports it ----------------------------------------------------
def _payload(t: int, body: bytes) -> bytes:
    head = bytes((t,)) + body + b"\x0a\x00"
    return head + crc64(head).to_bytes(8, "little")


def test_integrity_failures_name_the_encoding_as_redis_does() -> None:
    lp = bytearray(listpack_encode([b"f", b"v", b"g", b"7"]))
    lp[9] = 5  # the backlen of the entry "v" (two bytes long)
    cases = [
        (16, _s(bytes(lp)), "Hash listpack integrity check failed"),
        (16, _s(listpack_encode([b"f", b"v", b"f", b"w"])), "listpack with dup elements"),
        (13, _s(_ziplist([b"f", b"v", b"f", b"w"])), "ziplist with dup elements"),
        (9, _s(b"\x00\xff"), "Zipmap integrity check failed"),
        (12, _s(_ziplist([b"a", b"1"])[:4] + b"\x0a" + _ziplist([b"a", b"1"])[5:]),
         "Zset ziplist integrity check failed: ziplist tail offset"),
        (12, _s(_ziplist([b"a", b"1", b"b"])[:-3] + b"\xff"), "Zset ziplist integrity check failed"),
        (11, _s(b"\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00"), "Intset integrity check failed"),
        (18, b"\x01\x02" + _s(bytes(lp)), "Listpack integrity check failed"),
        (4, b"\x02" + _s(b"f") + _s(b"v") + _s(b"f") + _s(b"w"), "Duplicate hash fields detected"),
        (2, b"\x02" + _s(b"m") + _s(b"m"), "Duplicate set members detected"),
    ]
    for t, body, text in cases:
        with pytest.raises(RdbError, match=text):
            restore_payload(_payload(t, body), L)


def test_sanitize_off_skips_only_the_checks_redis_leaves_to_deep_sanitization() -> None:
    """A listpack's element count and one-byte backlens are checked only when sanitizing
    (listpack_decode strict, Limits.sanitize); an entry past the end is refused either way."""
    lp = bytearray(listpack_encode([b"a", b"b"]))
    lp[4] = 7  # the element count
    assert listpack_decode(bytes(lp), strict=False) == [b"a", b"b"]
    with pytest.raises(EncodingError, match="count"):
        listpack_decode(bytes(lp))
    lp = bytearray(listpack_encode([b"a", b"b"]))
    lp[8] = 7  # the backlen of "a"
    assert listpack_decode(bytes(lp), strict=False) == [b"a", b"b"]
    with pytest.raises(EncodingError, match="backlen"):
        listpack_decode(bytes(lp))
    lp = bytearray(listpack_encode([b"a", b"b"]))
    lp[9] = 0x85  # "b" claims five bytes
    for strict in (True, False):
        with pytest.raises(EncodingError):
            listpack_decode(bytes(lp), strict=strict)
    assert Limits(sanitize=False) != L and L.sanitize
