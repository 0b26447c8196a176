"""What the consumer-group client tests share: topics made with the admin client, and a ledger of
who owns which partition, fed from the clients' assign/revoke callbacks, that records any
partition handed to a second owner while the first still holds it."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

from confluent_kafka.admin import AdminClient, NewTopic


def make_topic(bs: str, partitions: int, prefix: str = "ct-") -> str:
    name = prefix + uuid.uuid4().hex[:10]
    admin = AdminClient({"bootstrap.servers": bs})        # kept alive until the result is in
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(10)
    return name


class Ownership:
    """Who owns which partition, from the callbacks; records any partition given to a second owner."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner: dict[int, str] = {}
        self.violations: list[str] = []

    def assign(self, name: str, parts: list[int]) -> None:
        with self.lock:
            for p in parts:
                other = self.owner.get(p)
                if other is not None and other != name:
                    self.violations.append(f"partition {p} assigned to {name} while {other} owns it")
                self.owner[p] = name

    def revoke(self, name: str, parts: list[int]) -> None:
        with self.lock:
            for p in parts:
                if self.owner.get(p) == name:
                    del self.owner[p]

    def counts(self) -> dict[str, int]:
        with self.lock:
            return dict(Counter(self.owner.values()))
