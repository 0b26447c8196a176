"""Re-capture the Kafka golden bytes in tests/unit/kafka/golden/ from real clients.

Starts Keystream (its Kafka listener on loopback) with a recording hook: every request frame a
client sends and the response frame Keystream answers are written, once per client, API and
version, as `<client>/<api key>-<ApiName>-v<version>.request.bin` / `.response.bin` (the whole
frame, its 4-byte size included). Then drives four clients through producing (plain,
idempotent, compressed), consuming in a group (join, sync, heartbeat, commit, fetch, leave), and
administration (create/describe/alter/delete topics, list/describe groups, list offsets):

- librdkafka through confluent-kafka (Python)
- kafka-python
- aiokafka
- kafkajs (node; installed with npm into a temporary directory, or KAFKAJS_DIR if set)

Run from the repository root: `PYTHONPATH=src:. python3 scripts/capture_kafka_golden.py`.
It rewrites the golden directory; `index.json` there lists what each client sent and the client
versions. The recording happens in the broker process (a launcher that wraps
KafkaConnection.handle_frame and .frame) rather than in a proxy, because a broker advertises its
own address in Metadata and clients would bypass a proxy after bootstrap.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from importlib.metadata import version as dist_version
from pathlib import Path

from tests.conftest import start_keystream

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "unit" / "kafka" / "golden"
CLIENTS = ("librdkafka", "kafka-python", "aiokafka", "kafkajs")

_RECORDER = r"""
import os, sys
from keystream.kafka.apis.registry import APIS, load_all
from keystream.kafka.codec.header import peek_api
from keystream.kafka.connection import KafkaConnection

load_all()
_out = sys.argv.pop(1)
_seen = set()
_handle, _frame = KafkaConnection.handle_frame, KafkaConnection.frame

def _client_of(frame):
    n = int.from_bytes(frame[8:10], "big", signed=True)
    cid = bytes(frame[10:10 + n]).decode() if n > 0 else ""
    return cid[len("golden-"):] if cid.startswith("golden-") else None

def _write(name, data):
    with open(name, "wb") as f:
        f.write(data)

def handle_frame(self, frame):
    data = bytes(frame)
    try:
        api, ver, corr = peek_api(data)
        client = _client_of(data)
    except Exception:
        client = None
    if client is not None and (client, api, ver) not in _seen and api in APIS:
        _seen.add((client, api, ver))
        os.makedirs(os.path.join(_out, client), exist_ok=True)
        base = os.path.join(_out, client, f"{api:02d}-{APIS[api].name}-v{ver}")
        _write(base + ".request.bin", len(data).to_bytes(4, "big") + data)
        self.__dict__.setdefault("_golden", {})[corr] = base
    return _handle(self, frame)

def frame(self, correlation_id, body, flexible):
    out = _frame(self, correlation_id, body, flexible)
    base = self.__dict__.get("_golden", {}).pop(correlation_id, None)
    if base is not None:
        _write(base + ".response.bin", b"".join(bytes(b) for b in out))
    return out

