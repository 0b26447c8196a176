"""A tiny blocking Kafka client over our own codec, for the CLI (`keystream groups`) and tests.

It speaks just enough of the protocol to ask a broker about groups: one request at a time on
one socket, messages from the same kio classes the broker uses. `describe_lag` computes what
`kafka-consumer-groups --describe` prints: per group and partition the committed offset, the
log end offset, the lag and the member that owns the partition (classic groups through
DescribeGroups, KIP-848 consumer groups through ConsumerGroupDescribe).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any, Self

from kio.index import load_payload_module
from kio.static.constants import EntityType

from keystream.kafka.codec import messages
from keystream.kafka.codec.header import skip_tagged_fields

__all__ = ["LagRow", "MiniClient", "describe_lag", "parse_assignment"]

_LATEST = -1


class MiniClient:
    def __init__(self, host: str, port: int, client_id: str = "keystream-cli", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.client_id = client_id.encode()
        self.correlation = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def cls(api_key: int, version: int, name: str) -> Any:
        """A request-side class of this API at this version (nested ones included)."""
        return getattr(load_payload_module(api_key, version, EntityType.request), name)

    def request(self, api_key: int, version: int, **values: Any) -> Any:
        """Send one request (fields by name, as in kio) and return the decoded response."""
        req_cls = messages.request_class(api_key, version)
        body = messages.encode(messages.build(req_cls, **values))
        flexible = messages.is_flexible(api_key, version)
        self.correlation += 1
        header = struct.pack(">hhih", api_key, version, self.correlation, len(self.client_id)) + self.client_id
        if flexible:
            header += b"\x00"
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", self._read(4))[0]
        data = self._read(size)
        (corr,) = struct.unpack_from(">i", data, 0)
        if corr != self.correlation:
            raise OSError(f"response to request {corr}, expected {self.correlation}")
        pos = skip_tagged_fields(data, 4) if flexible and api_key != 18 else 4
        return messages.decode(messages.response_class(api_key, version), data, pos)

    def _read(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise OSError("connection closed by the broker")
            buf += chunk
        return bytes(buf)


def parse_assignment(data: bytes) -> list[tuple[str, int]]:
    """The (topic, partition) pairs of a ConsumerProtocolAssignment (any version)."""
    out: list[tuple[str, int]] = []
    try:
        (count,) = struct.unpack_from(">i", data, 2)
        pos = 6
        for _ in range(count):
            (n,) = struct.unpack_from(">h", data, pos)
            topic = data[pos + 2:pos + 2 + n].decode()
            pos += 2 + n
            (parts,) = struct.unpack_from(">i", data, pos)
            pos += 4
            for _ in range(parts):
                out.append((topic, struct.unpack_from(">i", data, pos)[0]))
                pos += 4
    except (struct.error, UnicodeDecodeError):
        return out
    return out


@dataclass
class LagRow:
    group: str
    topic: str
    partition: int
    committed: int | None      # None: nothing committed
    log_end: int | None
    member_id: str
    host: str
    client_id: str

    @property
    def lag(self) -> int | None:
        if self.committed is None or self.log_end is None:
            return None
        return max(self.log_end - self.committed, 0)


def describe_lag(client: MiniClient, groups: list[str] | None = None) -> tuple[dict[str, str], list[LagRow]]:
    """({group: state}, rows) for the given groups (default: every group the broker lists)."""
    if groups is None:
        listed = client.request(16, 4, states_filter=())
        groups = sorted(g.group_id for g in listed.groups)
    states: dict[str, str] = {}
    rows: list[LagRow] = []
    if not groups:
        return states, rows
    described = client.request(15, 5, groups=tuple(groups), include_authorized_operations=False)
    owners: dict[tuple[str, str, int], tuple[str, str, str]] = {}
    for g in described.groups:
        states[g.group_id] = g.group_state
        for m in g.members:
            for tp in parse_assignment(m.member_assignment):
                owners[(g.group_id, *tp)] = (m.member_id, m.client_host, m.client_id)
    # KIP-848 consumer groups are Dead to DescribeGroups: ConsumerGroupDescribe knows them.
    dead = tuple(gid for gid, state in states.items() if state == "Dead")
    if dead:
        for cg in client.request(69, 1, group_ids=dead, include_authorized_operations=False).groups:
            if cg.error_code:
                continue
            states[cg.group_id] = cg.group_state
            for cm in cg.members:
                for t in cm.assignment.topic_partitions:
                    for part in t.partitions:
                        owners[(cg.group_id, t.topic_name, part)] = (cm.member_id, cm.client_host, cm.client_id)
    req_group = MiniClient.cls(9, 8, "OffsetFetchRequestGroup")
    fetched = client.request(9, 8, groups=tuple(req_group(group_id=g, topics=None) for g in groups),
                             require_stable=False)
    committed: dict[tuple[str, str, int], int] = {}
    for g in fetched.groups:
        for t in g.topics:
            for p in t.partitions:
                if p.committed_offset >= 0:
                    committed[(g.group_id, t.name, p.partition_index)] = p.committed_offset
    keys = sorted(set(committed) | set(owners))
    by_topic: dict[str, set[int]] = {}
    for _g, topic, part in keys:
        by_topic.setdefault(topic, set()).add(part)
    ends: dict[tuple[str, int], int] = {}
    if by_topic:
        part_cls = MiniClient.cls(2, 7, "ListOffsetsPartition")
        topic_cls = MiniClient.cls(2, 7, "ListOffsetsTopic")
        topics = tuple(topic_cls(name=t, partitions=tuple(part_cls(partition_index=p, timestamp=_LATEST)
                                                          for p in sorted(parts)))
                       for t, parts in by_topic.items())
        resp = client.request(2, 7, replica_id=-1, isolation_level=0, topics=topics)
        for t in resp.topics:
            for p in t.partitions:
                if p.error_code == 0:
                    ends[(t.name, p.partition_index)] = p.offset
    for key in keys:
        g, topic, part = key
        member, host, cid = owners.get(key, ("-", "-", "-"))
        rows.append(LagRow(g, topic, part, committed.get(key), ends.get((topic, part)), member, host, cid))
    return states, rows
