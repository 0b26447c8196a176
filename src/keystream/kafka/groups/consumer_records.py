"""Records of KIP-848 consumer groups in `__consumer_offsets`, in Kafka 4.0's key/value schemas.

A key is Kafka's record type (i16) followed by the key's fields in the non-flexible encoding
(i16-length strings); a value is the value version (i16, always 0) followed by the value's
fields in the flexible encoding (compact strings and arrays, a tagged-field section after every
struct). The record types, as Kafka 4.0's group coordinator writes them:

    3  ConsumerGroupMetadata             key: group        value: Epoch i32
    4  ConsumerGroupPartitionMetadata    key: group        value: Topics [TopicId uuid, TopicName
                                                            string, NumPartitions i32, PartitionMetadata
                                                            [Partition i32, Racks [string]]]
    5  ConsumerGroupMemberMetadata       key: group, member  value: InstanceId string?, RackId string?,
                                                            ClientId string, ClientHost string,
                                                            SubscribedTopicNames [string],
                                                            SubscribedTopicRegex string?,
                                                            RebalanceTimeoutMs i32, ServerAssignor string?
    6  ConsumerGroupTargetAssignmentMetadata   key: group  value: AssignmentEpoch i32
    7  ConsumerGroupTargetAssignmentMember key: group, member  value: TopicPartitions [TopicId uuid,
                                                            Partitions [i32]]
    8  ConsumerGroupCurrentMemberAssignment key: group, member  value: MemberEpoch i32,
                                                            PreviousMemberEpoch i32, State i8,
                                                            AssignedPartitions [TopicId, Partitions],
                                                            PartitionsPendingRevocation [TopicId, Partitions]
    16 ConsumerGroupRegularExpression    key: group, regex  value: Topics [string], Version i64,
                                                            Timestamp i64

The member metadata value carries tagged field 0, ClassicMemberMetadata (SessionTimeoutMs i32,
SupportedProtocols [Name string, Metadata bytes]), for a member that uses the classic protocol
inside a consumer group (online migration); other tagged fields of later Kafka versions
(MetadataHash, AssignmentEpochs) are skipped when read and never written.

Also here: the embedded consumer protocol of classic members (ConsumerProtocolSubscription v0-3
and ConsumerProtocolAssignment v0-3, non-flexible), which the consumer group reads from a
classic JoinGroup and writes into a SyncGroup answer or a downgraded group's record. Tombstones (null values) delete. The classic records
(types 0-2) stay in records.py.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field

from keystream.kafka.codec.header import read_uvarint
from keystream.kafka.codec.primitives import array_len, string, uvarint

__all__ = [
    "CURRENT_ASSIGNMENT",
    "GROUP_METADATA",
    "MEMBER_METADATA",
    "PARTITION_METADATA",
    "REGULAR_EXPRESSION",
    "TARGET_MEMBER",
    "TARGET_METADATA",
    "Assignment",
    "ClassicMemberMetadata",
    "CurrentAssignmentRecord",
    "MemberMetadataRecord",
    "RegexRecord",
    "Subscription",
    "TopicMetadata",
    "decode_key",
    "decode_value",
    "encode_assignment",
    "encode_key",
    "encode_value",
    "parse_assignment",
    "parse_subscription",
    "protocol_version",
]

GROUP_METADATA = 3
PARTITION_METADATA = 4
MEMBER_METADATA = 5
TARGET_METADATA = 6
TARGET_MEMBER = 7
CURRENT_ASSIGNMENT = 8
REGULAR_EXPRESSION = 16
TYPES = frozenset({GROUP_METADATA, PARTITION_METADATA, MEMBER_METADATA, TARGET_METADATA, TARGET_MEMBER,
                   CURRENT_ASSIGNMENT, REGULAR_EXPRESSION})
_TWO_PART_KEYS = frozenset({MEMBER_METADATA, TARGET_MEMBER, CURRENT_ASSIGNMENT, REGULAR_EXPRESSION})

Assignment = dict[uuid.UUID, frozenset[int]]     # topic id -> partitions

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


@dataclass(slots=True)
class TopicMetadata:
    topic_id: uuid.UUID
    name: str
    num_partitions: int


@dataclass(slots=True, frozen=True)
class ClassicMemberMetadata:
    """What a classic member sent in its JoinGroup: its session timeout and (name, metadata) protocols."""
    session_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]


@dataclass(slots=True)
class MemberMetadataRecord:
    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    subscribed_names: tuple[str, ...]
    subscribed_regex: str | None
    rebalance_timeout_ms: int
    server_assignor: str | None
    classic: ClassicMemberMetadata | None = None


@dataclass(slots=True)
class CurrentAssignmentRecord:
    member_epoch: int
    previous_epoch: int
    state: int
    assigned: Assignment = field(default_factory=dict)
    pending_revocation: Assignment = field(default_factory=dict)


@dataclass(slots=True)
class RegexRecord:
    topics: frozenset[str]
    version: int
    timestamp: int


# -- flexible encoding -------------------------------------------------------------------------

def _cstr(s: str) -> bytes:
    return string(s.encode(), True)


def _cnstr(s: str | None) -> bytes:
    return b"\x00" if s is None else _cstr(s)


def _carray(n: int) -> bytes:
    return array_len(n, True)


_TAGS = b"\x00"


def _topic_partitions(a: Assignment) -> bytes:
    parts = [_carray(len(a))]
    for tid in sorted(a, key=lambda u: u.bytes):
        ps = sorted(a[tid])
        parts += [tid.bytes, _carray(len(ps)), b"".join(_I32.pack(p) for p in ps), _TAGS]
    return b"".join(parts)


class _Flex:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos

    def uvarint(self) -> int:
        v, self.pos = read_uvarint(self.buf, self.pos)
        return v

    def fixed(self, s: struct.Struct) -> int:
        (v,) = s.unpack_from(self.buf, self.pos)
        self.pos += s.size
        return int(v)

    def i8(self) -> int:
        v = self.buf[self.pos]
        self.pos += 1
        return v - 256 if v > 127 else v

    def nstr(self) -> str | None:
        n = self.uvarint() - 1
        if n < 0:
            return None
        end = self.pos + n
        if end > len(self.buf):
            raise ValueError("string runs past the end")
        v = self.buf[self.pos:end].decode()
        self.pos = end
        return v

    def str(self) -> str:
        v = self.nstr()
        if v is None:
            raise ValueError("null where a string is required")
        return v

    def uuid(self) -> uuid.UUID:
        v = uuid.UUID(bytes=bytes(self.buf[self.pos:self.pos + 16]))
        self.pos += 16
        return v

    def count(self) -> int:
        n = self.uvarint() - 1
        if n < 0 or n > len(self.buf):
            raise ValueError("bad array length")
        return n

    def tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            size = self.uvarint()
            self.pos += size

    def member_tags(self) -> ClassicMemberMetadata | None:
        """The member metadata's tagged fields: ClassicMemberMetadata (tag 0, a nullable struct)."""
        classic = None
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            size = self.uvarint()
            end = self.pos + size
            if tag == 0 and self.uvarint() > 0:
                timeout = self.fixed(_I32)
                protocols = []
                for _p in range(self.count()):
                    name = self.str()
                    n = self.uvarint() - 1
                    protocols.append((name, bytes(self.buf[self.pos:self.pos + n])))
                    self.pos += n
                    self.tags()
                self.tags()
                classic = ClassicMemberMetadata(timeout, tuple(protocols))
            self.pos = end
        return classic

    def topic_partitions(self) -> Assignment:
        out: Assignment = {}
        for _ in range(self.count()):
            tid = self.uuid()
            out[tid] = frozenset(self.fixed(_I32) for _ in range(self.count()))
            self.tags()
        return out


