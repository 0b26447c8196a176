"""HyperLogLog in Redis's own string format (hyperloglog.c), byte for byte.

A HyperLogLog is an ordinary string value:

    "HYLL" | encoding (1 = sparse, 0 = dense) | 3 zero bytes | 8-byte cached cardinality
    (little endian; the top bit of the last byte set means "cache invalid") | registers

16384 registers (P = 14) of 6 bits. Dense: registers packed LSB first, 12288 bytes.
Sparse: run-length opcodes - ZERO `00xxxxxx` (1..64 zero registers), XZERO `01xxxxxx
yyyyyyyy` (1..16384 zero registers), VAL `1vvvvvxx` (1..4 registers of value 1..32).
Elements are hashed with MurmurHash64A (seed 0xadc83b19); the low 14 bits pick the
register, the run of zeros after them (plus one) is the value. The cardinality estimate
is Ertl's improved estimator, computed in doubles exactly as Redis does.

Sparse updates follow the same splitting and merging steps as Redis so that the bytes
(hence GET, DUMP and PFCOUNT caching) agree with Redis after the same command sequence.
The functions here work on a `bytearray` holding the whole value and never raise on bad
data: they report corruption through their return values.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_right

__all__ = [
    "HDR_SIZE", "DENSE_SIZE", "REGISTERS", "SparseEditor", "new_sparse", "is_hll", "pat_len",
    "add", "count", "count_registers", "registers", "registers_of", "merge_into",
    "max_registers", "dense_set", "set_registers", "set_dense_registers", "to_dense",
    "invalidate_cache", "cache_valid", "cached_card", "set_cached_card", "murmur64a",
]

P = 14
Q = 64 - P
REGISTERS = 1 << P
_P_MASK = REGISTERS - 1
HDR_SIZE = 16
DENSE_SIZE = HDR_SIZE + (REGISTERS * 6 + 7) // 8
_DENSE = 0
_SPARSE = 1
_VAL_MAX_VALUE = 32
_VAL_MAX_LEN = 4
_ZERO_MAX_LEN = 64
_XZERO_MAX_LEN = 16384
_ALPHA_INF = 0.721347520444481703680
_M64 = 0xC6A4A7935BD1E995
_MASK64 = (1 << 64) - 1
_SEED = 0xADC83B19


def murmur64a(data: bytes, seed: int = _SEED) -> int:
    """MurmurHash64A as Redis uses it (little-endian reads on every platform)."""
    n = len(data)
    h = (seed ^ (n * _M64)) & _MASK64
    nblocks = n >> 3
    if nblocks:
        for k in struct.unpack_from("<%dQ" % nblocks, data):
            k = (k * _M64) & _MASK64
            k ^= k >> 47
            h ^= (k * _M64) & _MASK64
            h = (h * _M64) & _MASK64
    if n & 7:
        h ^= int.from_bytes(data[nblocks << 3:], "little")
        h = (h * _M64) & _MASK64
    h ^= h >> 47
    h = (h * _M64) & _MASK64
    return h ^ (h >> 47)


def pat_len(element: bytes) -> tuple[int, int]:
    """(register index, length of the 000..1 pattern) for an element."""
    h = murmur64a(element)
    index = h & _P_MASK
    h = (h >> P) | (1 << Q)
    return index, (h & -h).bit_length()


# -- header ----------------------------------------------------------------------------
def new_sparse() -> bytearray:
    """An empty HLL as Redis creates it: sparse, all registers in XZERO opcodes, card 0."""
    buf = bytearray(b"HYLL\x01" + bytes(11))
    left = REGISTERS
    while left:
        run = min(left, _XZERO_MAX_LEN)
        buf += bytes((((run - 1) >> 8) | 0x40, (run - 1) & 0xFF))
        left -= run
    return buf


def is_hll(value: bytes) -> bool:
    """Redis's isHLLObjectOrReply checks: magic, known encoding, exact dense length."""
    if len(value) < HDR_SIZE or value[:4] != b"HYLL":
        return False
    enc = value[4]
    if enc > _SPARSE:
        return False
    return not (enc == _DENSE and len(value) != DENSE_SIZE)


def invalidate_cache(buf: bytearray) -> None:
    buf[15] |= 0x80


def cache_valid(buf: bytes) -> bool:
    return not buf[15] & 0x80


def cached_card(buf: bytes) -> int:
    return int.from_bytes(buf[8:16], "little")


def set_cached_card(buf: bytearray, card: int) -> None:
    buf[8:16] = (card & _MASK64).to_bytes(8, "little")


# -- dense -----------------------------------------------------------------------------
def _dense_get(buf, index: int) -> int:
    pos = index * 6
    byte = HDR_SIZE + (pos >> 3)
    fb = pos & 7
    v = buf[byte] >> fb
    if fb > 2:
        v |= buf[byte + 1] << (8 - fb)
    return v & 63