KafkaConnection.handle_frame, KafkaConnection.frame = handle_frame, frame
sys.argv = ["keystream", *sys.argv[1:]]
from keystream.cli import main
main()
"""


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def drive_librdkafka(bs: str) -> None:
    from confluent_kafka import (
        Consumer,
        ConsumerGroupTopicPartitions,
        KafkaException,
        Producer,
        TopicPartition,
    )
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        NewPartitions,
        NewTopic,
        OffsetSpec,
    )

    cid = "golden-librdkafka"
    admin = AdminClient({"bootstrap.servers": bs, "client.id": cid})
    topic, other = _name("rd"), _name("rd")
    for f in admin.create_topics([NewTopic(topic, 2, 1), NewTopic(other, 1, 1)]).values():
        f.result(30)
    admin.create_partitions([NewPartitions(other, 2)])[other].result(30)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    admin.describe_configs([res])[res].result(30)
    legacy = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"retention.ms": "86400000"})
    admin.alter_configs([legacy])[legacy].result(30)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "86400000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res])[res].result(30)
    for p in (Producer({"bootstrap.servers": bs, "client.id": cid, "enable.idempotence": True,
                        "compression.type": "lz4", "linger.ms": 5}),
              Producer({"bootstrap.servers": bs, "client.id": cid, "acks": 1, "compression.type": "zstd"})):
        for i in range(20):
            p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, headers=[("h", b"1")])
        assert p.flush(30) == 0
    group = _name("g")
    c = Consumer({"bootstrap.servers": bs, "client.id": cid, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 60
    while got < 40 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got += 1
    assert got == 40, got
    c.commit(asynchronous=False)
    c.committed([TopicPartition(topic, 0)], timeout=30)
    c.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
    c.offsets_for_times([TopicPartition(topic, 0, 0)], timeout=30)
    c.close()
    admin.delete_records([TopicPartition(topic, 0, 5)])[TopicPartition(topic, 0, 5)].result(30)
    admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.latest()})[TopicPartition(topic, 0)].result(30)
    admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(30)
    admin.list_consumer_groups().result(30)
    admin.describe_consumer_groups([group])[group].result(30)
    try:
        admin.delete_consumer_groups([group])[group].result(30)
    except KafkaException:
        pass
    admin.describe_cluster().result(30)
    for f in admin.delete_topics([other]).values():
        f.result(30)


def drive_kafka_python(bs: str) -> None:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

    cid = "golden-kafka-python"
    admin = KafkaAdminClient(bootstrap_servers=bs, client_id=cid)
    topic, other = _name("kp"), _name("kp")
    admin.create_topics([NewTopic(topic, 2, 1), NewTopic(other, 1, 1)])
    admin.create_partitions({other: NewPartitions(2)})
    admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "86400000"})])
    for kwargs in ({"enable_idempotence": True, "compression_type": "gzip"}, {"acks": 1, "compression_type": "lz4"}):
        p = KafkaProducer(bootstrap_servers=bs, client_id=cid, **kwargs)
        for i in range(20):
            p.send(topic, key=b"k%d" % i, value=b"v%d" % i, headers=[("h", b"1")])
        p.flush(30)
        p.close()
    group = _name("g")
    c = KafkaConsumer(topic, bootstrap_servers=bs, client_id=cid, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=20000, heartbeat_interval_ms=100)
    got = 0
    for _ in c:
        got += 1
        if got == 40:
            break
    assert got == 40, got
    c.poll(timeout_ms=1500)   # heart-beats go on meanwhile
    c.commit()
    c.committed(TopicPartition(topic, 0))
    c.end_offsets([TopicPartition(topic, 0)])
    c.offsets_for_times({TopicPartition(topic, 0): 0})
    c.close()
    admin.delete_records({TopicPartition(topic, 0): 5})
    admin.describe_log_dirs()
    admin.list_groups()
    admin.describe_groups([group])
    admin.list_group_offsets(group)
    admin.delete_group_offsets(group, [TopicPartition(topic, 1)])
    admin.delete_groups([group])
    admin.describe_cluster()
    admin.delete_topics([other])
    admin.close()


def drive_aiokafka(bs: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete

    cid = "golden-aiokafka"

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bs, client_id=cid)
        await admin.start()
        topic, other = _name("aio"), _name("aio")
        await admin.create_topics([NewTopic(topic, 2, 1), NewTopic(other, 1, 1)])
        for kwargs in ({"enable_idempotence": True, "compression_type": "gzip"}, {"acks": 1}):
            p = AIOKafkaProducer(bootstrap_servers=bs, client_id=cid, **kwargs)
            await p.start()
            for i in range(20):
                await p.send(topic, key=b"k%d" % i, value=b"v%d" % i, headers=[("h", b"1")])
            await p.flush()
            await p.stop()
        group = _name("g")
        c = AIOKafkaConsumer(topic, bootstrap_servers=bs, client_id=cid, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False, heartbeat_interval_ms=100)
        await c.start()
        got = 0
        deadline = time.monotonic() + 60
        while got < 40 and time.monotonic() < deadline:
            batch = await c.getmany(timeout_ms=500)
            got += sum(len(v) for v in batch.values())
        assert got == 40, got
        await asyncio.sleep(1.5)   # heart-beats go on meanwhile
        await c.commit()
        await c.committed(TopicPartition(topic, 0))
        await c.end_offsets([TopicPartition(topic, 0)])
        await c.offsets_for_times({TopicPartition(topic, 0): 0})
        await c.stop()
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(5)})
        await admin.list_consumer_groups()
        await admin.describe_consumer_groups([group])
        await admin.list_consumer_group_offsets(group)
        await admin.describe_cluster()
        await admin.delete_topics([other])
        await admin.close()

    asyncio.run(run())


_KAFKAJS = r"""
const { Kafka, CompressionTypes, logLevel } = require("kafkajs");
const bs = process.argv[2];
const kafka = new Kafka({ clientId: "golden-kafkajs", brokers: [bs], logLevel: logLevel.NOTHING });
const id = () => Math.random().toString(16).slice(2, 10);
(async () => {
  const admin = kafka.admin();
  await admin.connect();
  const topic = "js-" + id(), other = "js-" + id();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }, { topic: other, numPartitions: 1 }] });
  await admin.createPartitions({ topicPartitions: [{ topic: other, count: 2 }] });
  await admin.describeConfigs({ resources: [{ type: 2, name: topic }], includeSynonyms: false });
  await admin.alterConfigs({ resources: [{ type: 2, name: topic, configEntries: [{ name: "retention.ms", value: "86400000" }] }] });
  for (const opts of [{ idempotent: true }, {}]) {
    const p = kafka.producer(opts);
    await p.connect();
    const messages = [...Array(20).keys()].map(i => ({ key: "k" + i, value: "v" + i, headers: { h: "1" } }));
    await p.send({ topic, messages, compression: opts.idempotent ? CompressionTypes.GZIP : CompressionTypes.None });
    await p.disconnect();
  }
  const group = "g-" + id();
  const c = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 100 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  let got = 0;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("only " + got + " messages")), 60000);
    c.run({ autoCommit: false, eachMessage: async ({ partition, message, heartbeat }) => {
      got += 1;
      await c.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      await heartbeat();
      if (got === 40) { clearTimeout(timer); resolve(); }
    } });
  });
  await c.disconnect();
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: "5" }] });
  await admin.fetchTopicOffsets(topic);
  await admin.fetchTopicOffsetsByTimestamp(topic, 0);
  await admin.fetchOffsets({ groupId: group, topics: [topic] });
  await admin.listGroups();
  await admin.describeGroups([group]);
  await admin.deleteGroups([group]);
  await admin.describeCluster();
  await admin.deleteTopics({ topics: [other] });
  await admin.disconnect();
})().catch(e => { console.error(e); process.exit(1); });
"""


def kafkajs_dir() -> Path:
    given = os.environ.get("KAFKAJS_DIR")
    if given:
        return Path(given)
    d = Path(tempfile.mkdtemp(prefix="kafkajs-"))
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(d), "kafkajs@2"],
                   check=True, timeout=300)
    return d


def drive_kafkajs(bs: str) -> str:
    d = kafkajs_dir()
    script = d / "golden.js"
    script.write_text(_KAFKAJS)
    subprocess.run(["node", str(script), bs], check=True, timeout=180, cwd=d)
    return json.loads((d / "node_modules" / "kafkajs" / "package.json").read_text())["version"]


def main() -> None:
    out = Path(tempfile.mkdtemp(prefix="golden-"))
    data_dir = tempfile.mkdtemp(prefix="ks-golden-")
    h = start_keystream("--group.initial.rebalance.delay.ms", "0", "--offsets.topic.num.partitions", "2",
                        data_dir=data_dir, kafka=True, launcher=[sys.executable, "-c", _RECORDER, str(out)])
    bs = f"127.0.0.1:{h.kafka_port}"
    try:
        drive_librdkafka(bs)
        drive_kafka_python(bs)
        drive_aiokafka(bs)
        js_version = drive_kafkajs(bs)
    finally:
        code = h.stop()
    log = h.log()
    if code != 0 or "Traceback" in log:
        sys.exit("the broker went wrong while capturing:\n" + log[-5000:])
    import confluent_kafka

    versions = {"librdkafka": f"confluent-kafka {dist_version('confluent-kafka')} "
                              f"(librdkafka {confluent_kafka.libversion()[0]})",
                "kafka-python": f"kafka-python {dist_version('kafka-python')}",
                "aiokafka": f"aiokafka {dist_version('aiokafka')}", "kafkajs": f"kafkajs {js_version}"}
    index = {}
    for client in CLIENTS:
        names = sorted(p.name.removesuffix(".request.bin") for p in (out / client).glob("*.request.bin"))
        missing = [n for n in names if not (out / client / f"{n}.response.bin").exists()]
        if missing:
            sys.exit(f"{client}: no response recorded for {missing}")
        index[client] = {"client": versions[client], "requests": names}
    (out / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(GOLDEN, ignore_errors=True)
    shutil.copytree(out, GOLDEN)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps({c: len(v["requests"]) for c, v in index.items()}))


if __name__ == "__main__":
    main()