def _member_tags(classic: ClassicMemberMetadata | None) -> bytes:
    """The tagged-field section of a member metadata value: tag 0 when the member is classic."""
    if classic is None:
        return _TAGS
    body = [b"\x01", _I32.pack(classic.session_timeout_ms), _carray(len(classic.protocols))]   # \x01: not null
    for name, meta in classic.protocols:
        body += [_cstr(name), uvarint(len(meta) + 1), meta, _TAGS]
    field_bytes = b"".join(body) + _TAGS
    return uvarint(1) + uvarint(0) + uvarint(len(field_bytes)) + field_bytes


# -- keys --------------------------------------------------------------------------------------

def _str(s: str) -> bytes:
    b = s.encode()
    return _I16.pack(len(b)) + b


def encode_key(record_type: int, group_id: str, second: str | None = None) -> bytes:
    """The key of a record of `record_type`; `second` is the member id or the regular expression."""
    out = _I16.pack(record_type) + _str(group_id)
    if record_type in _TWO_PART_KEYS:
        assert second is not None
        out += _str(second)
    return out


def decode_key(key: bytes) -> tuple[int, str, str | None] | None:
    """(record type, group id, member id or regex or None); None for a type not of this module."""
    (record_type,) = _I16.unpack_from(key, 0)
    if record_type not in TYPES:
        return None
    pos = 2
    parts = []
    for _ in range(2 if record_type in _TWO_PART_KEYS else 1):
        (n,) = _I16.unpack_from(key, pos)
        pos += 2
        if n < 0 or pos + n > len(key):
            raise ValueError("bad key string")
        parts.append(key[pos:pos + n].decode())
        pos += n
    return record_type, parts[0], parts[1] if len(parts) > 1 else None