def _dense_put(buf: bytearray, index: int, val: int) -> None:
    pos = index * 6
    byte = HDR_SIZE + (pos >> 3)
    fb = pos & 7
    buf[byte] = (buf[byte] & ~(63 << fb) & 0xFF) | ((val << fb) & 0xFF)
    if fb > 2:
        fb8 = 8 - fb
        buf[byte + 1] = (buf[byte + 1] & ~(63 >> fb8) & 0xFF) | (val >> fb8)


def dense_set(buf: bytearray, index: int, count: int) -> int:
    """Raise register index to count if it is lower; 1 if changed."""
    if count > _dense_get(buf, index):
        _dense_put(buf, index, count)
        return 1
    return 0


def _dense_registers(buf) -> bytes:
    """The 16384 dense register values, one per byte, in register order."""
    regs = bytes(buf[HDR_SIZE:DENSE_SIZE])
    b0, b1, b2 = regs[0::3], regs[1::3], regs[2::3]
    r0 = b0.translate(_LOW6)
    r1 = _or_bytes(b0.translate(_SHR6), b1.translate(_LOW4_SHL2))
    r2 = _or_bytes(b1.translate(_SHR4), b2.translate(_LOW2_SHL4))
    r3 = b2.translate(_SHR2)
    out = bytearray(REGISTERS)
    out[0::4] = r0
    out[1::4] = r1
    out[2::4] = r2
    out[3::4] = r3
    return bytes(out)


