"""The bridge: Kafka topics and the Redis keyspace, in one process, with no connector.

Three uses, all inside the engine and through its one call path:

1. A topic is a Redis stream, without copying (`topic_stream.py`, `recordio.py`): every
   partition of every topic is the stream key `<bridge-stream-prefix><topic>:<partition>`
   (default prefix `kafka:`; Kafka topic names cannot contain `:`), read from the partition
   log itself with XRANGE, XREVRANGE, XREAD (COUNT, BLOCK woken by any append, `$`), XLEN,
   XINFO STREAM, TYPE and EXISTS, and appended to with XADD.
2. A topic materialised live as Redis data ("table" views: `views.py`, `recordio.py`,
   `commands/bridge_views.py`); its contract is in `views.py`.
3. Redis changes captured as a topic (`capture.py`, `commands/bridge_capture.py`); its contract
   and the exactly-once argument are in `capture.py`.

Stream keys of topics (1), the contract:

- Entry IDs: the record at offset `o` is the entry `<o>-1`. The first part is the offset, so
  `XRANGE kafka:orders:0 100 199` reads offsets 100 to 199 and `XREAD ... STREAMS key 41`
  resumes after offset 41, as a consumer committing 42 would. The sequence part is 1, not 0,
  so that offset 0 is `0-1`, greater than `0-0`: `XREAD ... STREAMS key 0` (and `$` on an
  empty partition) must include the first record, and Redis reads IDs greater than the one
  given. IDs are strictly increasing with offsets whatever the records' timestamps (a
  `<timestamp>-<n>` ID would go backwards with them); any stream ID maps back to an offset
  (`<o>-0` sorts just before offset o, `<o>-2` and above just after it).
- Fields: `timestamp` (ms, always, first), `key` (absent for a null key), `value` (absent for
  a null value: a tombstone), then `header:<name>` per header in order (repeats kept; a null
  header value reads as an empty string).
- What a reader sees: records from the log start offset (retention, DeleteRecords) up to the
  last stable offset, without aborted transactions or control records: read_committed.
- XADD key * [key k] [value v] [timestamp ms] [header:<name> v ...] produces one record
  (no value field: a tombstone) with the topic's settings (compression.type,
  message.timestamp.type, max.message.bytes, compaction's key rule) and replies its ID after
  the append; any other field, an explicit ID or trimming options are refused by name.
- Writes that would rewrite history (XDEL, XTRIM, XSETID, DEL, UNLINK, RENAME, EXPIRE, SET,
  and every other write command, consumer-group commands included: a topic's consumer groups
  are Kafka's) get an error naming the topic and partition. XPENDING and XINFO GROUPS /
  CONSUMERS likewise.
- Topic keys are not in the keyspace: KEYS, SCAN, RANDOMKEY and DBSIZE do not list them
  (list topics with Kafka's metadata), other read commands see no key there (GET: nil, TTL:
  -2), WATCH and keyspace notifications do not follow them. They answer in every database.
- A key under the prefix that names no existing partition (unknown topic, partition out of
  range, `:07`) is an ordinary Redis key: XADD there makes a Redis stream, it does not create a
  topic. A topic created later takes its name over: the Redis key is then hidden and
  protected until the prefix changes (CONFIG SET bridge-stream-prefix) or FLUSHDB.
"""