# -- values ------------------------------------------------------------------------------------

def encode_value(record_type: int, value: object) -> bytes:
    """Value version 0 of `record_type` for `value` (an int epoch, or this module's dataclasses)."""
    head = b"\x00\x00"
    if record_type in (GROUP_METADATA, TARGET_METADATA):
        assert isinstance(value, int)
        return head + _I32.pack(value) + _TAGS
    if record_type == PARTITION_METADATA:
        assert isinstance(value, dict)
        parts = [_carray(len(value))]
        for name in sorted(value):
            t = value[name]
            parts += [t.topic_id.bytes, _cstr(t.name), _I32.pack(t.num_partitions), _carray(0), _TAGS]
        return head + b"".join(parts) + _TAGS
    if record_type == MEMBER_METADATA:
        assert isinstance(value, MemberMetadataRecord)
        names = b"".join(_cstr(n) for n in value.subscribed_names)
        return head + b"".join((
            _cnstr(value.instance_id), _cnstr(value.rack_id), _cstr(value.client_id), _cstr(value.client_host),
            _carray(len(value.subscribed_names)), names, _cnstr(value.subscribed_regex),
            _I32.pack(value.rebalance_timeout_ms), _cnstr(value.server_assignor), _member_tags(value.classic)))
    if record_type == TARGET_MEMBER:
        assert isinstance(value, dict)
        return head + _topic_partitions(value) + _TAGS
    if record_type == CURRENT_ASSIGNMENT:
        assert isinstance(value, CurrentAssignmentRecord)
        return head + b"".join((_I32.pack(value.member_epoch), _I32.pack(value.previous_epoch),
                                bytes((value.state & 0xFF,)), _topic_partitions(value.assigned),
                                _topic_partitions(value.pending_revocation), _TAGS))
    if record_type == REGULAR_EXPRESSION:
        assert isinstance(value, RegexRecord)
        topics = sorted(value.topics)
        return head + _carray(len(topics)) + b"".join(_cstr(t) for t in topics) + \
            _I64.pack(value.version) + _I64.pack(value.timestamp) + _TAGS
    raise ValueError(f"unknown record type {record_type}")


def decode_value(record_type: int, value: bytes) -> object:
    """The value of a record of `record_type` (see encode_value for the shapes)."""
    (version,) = _I16.unpack_from(value, 0)
    if version != 0:
        raise ValueError(f"unknown value version {version} of record type {record_type}")
    r = _Flex(value, 2)
    out: object
    if record_type in (GROUP_METADATA, TARGET_METADATA):
        out = r.fixed(_I32)
    elif record_type == PARTITION_METADATA:
        topics: dict[str, TopicMetadata] = {}
        for _ in range(r.count()):
            tid = r.uuid()
            name = r.str()
            n = r.fixed(_I32)
            for _p in range(r.count()):
                r.fixed(_I32)
                for _rack in range(r.count()):
                    r.str()
                r.tags()
            r.tags()
            topics[name] = TopicMetadata(tid, name, n)
        out = topics
    elif record_type == MEMBER_METADATA:
        instance, rack, client_id, host = r.nstr(), r.nstr(), r.str(), r.str()
        names = tuple(r.str() for _ in range(r.count()))
        regex, timeout, assignor = r.nstr(), r.fixed(_I32), r.nstr()
        return MemberMetadataRecord(instance, rack, client_id, host, names, regex, timeout, assignor,
                                    r.member_tags())
    elif record_type == TARGET_MEMBER:
        out = r.topic_partitions()
    elif record_type == CURRENT_ASSIGNMENT:
        epoch, previous, state = r.fixed(_I32), r.fixed(_I32), r.i8()
        out = CurrentAssignmentRecord(epoch, previous, state, r.topic_partitions(), r.topic_partitions())
    elif record_type == REGULAR_EXPRESSION:
        topics_ = frozenset(r.str() for _ in range(r.count()))
        out = RegexRecord(topics_, r.fixed(_I64), r.fixed(_I64))
    else:
        raise ValueError(f"unknown record type {record_type}")
    r.tags()
    return out


