"""A consume-transform-produce worker for the exactly-once test (run as a script, killed at will).

argv: bootstrap, source topic, destination topic, group id, source partition count.
Each transaction: up to 10 source records -> "out:" + value to the destination, the consumed
positions committed with send_offsets_to_transaction. Any error ends the process (exit 3), as
a crash would; the test starts a new instance with the same transactional id, which fences
and aborts what the previous one left open.
"""

from __future__ import annotations

import os
import sys

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition


def main() -> None:
    bootstrap, src, dst, group, nparts = sys.argv[1:6]
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": "eos-" + group, "linger.ms": 2})
    p.init_transactions(60)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "isolation.level": "read_committed",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    committed = c.committed([TopicPartition(src, i) for i in range(int(nparts))], 60)
    c.assign([TopicPartition(src, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
              for tp in committed])
    while True:
        msgs = [m for m in c.consume(10, 0.2) if m.error() is None]
        if not msgs:
            continue
        p.begin_transaction()
        nxt: dict[int, int] = {}
        for m in msgs:
            p.produce(dst, key=m.key(), value=b"out:" + m.value())
            nxt[m.partition()] = max(nxt.get(m.partition(), 0), m.offset() + 1)
        p.send_offsets_to_transaction([TopicPartition(src, part, off) for part, off in nxt.items()],
                                      c.consumer_group_metadata(), 30)
        p.commit_transaction(30)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any failure is a crash of this worker
        sys.stderr.write(f"worker failed: {e!r}\n")
        sys.stderr.flush()
        os._exit(3)
