"""The HyperLogLog structure on its own: register packing, hashing, estimator, sparse edits."""

from __future__ import annotations

import random

from keystream.keyspace.datatypes import hll


def test_new_sparse_is_redis_empty_hll() -> None:
    assert bytes(hll.new_sparse()) == b"HYLL\x01" + bytes(11) + b"\x7f\xff"
    assert hll.count(hll.new_sparse()) == 0


def test_dense_pack_roundtrip() -> None:
    rnd = random.Random(1)
    regs = bytes(rnd.randrange(64) for _ in range(hll.REGISTERS))
    buf = bytearray(hll.DENSE_SIZE)
    buf[:5] = b"HYLL\x00"
    hll.set_dense_registers(buf, regs)
    assert hll.registers(buf) == regs
    assert hll.dense_set(buf, 16383, 63) == (regs[16383] < 63)
    assert hll.registers(buf)[16383] == 63


def test_sparse_and_dense_agree() -> None:
    rnd = random.Random(2)
    elements = [str(rnd.random()).encode() for _ in range(3000)]
    _, sparse = hll.add(None, elements[:200], 1 << 30)
    dense = hll.to_dense(bytearray(sparse))
    assert dense is not None and len(dense) == hll.DENSE_SIZE
    assert hll.count(dense) == hll.count(sparse)
    _, promoted = hll.add(None, elements, 3000)
    assert promoted[4] == 0
    assert abs(hll.count(promoted) - 3000) < 3000 * 0.05


def test_corrupt_sparse_detected() -> None:
    buf = bytearray(b"HYLL\x01" + bytes(11) + bytes((0x40, 99)))  # covers 100 registers
    assert hll.count(buf) is None
    assert hll.add(bytes(buf), [b"a"], 3000)[0] == -1
    assert hll.to_dense(buf) is None


def test_max_registers_is_lanewise() -> None:
    rnd = random.Random(3)
    a = bytes(rnd.randrange(64) for _ in range(hll.REGISTERS))
    b = bytes(rnd.randrange(64) for _ in range(hll.REGISTERS))
    got = hll.max_registers(int.from_bytes(a, "little"), int.from_bytes(b, "little"))
    assert got.to_bytes(hll.REGISTERS, "little") == bytes(map(max, a, b))


def test_repeated_adds_reuse_editor_and_match_fresh_decoding() -> None:
    value = None
    for i in range(300):
        _, value = hll.add(value, [b"e%d" % i], 3000)
    _, fresh = hll.add(None, [b"e%d" % i for i in range(300)], 3000)
    assert value[16:] == fresh[16:]


def test_murmur_is_stable() -> None:
    # Values computed by Redis's MurmurHash64A (seed 0xadc83b19).
    assert hll.pat_len(b"a") == (12711, 2)