# -- the embedded consumer protocol of classic members ------------------------------------------

@dataclass(slots=True)
class Subscription:
    """A ConsumerProtocolSubscription: topics, owned partitions (v1+, by name), rack id (v3+)."""
    version: int
    topics: tuple[str, ...]
    owned: dict[str, frozenset[int]]
    rack_id: str | None


class _Plain:
    """A reader of the non-flexible encoding (i16-length strings, i32-count arrays)."""
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def fixed(self, s: struct.Struct) -> int:
        (v,) = s.unpack_from(self.buf, self.pos)
        self.pos += s.size
        return int(v)

    def ntext(self) -> str | None:
        n = self.fixed(_I16)
        if n < 0:
            return None
        if self.pos + n > len(self.buf):
            raise ValueError("string runs past the end")
        v = self.buf[self.pos:self.pos + n].decode()
        self.pos += n
        return v

    def text(self) -> str:
        v = self.ntext()
        if v is None:
            raise ValueError("null where a string is required")
        return v

    def count(self) -> int:
        n = self.fixed(_I32)
        if n < 0 or n > len(self.buf):
            raise ValueError("bad array length")
        return n

    def skip_bytes(self) -> None:
        n = self.fixed(_I32)
        if n > 0:
            self.pos += n

    def topic_partitions(self) -> dict[str, frozenset[int]]:
        out: dict[str, frozenset[int]] = {}
        for _ in range(self.count()):
            topic = self.text()
            out[topic] = out.get(topic, frozenset()) | frozenset(self.fixed(_I32) for _p in range(self.count()))
        return out


def protocol_version(meta: bytes) -> int:
    """The version of an embedded consumer protocol message (its first i16)."""
    (v,) = _I16.unpack_from(meta, 0)
    return int(v)


def parse_subscription(meta: bytes) -> Subscription:
    """A ConsumerProtocolSubscription; ValueError (or struct.error) if it is malformed."""
    r = _Plain(meta)
    version = r.fixed(_I16)
    if version < 0:
        raise ValueError(f"unsupported subscription version {version}")
    topics = tuple(r.text() for _ in range(r.count()))
    r.skip_bytes()
    owned: dict[str, frozenset[int]] = {}
    rack = None
    if version >= 1:
        owned = r.topic_partitions()
    if version >= 2:
        r.fixed(_I32)
    if version >= 3:
        rack = r.ntext()
    return Subscription(version, topics, owned, rack)


def parse_assignment(data: bytes) -> dict[str, frozenset[int]]:
    """The partitions of a ConsumerProtocolAssignment (empty bytes: none)."""
    if not data:
        return {}
    r = _Plain(data)
    if r.fixed(_I16) < 0:
        raise ValueError("unsupported assignment version")
    return r.topic_partitions()


def encode_assignment(partitions: dict[str, frozenset[int]], version: int) -> bytes:
    """A ConsumerProtocolAssignment of `version` (clamped to 0-3, as Kafka does), without user data."""
    parts = [_I16.pack(max(0, min(version, 3))), _I32.pack(len(partitions))]
    for topic in sorted(partitions):
        ps = sorted(partitions[topic])
        parts += [_str(topic), _I32.pack(len(ps)), b"".join(_I32.pack(p) for p in ps)]
    parts.append(_I32.pack(-1))
    return b"".join(parts)