def _or_bytes(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") | int.from_bytes(b, "big")).to_bytes(len(a), "big")


_LOW6 = bytes(i & 63 for i in range(256))
_SHR6 = bytes(i >> 6 for i in range(256))
_LOW4_SHL2 = bytes((i & 15) << 2 for i in range(256))
_SHR4 = bytes(i >> 4 for i in range(256))
_LOW2_SHL4 = bytes((i & 3) << 4 for i in range(256))
_SHR2 = bytes(i >> 2 for i in range(256))
_SHL6 = bytes((i << 6) & 0xFF for i in range(256))
_SHL4 = bytes((i << 4) & 0xFF for i in range(256))
_SHL2 = bytes((i << 2) & 0xFF for i in range(256))


# -- sparse ----------------------------------------------------------------------------
def _sparse_registers(buf) -> bytearray | None:
    """Register values of a sparse HLL, or None if its opcodes do not cover 16384 exactly."""
    regs = bytearray(REGISTERS)
    idx = 0
    p = HDR_SIZE
    end = len(buf)
    while p < end:
        op = buf[p]
        if op & 0x80:
            run = (op & 3) + 1
            if idx + run > REGISTERS:
                return None
            regs[idx:idx + run] = bytes((((op >> 2) & 31) + 1,)) * run
            idx += run
            p += 1
        elif op & 0x40:
            if p + 1 >= end:
                # Redis reads the sds terminator (0) as the second byte.
                idx += ((op & 0x3F) << 8) + 1
                p += 2
                continue
            idx += (((op & 0x3F) << 8) | buf[p + 1]) + 1
            p += 2
        else:
            idx += (op & 0x3F) + 1
            p += 1
    if idx != REGISTERS:
        return None
    return regs


def to_dense(buf: bytearray) -> bytearray | None:
    """The dense form of a sparse HLL (header and cached card kept), or None if corrupt."""
    regs = _sparse_registers(buf)
    if regs is None:
        return None
    dense = bytearray(DENSE_SIZE)
    dense[:HDR_SIZE] = buf[:HDR_SIZE]
    dense[4] = _DENSE
    set_dense_registers(dense, regs)
    return dense


def set_dense_registers(dense: bytearray, regs) -> None:
    """Write register values (one per byte) into a dense buffer's register area."""
    regs = bytes(regs)
    r0, r1, r2, r3 = regs[0::4], regs[1::4], regs[2::4], regs[3::4]
    out = bytearray(DENSE_SIZE - HDR_SIZE)
    out[0::3] = _or_bytes(r0, r1.translate(_SHL6))
    out[1::3] = _or_bytes(r1.translate(_SHR2), r2.translate(_SHL4))
    out[2::3] = _or_bytes(r2.translate(_SHR4), r3.translate(_SHL2))
    dense[HDR_SIZE:DENSE_SIZE] = out


class SparseEditor:
    """A sparse HLL decoded into opcodes for a batch of register updates.

    `ops[i]` is one opcode (a byte for ZERO and VAL, 0x10000 | two bytes for XZERO) and
    `starts[i]` the first register it covers. Splitting or merging opcodes never moves
    the registers other opcodes cover, so `starts` stays valid under list inserts and
    deletes, and the opcode covering a register is found by bisection instead of the
    linear walk Redis does. The editing steps (split, size check, merge of up to five
    opcodes from the previous one) are Redis's, so `encode()` gives Redis's bytes.
    """

    __slots__ = ("header", "ops", "starts", "size")

    def __init__(self, buf) -> None:
        self.header = bytearray(buf[:HDR_SIZE])
        ops: list[int] = []
        starts: list[int] = []
        first = 0
        p = HDR_SIZE
        end = len(buf)
        while p < end:
            op = buf[p]
            starts.append(first)
            if op & 0x80:
                first += (op & 3) + 1
                p += 1
            elif op & 0x40:
                second = buf[p + 1] if p + 1 < end else 0
                op = 0x10000 | (op << 8) | second
                first += (op & 0x3FFF) + 1
                p += 2
            else:
                first += op + 1
                p += 1
            ops.append(op)
        self.ops = ops
        self.starts = starts
        self.size = end

    def encode(self) -> bytearray:
        out = bytearray(self.header)
        one = _ONE_BYTE
        out += b"".join([one[op] if op < 256 else _xzero_bytes(op) for op in self.ops])
        return out

    def set(self, index: int, count: int, max_bytes: int) -> int:
        """Raise register index to count: 1 changed, 0 unchanged, -1 corrupt, 2 must promote."""
        if count > _VAL_MAX_VALUE:
            return 2
        ops = self.ops
        starts = self.starts
        i = bisect_right(starts, index) - 1
        if i < 0:
            return -1
        op = ops[i]
        first = starts[i]
        if op >= 0x10000:
            span = (op & 0x3FFF) + 1
        elif op & 0x80:
            span = (op & 3) + 1
        else:
            span = op + 1
        if index > first + span - 1:
            return -1
        if op & 0x80 and op < 0x10000:
            if ((op >> 2) & 31) + 1 >= count:
                return 0
            if not op & 3:
                ops[i] = 0x80 | ((count - 1) << 2)
                self._merge(i)
                return 1
        elif op == 0:
            ops[i] = 0x80 | ((count - 1) << 2)
            self._merge(i)
            return 1
        last = first + span - 1
        seq: list[int] = []
        seq_starts: list[int] = []
        newval = 0x80 | ((count - 1) << 2)
        if op & 0x80 and op < 0x10000:
            if index != first:
                seq.append((op & 0xFC) | (index - first - 1))
                seq_starts.append(first)
            seq.append(newval)
            seq_starts.append(index)
            if index != last:
                seq.append((op & 0xFC) | (last - index - 1))
                seq_starts.append(index + 1)
            delta = len(seq) - 1
        else:
            delta = 0
            if index != first:
                delta += _zero_op(seq, index - first)
                seq_starts.append(first)
            seq.append(newval)
            seq_starts.append(index)
            delta += 1
            if index != last:
                delta += _zero_op(seq, last - index)
                seq_starts.append(index + 1)
            delta -= 2 if op >= 0x10000 else 1
        if delta > 0 and self.size + delta > max_bytes:
            return 2
        ops[i:i + 1] = seq
        starts[i:i + 1] = seq_starts
        self.size += delta
        self._merge(i)
        return 1

    def _merge(self, i: int) -> None:
        """Merge adjacent equal VAL opcodes, looking at up to five from the one before i."""
        ops = self.ops
        p = i - 1 if i > 0 else 0
        scan = 5
        while p < len(ops) and scan:
            scan -= 1
            op = ops[p]
            if not op & 0x80 or op >= 0x10000:
                p += 1
                continue
            if p + 1 < len(ops):
                nxt = ops[p + 1]
                if nxt & 0x80 and nxt < 0x10000 and (op & 0x7C) == (nxt & 0x7C):
                    run = (op & 3) + (nxt & 3) + 2
                    if run <= _VAL_MAX_LEN:
                        ops[p] = (op & 0xFC) | (run - 1)
                        del ops[p + 1]
                        del self.starts[p + 1]
                        self.size -= 1
                        continue
            p += 1
        self.header[15] |= 0x80


_ONE_BYTE = [bytes((i,)) for i in range(256)]


def _xzero_bytes(op: int) -> bytes:
    return bytes(((op >> 8) & 0xFF, op & 0xFF))


def _zero_op(seq: list[int], n: int) -> int:
    """Append a ZERO or XZERO opcode for n registers; returns its size in bytes."""
    if n > _ZERO_MAX_LEN:
        seq.append(0x10000 | ((((n - 1) >> 8) | 0x40) << 8) | ((n - 1) & 0xFF))
        return 2
    seq.append(n - 1)
    return 1


def set_registers(buf: bytearray, values, max_bytes: int) -> bytearray:
    """Raise every register i to values[i] (0 = leave), as PFMERGE does; returns the buffer
    (a new dense one if the sparse form had to be promoted)."""
    editor = SparseEditor(buf) if buf[4] == _SPARSE else None
    for index, val in enumerate(values):
        if not val:
            continue
        if editor is not None:
            r = editor.set(index, val, max_bytes)
            if r != 2:
                continue
            dense = to_dense(editor.encode())
            if dense is None:
                return editor.encode()
            buf = dense
            editor = None
        dense_set(buf, index, val)
    return editor.encode() if editor is not None else buf


# -- operations --------------------------------------------------------------------------
# Editors of recently written sparse values, keyed by the identity of the bytes object
# stored in the database: a run of PFADDs to one key then decodes its opcodes only once.
# An entry is used only if the value passed in is that very object (bytes are immutable).
_EDITORS: dict[int, tuple[bytes, SparseEditor]] = {}
_EDITORS_MAX = 32


def add(value: bytes | None, elements, max_bytes: int) -> tuple[int, bytes]:
    """PFADD on a stored value (None: a new HLL): (registers changed, or -1 if the value is
    corrupt; the new value, with its cached cardinality invalidated if anything changed)."""
    changed = 0
    buf: bytearray | None
    if value is None:
        buf = new_sparse()
        changed = 1
        editor: SparseEditor | None = SparseEditor(buf)
    else:
        buf = bytearray(value) if value[4] == _DENSE else None
        cached = _EDITORS.pop(id(value), None)
        if buf is not None:
            editor = None
        elif cached is not None and cached[0] is value:
            editor = cached[1]
            editor.header[:] = value[:HDR_SIZE]
        else:
            editor = SparseEditor(value)
    for element in elements:
        index, cnt = pat_len(element)
        if editor is not None:
            r = editor.set(index, cnt, max_bytes)
            if r == -1:
                return -1, b""
            if r != 2:
                changed += r
                continue
            dense = to_dense(editor.encode())
            if dense is None:
                return -1, b""
            buf = dense
            editor = None
        assert buf is not None  # no sparse editor: the dense registers
        changed += dense_set(buf, index, cnt)
    if editor is not None:
        if changed:
            editor.header[15] |= 0x80
        out = bytes(editor.encode())
        if len(_EDITORS) >= _EDITORS_MAX:
            _EDITORS.pop(next(iter(_EDITORS)))
        _EDITORS[id(out)] = (out, editor)
        return changed, out
    assert buf is not None
    if changed:
        invalidate_cache(buf)
    return changed, bytes(buf)


def registers(buf) -> bytes | bytearray | None:
    """Register values (one per byte) of a valid HLL, or None if a sparse one is corrupt."""
    if buf[4] == _DENSE:
        return _dense_registers(buf)
    return _sparse_registers(buf)


_LANE_HIGH = int.from_bytes(b"\x80" * REGISTERS, "little")


def max_registers(a: int, b: int) -> int:
    """Lane-wise maximum of two register vectors held as integers (one byte per register,
    values < 128): a SWAR compare, so merging 16384 registers is a few big-int operations."""
    ge = (((a | _LANE_HIGH) - b) & _LANE_HIGH) >> 7  # 1 in each lane where a >= b
    mask = (ge << 8) - ge
    return (a & mask) | (b & ~mask)


def merge_into(acc: list[int], buf) -> bool:
    """acc[0] = lane-wise max(acc[0], registers of buf); False if buf is a corrupt sparse HLL."""
    regs = registers(buf)
    if regs is None:
        return False
    acc[0] = max_registers(acc[0], int.from_bytes(regs, "little"))
    return True


def registers_of(acc: list[int]) -> bytes:
    return acc[0].to_bytes(REGISTERS, "little")


def count_registers(regs) -> int:
    """Cardinality estimate from register values (Ertl's estimator, as Redis computes it)."""
    regs = bytes(regs)
    histo = [regs.count(v) for v in range(64)]
    m = float(REGISTERS)
    z = m * _tau((m - histo[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += histo[j]
        z *= 0.5
    z += m * _sigma(histo[0] / m)
    e = _ALPHA_INF * m * m / z
    # llroundl: half away from zero (e is never negative)
    whole = math.floor(e)
    return int(whole + 1 if e - whole >= 0.5 else whole)


def count(buf) -> int | None:
    """The estimated cardinality of an HLL, or None if it is a corrupt sparse one."""
    regs = registers(buf)
    return None if regs is None else count_registers(regs)


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prev = z
        z += x * y
        y += y
        if z_prev == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        z_prev = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if z_prev == z:
            return z / 3
