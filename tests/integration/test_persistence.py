"""RDB persistence against a real redis-server 7.0: files and DUMP payloads both ways,
SAVE/BGSAVE/LASTSAVE, loading at start-up, SHUTDOWN saves, DEBUG RELOAD/OBJECT/DIGEST,
MISCONF after a failed save, refusing a corrupt dump.

"Identical" is checked with DEBUG DIGEST (Redis's own digest of every key, value and TTL
presence), and with a scan of types, encodings and TTLs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import redis

from keystream.persistence.rdb import Limits, RdbWriter, crc64
from tests.conftest import ServerHandle, free_port, start_keystream, start_redis, wait_until
from tests.differential import Pair, RawClient


def populate(r: redis.Redis) -> None:
    """Every type in every encoding Redis 7.0 has, streams, expiries, three databases."""
    r.flushall()
    r.set("int", 12345)
    r.set("neg", -7)
    r.set("big", 2**40)
    r.set("s", "hello")
    r.set("long", "x" * 100)
    r.set("lzf", "abc" * 30)
    r.set("bin", bytes(range(256)))
    r.set("exp", "v", px=10_000_000)
    r.pfadd("hll", *range(100))
    r.rpush("list", *[str(i) for i in range(10)], "a", "b" * 70, "c" * 5000, "-5000", "70000", str(2**33))
    r.rpush("biglist", *[f"e{i}" * 20 for i in range(3000)])
    r.lpush("lpushed", *[str(i) for i in range(500)])
    r.hset("hsmall", mapping={"a": "1", "b": "two", "12": "-3"})
    r.hset("hbig", mapping={f"f{i}": f"v{i}" for i in range(600)})
    r.hset("hlongval", mapping={"a": "x" * 100})
    r.sadd("iset", 1, 2, 3, -100, 70000, 2**40)
    r.sadd("sset", "a", "b", "c")
    r.sadd("bigiset", *range(600))
    r.zadd("zsmall", {"a": 1, "b": 2.5, "c": -3, "d": 1e20, "e": float("inf"), "f": 0.1, "12": 7})
    r.zadd("zbig", {f"m{i}": i * 1.5 for i in range(200)})
    r.zadd("zlongmember", {"x" * 100: 1})
    r.expire("zbig", 100_000)
    populate_streams(r)
    r.select(3)
    r.set("db3", "x", ex=100_000)
    r.hset("h3", "f", "v")
    r.select(15)
    r.zadd("z15", {"a": 1})
    r.select(0)


def populate_streams(r: redis.Redis) -> None:
    """Streams in the shapes that matter to RDB: several nodes, entries with and without the
    node's master fields, deleted entries (in place and whole nodes), groups with pending
    entries, consumers with and without them, an unknown entries-read, empty streams."""
    for i in range(250):
        fields = {"a": str(i), "b": "x" * (i % 40)} if i % 7 else {"other": "v" * i, "n": str(-i)}
        r.xadd("stream", fields, id=f"{1_700_000_000_000 + i // 3}-{i}")
    r.xdel("stream", *[f"{1_700_000_000_000 + i // 3}-{i}" for i in (1, 5, 77, 130)])
    r.xdel("stream", *[f"{1_700_000_000_000 + i // 3}-{i}" for i in range(100, 200)])
    r.xgroup_create("stream", "g1", "0")
    r.xgroup_create("stream", "g0", "1700000000010-30")
    r.xreadgroup("g1", "zed", {"stream": ">"}, count=5)
    r.xreadgroup("g1", "amy", {"stream": ">"}, count=3)
    r.xack("stream", "g1", "1700000000000-2")
    r.execute_command("XGROUP", "CREATECONSUMER", "stream", "g1", "idle")
    r.execute_command("XGROUP", "SETID", "stream", "g0", "1700000000020-60")  # entries-read unknown
    r.xadd("emptied", {"f": "v"}, id="5-5")
    r.xdel("emptied", "5-5")
    r.xgroup_create("mkstream", "g", "$", mkstream=True)
    r.xadd("bigvalues", {"f" * 70: "v" * 5000, "n": "12345678901"}, id="1-1")


def scan_all(r: redis.Redis) -> dict:
    """(db, key) -> (type, encoding, has TTL) over every database."""
    out = {}
    for db in range(16):
        r.execute_command("SELECT", db)
        for key in r.scan_iter(count=1000):
            out[(db, key)] = (r.type(key), r.object("encoding", key), r.ttl(key) > 0)
    r.execute_command("SELECT", 0)
    return out


def digest(r: redis.Redis) -> bytes:
    return r.execute_command("DEBUG", "DIGEST")


@pytest.fixture
def ref() -> ServerHandle:
    h = start_redis()
    yield h
    h.stop()
    shutil.rmtree(h.data_dir, ignore_errors=True)


def _client(h: ServerHandle) -> redis.Redis:
    return redis.Redis(port=h.port)


def _ks(*args: str, data_dir: str | None = None) -> ServerHandle:
    return start_keystream(*args, data_dir=data_dir)


def _stop(h: ServerHandle) -> None:
    h.stop()
    shutil.rmtree(h.data_dir, ignore_errors=True)


def test_dump_written_by_redis_loads_identically(ref: ServerHandle) -> None:
    rr = _client(ref)
    populate(rr)
    rr.save()
    data_dir = tempfile.mkdtemp(prefix="ks-rdb-")
    shutil.copy(os.path.join(ref.data_dir, "dump.rdb"), os.path.join(data_dir, "dump.rdb"))
    ks = _ks(data_dir=data_dir)
    try:
        kr = _client(ks)
        # the server answers (LOADING) before the dump is in: DEBUG DIGEST would run on nothing
        wait_until(lambda: kr.info("persistence")["loading"] == 0, what="the dump to load")
        assert digest(kr) == digest(rr)
        assert scan_all(kr) == scan_all(rr)
        assert kr.info("persistence")["rdb_last_load_keys_loaded"] == rr.dbsize() + 2 + 1
    finally:
        _stop(ks)


def test_dump_written_by_keystream_loads_identically_in_redis() -> None:
    ks = _ks()
    try:
        kr = _client(ks)
        populate(kr)
        want_digest, want_scan = digest(kr), scan_all(kr)
        assert kr.save()
        path = os.path.join(ks.data_dir, "dump.rdb")
        check = subprocess.run(["redis-check-rdb", path], check=False, capture_output=True, text=True, timeout=60)
        assert "RDB looks OK" in check.stdout, check.stdout
        redis_dir = tempfile.mkdtemp(prefix="redis-from-ks-")
        shutil.copy(path, os.path.join(redis_dir, "dump.rdb"))
    finally:
        _stop(ks)
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", redis_dir, "--enable-debug-command", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rr = redis.Redis(port=port)
        wait_until(lambda: _answers(rr), what="redis-server to load our dump")
        assert digest(rr) == want_digest
        assert scan_all(rr) == want_scan
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(redis_dir, ignore_errors=True)


def _answers(r: redis.Redis) -> bool:
    try:
        return bool(r.ping())
    except (redis.ConnectionError, redis.BusyLoadingError):
        return False


def test_dump_payloads_move_both_ways(ref: ServerHandle) -> None:
    rr = _client(ref)
    populate(rr)
    rr.persist("zbig")  # RESTORE ... 0 makes keys without TTL (the digests count TTLs)
    ks = _ks()
    try:
        kr = _client(ks)
        kr.flushall()
        keys = [k for k in rr.scan_iter() if k != b"exp"]
        for key in keys:
            kr.restore(key, 0, rr.dump(key))
        for key in keys:
            assert kr.execute_command("DEBUG", "DIGEST-VALUE", key) == \
                rr.execute_command("DEBUG", "DIGEST-VALUE", key), key
            assert kr.object("encoding", key) == rr.object("encoding", key), key
            if rr.type(key) not in (b"set",) and key != b"hbig":
                assert kr.dump(key) == rr.dump(key), key  # byte-identical payloads
        rr.flushall()
        for key in keys:
            rr.restore(key, 0, kr.dump(key))
        rr.select(0)
        kr.delete("exp")
        assert digest(rr) == digest(kr)
    finally:
        _stop(ks)


def test_lzf_is_used_exactly_where_redis_uses_it(ref: ServerHandle) -> None:
    """Strings over 20 bytes are compressed only when LZF saves at least 4 bytes, with liblzf's
    own (conservative) output bound: values at the bound (a 24-byte value compressing to 20
    bytes) are stored raw by Redis, so payloads and dumps are byte-identical."""
    rr = _client(ref)
    rr.flushall()
    ks = _ks()
    try:
        kr = _client(ks)
        kr.flushall()
        values = []
        for n in range(21, 90):
            values.append((b"value:%d:" % (n * 7919)) * 10)
            values[-1] = values[-1][:n]
            values.append(b"ab" * n)
            values[-1] = values[-1][:n]
            values.append(bytes((i * 37) % 251 for i in range(n)))
        for i, v in enumerate(values):
            for r in (rr, kr):
                r.set(f"s{i}", v)
                r.hset(f"h{i}", mapping={"f": v[:64], "g": v[:5]})  # a listpack: ordered
        for i in range(len(values)):
            assert kr.dump(f"s{i}") == rr.dump(f"s{i}"), values[i]
            assert kr.dump(f"h{i}") == rr.dump(f"h{i}"), values[i]
    finally:
        _stop(ks)


def test_restore_options_and_errors_match_redis(ref: ServerHandle) -> None:
    ks = _ks()
    pair = Pair(ks.port, ref.port)
    try:
        pair.run("FLUSHALL")
        pair.run("SET", "src", "hello")
        payload = pair.run("DUMP", "src")
        pair.run("DUMP", "nokey")
        pair.run("RESTORE", "src", "0", payload)  # BUSYKEY
        pair.run("RESTORE", "k", "-1", payload)
        pair.run("RESTORE", "k", "x", payload)
        pair.run("RESTORE", "k", "0", payload, "IDLETIME", "-1")
        pair.run("RESTORE", "k", "0", payload, "FREQ", "256")
        pair.run("RESTORE", "k", "0", payload, "IDLETIME", "1", "FREQ", "1")
        pair.run("RESTORE", "k", "0", payload, "BOGUS")
        pair.run("RESTORE", "k", "0", payload[:-1] + bytes([payload[-1] ^ 1]))
        pair.run("RESTORE", "k", "0", b"\x00\x01")
        bad = b"\x0e\x05\x0a\x00"
        pair.run("RESTORE", "k", "0", bad + crc64(bad).to_bytes(8, "little"))
        pair.run("RESTORE", "k", "0", payload, "IDLETIME", "1000")
        pair.run("OBJECT", "IDLETIME", "k")
        pair.run("RESTORE", "k", "0", payload, "REPLACE", "ABSTTL")
        pair.run("TTL", "k")
        pair.run("RESTORE", "k", "5000", payload, "REPLACE")
        pair.run("TTL", "k")
        pair.run("RESTORE", "k", "1", payload, "REPLACE", "ABSTTL")  # long expired: deletes k
        pair.run("EXISTS", "k")
        pair.run("RESTORE", "k", str(int(time.time() * 1000) + 100_000), payload, "ABSTTL")
        pair.run("TTL", "k")
        pair.run("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        pair.run("RESTORE", "f", "0", payload, "FREQ", "100")
        pair.run("OBJECT", "FREQ", "f")
        pair.run("CONFIG", "SET", "maxmemory-policy", "noeviction")
    finally:
        pair.close()
        _stop(ks)


def test_save_bgsave_lastsave_and_restart_keep_the_data() -> None:
    ks = _ks()
    data_dir = ks.data_dir
    try:
        kr = _client(ks)
        populate(kr)
        want = digest(kr)
        before = kr.lastsave()
        saves = kr.info("persistence")["rdb_saves"]  # FLUSHALL in populate() saved once
        assert kr.info("persistence")["rdb_changes_since_last_save"] > 0
        assert kr.execute_command("BGSAVE") is True  # redis-py's reading of the status reply
        wait_until(lambda: kr.info("persistence")["rdb_bgsave_in_progress"] == 0, what="BGSAVE to end")
        info = kr.info("persistence")
        assert info["rdb_last_bgsave_status"] == "ok" and info["rdb_saves"] == saves + 1
        assert info["rdb_changes_since_last_save"] == 0
        assert kr.lastsave() >= before
        with pytest.raises(redis.ResponseError, match="syntax error"):
            kr.execute_command("BGSAVE", "NOW")
        kr.set("after", "1")
        ks.expect_exit()
        kr.shutdown(save=True)
        ks.proc.wait(timeout=20)
        ks = _ks(data_dir=data_dir)
        kr = _client(ks)
        assert kr.get("after") == b"1"
        kr.delete("after")
        assert digest(kr) == want
        kr.set("lost", "1")
        ks.expect_exit()
        kr.shutdown(nosave=True)
        ks.proc.wait(timeout=20)
        ks = _ks(data_dir=data_dir)
        assert _client(ks).get("lost") is None
    finally:
        _stop(ks)


REDIS_SAVE_POINTS = "3600 1 300 100 60 10000"  # Redis's default, and ours


def test_sigterm_saves_when_save_points_are_set() -> None:
    ks = _ks("--save", REDIS_SAVE_POINTS)
    data_dir = ks.data_dir
    try:
        _client(ks).set("k", "v")
        ks.stop()
        assert os.path.exists(os.path.join(data_dir, "dump.rdb"))
        ks = _ks("--save", "", data_dir=data_dir)
        assert _client(ks).get("k") == b"v"
        _client(ks).set("k", "w")
        ks.stop()  # no save points: nothing written at exit
        ks = _ks("--save", REDIS_SAVE_POINTS, data_dir=data_dir)
        assert _client(ks).get("k") == b"v"
    finally:
        _stop(ks)


def test_default_location_is_the_data_dirs_redis_folder(tmp_path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "keystream", "serve", "--port", str(port),
                             "--kafka-port", "0"], cwd=str(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        wait_until(lambda: _answers(r), what="keystream to start")
        r.set("k", "v")
        r.save()
        assert os.path.exists(tmp_path / "keystream-data" / "redis" / "dump.rdb")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_bgsave_keeps_serving_while_it_writes() -> None:
    ks = _ks()
    try:
        kr = _client(ks)
        pipe = kr.pipeline(transaction=False)
        for i in range(200_000):
            pipe.set(f"key:{i}", "v" * 50)
            if i % 10_000 == 9_999:
                pipe.execute()
        pipe.execute()
        kr.set("probe", "here")
        assert kr.execute_command("BGSAVE") is True  # redis-py's reading of the status reply
        answered_during_save = 0
        while kr.info("persistence")["rdb_bgsave_in_progress"]:
            assert kr.get("probe") == b"here"
            answered_during_save += 1
        assert answered_during_save > 0
        assert kr.info("persistence")["rdb_last_bgsave_status"] == "ok"
    finally:
        _stop(ks)


def test_failed_save_refuses_writes_with_misconf_until_a_save_succeeds() -> None:
    ks = _ks("--save", REDIS_SAVE_POINTS)  # MISCONF needs save points
    try:
        kr = _client(ks)
        kr.set("k", "v")
        blocker = os.path.join(ks.data_dir, "dump.rdb")
        os.makedirs(os.path.join(blocker, "x"))  # a directory where the dump goes: rename fails
        raw = RawClient(ks.port)
        assert raw.call("SAVE") == ("ERR", "ERR")
        assert raw.call("BGSAVE", "SCHEDULE") == b"Background saving started"
        raw.close()
        wait_until(lambda: kr.info("persistence")["rdb_bgsave_in_progress"] == 0, what="BGSAVE to end")
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            kr.set("k", "w")
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            kr.ping()
        assert kr.get("k") == b"v"  # reads keep working
        assert kr.info("persistence")["rdb_last_bgsave_status"] == "err"
        kr.config_set("stop-writes-on-bgsave-error", "no")
        kr.set("k", "w")
        kr.config_set("stop-writes-on-bgsave-error", "yes")
        shutil.rmtree(blocker)
        assert kr.save()
        kr.set("k", "x")
        os.unlink(blocker)
        os.makedirs(os.path.join(blocker, "x"))
        with pytest.raises(redis.ResponseError, match="Errors trying to SHUTDOWN"):
            kr.execute_command("SHUTDOWN")
        assert kr.get("k") == b"x"  # still up
        shutil.rmtree(blocker)
    finally:
        _stop(ks)


def test_corrupt_dump_stops_the_server_with_the_reason() -> None:
    ks = _ks()
    kr = _client(ks)
    kr.set("k", "v" * 100)
    kr.save()
    data_dir = ks.data_dir
    path = os.path.join(data_dir, "dump.rdb")
    ks.stop()
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:-20])
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "keystream", "serve", "--port", str(port),
                           "--kafka-port", "0", "--dir", data_dir], check=False, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert "Short read" in proc.stdout, proc.stdout + proc.stderr  # the log, on stdout as Redis's
    shutil.rmtree(data_dir, ignore_errors=True)


def test_debug_reload_object_and_digests_match_redis(ref: ServerHandle) -> None:
    ks = _ks()
    try:
        kr, rr = _client(ks), _client(ref)
        populate(kr)
        populate(rr)
        assert digest(kr) == digest(rr)
        for key in (b"list", b"biglist", b"zbig", b"int", b"hsmall", b"s"):
            mine = kr.execute_command("DEBUG", "OBJECT", key)
            theirs = rr.execute_command("DEBUG", "OBJECT", key)
            strip = re.compile(rb"Value at:\S+ | lru:\d+ lru_seconds_idle:\d+")
            assert strip.sub(b"", mine) == strip.sub(b"", theirs), key
        assert kr.execute_command("DEBUG", "DIGEST-VALUE", "zsmall", "nokey") == \
            rr.execute_command("DEBUG", "DIGEST-VALUE", "zsmall", "nokey")
        with pytest.raises(redis.ResponseError, match="no such key"):
            kr.execute_command("DEBUG", "OBJECT", "nokey")
        assert kr.execute_command("DEBUG", "RELOAD") == b"OK"
        assert digest(kr) == digest(rr)
        kr.set("extra", "1")
        assert kr.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
        assert kr.get("extra") is None
        kr.set("s", "changed")
        assert kr.execute_command("DEBUG", "RELOAD", "MERGE", "NOSAVE") == b"OK"
        assert kr.get("s") == b"hello"
        with pytest.raises(redis.ResponseError, match="only supports"):
            kr.execute_command("DEBUG", "RELOAD", "BOGUS")
        kr.flushall()
        assert digest(kr) == b"0" * 40 == digest(_flushed(rr))
    finally:
        _stop(ks)


def _flushed(r: redis.Redis) -> redis.Redis:
    r.flushall()
    return r


def test_save_points_start_a_bgsave_and_flushall_writes_the_empty_dump() -> None:
    ks = _ks("--save", "1 2")
    data_dir = ks.data_dir
    try:
        kr = _client(ks)
        kr.set("a", "1")
        kr.set("b", "2")
        wait_until(lambda: kr.info("persistence")["rdb_saves"] >= 1, timeout=10,
                   what="a save point's BGSAVE")
        assert kr.info("persistence")["rdb_changes_since_last_save"] == 0
        assert kr.config_get("save") == {"save": "1 2"}
        kr.flushall()
        ks.stop(9)  # no save at exit: what is on disk is FLUSHALL's
        ks = _ks("--save", "", data_dir=data_dir)
        assert _client(ks).dbsize() == 0
    finally:
        _stop(ks)


def test_save_setting_is_checked_as_redis_checks_it(ref: ServerHandle) -> None:
    ks = _ks()
    pair = Pair(ks.port, ref.port)
    try:
        for value in ("10 1 20 2", "abc", "10", "0 1", "10 -1", ""):
            pair.run("CONFIG", "SET", "save", value)
            pair.run("CONFIG", "GET", "save")
        pair.run("CONFIG", "SET", "dbfilename", "other.rdb")
        pair.run("CONFIG", "SET", "dir", "/")
    finally:
        pair.close()
        _stop(ks)


def test_clients_get_loading_errors_while_the_dump_loads(tmp_path) -> None:
    data_dir = str(tmp_path)
    with open(os.path.join(data_dir, "dump.rdb"), "wb") as f:
        w = RdbWriter(f, Limits())
        w.select_db(0, 300_000, 0)
        for i in range(300_000):
            w.key(b"key:%d" % i, b"value:%d" % i)
        w.finish()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "keystream", "serve", "--port", str(port),
                             "--kafka-port", "0", "--dir", data_dir], cwd=data_dir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    replies: list[object] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                raw = RawClient(port)
            except OSError:
                time.sleep(0.01)
                continue
            reply = raw.call("GET", "key:1")
            if not replies:
                replies.append(raw.call("INFO", "persistence"))
            raw.close()
            replies.append(reply)
            if reply == b"value:1":
                break
        assert ("ERR", "LOADING Redis is loading the dataset in memory") in replies
        assert b"loading:1" in replies[0]
        assert replies[-1] == b"value:1"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_function_libraries_in_a_dump_survive_a_round_trip_through_keystream(ref: ServerHandle) -> None:
    rr = _client(ref)
    code = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 1 end)"
    rr.execute_command("FUNCTION", "LOAD", code)
    rr.set("k", "v")
    rr.save()
    data_dir = tempfile.mkdtemp(prefix="ks-fn-")
    shutil.copy(os.path.join(ref.data_dir, "dump.rdb"), os.path.join(data_dir, "dump.rdb"))
    ks = _ks(data_dir=data_dir)
    try:
        _client(ks).save()
    finally:
        ks.stop()
    rr.execute_command("FUNCTION", "FLUSH")
    rr.flushall()
    shutil.copy(os.path.join(data_dir, "dump.rdb"), os.path.join(ref.data_dir, "dump.rdb"))
    rr.execute_command("DEBUG", "RELOAD", "NOSAVE")
    assert rr.get("k") == b"v"
    assert rr.execute_command("FCALL", "myfunc", "0") == 1
    shutil.rmtree(data_dir, ignore_errors=True)


def test_debug_populate_matches_redis(ref: ServerHandle) -> None:
    ks = _ks()
    pair = Pair(ks.port, ref.port)
    try:
        pair.run("FLUSHALL")
        pair.run("SET", "key:3", "mine")
        pair.run("DEBUG", "POPULATE", "5")
        pair.run("MGET", "key:0", "key:3", "key:4", "key:5")
        pair.run("DEBUG", "POPULATE", "3", "pp", "12")
        pair.run("GET", "pp:1")
        pair.run("DEBUG", "POPULATE", "2", "short", "3")
        pair.run("GET", "short:1")
        pair.run("DEBUG", "POPULATE", "-1")
        pair.run("DEBUG", "POPULATE", "x")
        pair.run("DBSIZE")
    finally:
        pair.close()
        _stop(ks)


def test_bgsave_reports_its_progress_and_copy_on_write() -> None:
    ks = _ks("--save", "")
    try:
        kr = _client(ks)
        kr.execute_command("DEBUG", "POPULATE", "5000")
        kr.config_set("rdb-key-save-delay", "300")  # ~1.5 s of saving: progress is reported
        assert kr.execute_command("BGSAVE") is True
        wait_until(lambda: kr.info("persistence")["current_save_keys_processed"] > 0, timeout=30,
                   what="a progress report from the child")
        info = kr.info("persistence")
        assert info["current_save_keys_total"] == 5000 and info["current_cow_size"] > 0
        assert 0 < info["current_fork_perc"] <= 100
        wait_until(lambda: kr.info("persistence")["rdb_bgsave_in_progress"] == 0, timeout=60, what="BGSAVE")
        info = kr.info("persistence")
        assert info["rdb_last_cow_size"] > 0 and info["current_save_keys_processed"] == 0
    finally:
        _stop(ks)


def _xinfo_full(r: redis.Redis, key: str) -> object:
    return r.execute_command("XINFO", "STREAM", key, "FULL")


def test_stream_payloads_move_both_ways_with_every_group_detail(ref: ServerHandle) -> None:
    """A stream DUMPed by Redis restores here with the same XINFO STREAM FULL (nodes, IDs,
    entries-added, groups, PEL delivery times and counts, consumers' seen times); our DUMP is
    the same bytes and restores in Redis to the same again."""
    rr = _client(ref)
    rr.flushall()
    populate_streams(rr)
    ks = _ks()
    try:
        kr = _client(ks)
        kr.flushall()
        keys = sorted(rr.scan_iter())
        assert b"stream" in keys
        for key in keys:
            payload = rr.dump(key)
            kr.restore(key, 0, payload)
            assert _xinfo_full(kr, key) == _xinfo_full(rr, key), key
            assert kr.execute_command("XINFO", "STREAM", key) == rr.execute_command("XINFO", "STREAM", key)
            assert kr.execute_command("DEBUG", "DIGEST-VALUE", key) == \
                rr.execute_command("DEBUG", "DIGEST-VALUE", key), key
            assert kr.dump(key) == payload, key
            rr.restore(key + b"-back", 0, kr.dump(key))
            assert _xinfo_full(rr, key + b"-back") == _xinfo_full(rr, key), key
        # what a restored stream holds keeps working: reads, acks, appends split nodes as Redis's
        for r in (rr, kr):
            r.xack("stream", "g1", "1700000000000-0")
            r.xadd("stream", {"a": "new"}, id="1800000000000-0")
            r.xreadgroup("g0", "c", {"stream": ">"}, count=2)
        assert kr.xrange("stream") == rr.xrange("stream")
        assert kr.xpending("stream", "g1") == rr.xpending("stream", "g1")
        assert kr.execute_command("XINFO", "STREAM", "stream") == rr.execute_command("XINFO", "STREAM", "stream")
    finally:
        _stop(ks)


def test_stream_file_passes_redis_check_rdb_and_bad_stream_payloads_are_refused(ref: ServerHandle) -> None:
    ks = _ks()
    try:
        kr = _client(ks)
        populate_streams(kr)
        assert kr.save()
        path = os.path.join(ks.data_dir, "dump.rdb")
        check = subprocess.run(["redis-check-rdb", path], check=False, capture_output=True, text=True, timeout=60)
        assert "RDB looks OK" in check.stdout, check.stdout
        payload = bytearray(kr.dump("stream"))
        payload[3] ^= 0xFF  # inside the first node's key: the checksum no longer matches
        rr = _client(ref)
        for r in (kr, rr):
            with pytest.raises(redis.ResponseError) as e:
                r.restore("bad", 0, bytes(payload))
            assert str(e.value) == "DUMP payload version or checksum are wrong"
    finally:
        _stop(ks)


# -- MIGRATE --------------------------------------------------------------------------------
def _migrate_dataset(r: redis.Redis) -> list[str]:
    r.flushall()
    r.set("s", "hello")
    r.set("n", 12345, px=50_000_000)
    r.rpush("l", "a", "b", "7")
    r.hset("h", mapping={"f": "v", "g": "1"})
    r.sadd("t", 1, 2, 3)
    r.zadd("z", {"a": 1, "b": 2.5})
    r.xadd("x", {"f": "v"}, id="1-1")
    return ["s", "n", "l", "h", "t", "z", "x"]


def test_migrate_moves_keys_to_redis_and_back(ref: ServerHandle) -> None:
    """Keystream -> redis-server (KEYS form, TTLs kept, keys gone here), then redis-server ->
    Keystream with COPY, REPLACE and AUTH2 (keys stay in Redis); payloads are identical."""
    ks = start_keystream()
    try:
        kr, rr = redis.Redis(port=ks.port), redis.Redis(port=ref.port)
        keys = _migrate_dataset(kr)
        payloads = {k: kr.dump(k) for k in keys}
        rr.select(4)
        assert kr.execute_command("MIGRATE", "127.0.0.1", ref.port, "", 4, 5000, "KEYS", *keys) == b"OK"
        assert kr.exists(*keys) == 0
        assert {k: rr.dump(k) for k in keys} == payloads
        assert 40_000_000 < rr.pttl("n") <= 50_000_000 and rr.ttl("s") == -1
        assert kr.info("stats")["migrate_cached_sockets"] == 1
        kr.set("s", "old")
        kr.config_set("requirepass", "pw")
        kr.execute_command("AUTH", "pw")
        assert rr.execute_command("MIGRATE", "127.0.0.1", ks.port, "", 0, 5000, "COPY", "REPLACE",
                                  "AUTH2", "default", "pw", "KEYS", *keys) == b"OK"
        assert {k: kr.dump(k) for k in keys} == payloads
        assert rr.exists(*keys) == len(keys)
        with pytest.raises(redis.ResponseError, match="^Target instance replied with error: BUSYKEY"):
            rr.execute_command("MIGRATE", "127.0.0.1", ks.port, "s", 0, 5000, "COPY", "AUTH", "pw")
        with pytest.raises(redis.ResponseError, match="^Target instance replied with error: WRONGPASS"):
            rr.execute_command("MIGRATE", "127.0.0.1", ks.port, "s", 0, 5000, "REPLACE", "AUTH", "bad")
        assert rr.exists("s") == 1  # nothing acknowledged: nothing deleted
    finally:
        ks.stop()


def test_migrate_replies_and_errors_match_redis(ref: ServerHandle) -> None:
    """Keystream and redis-server each MIGRATE to a redis-server of their own: the same replies
    and errors, option by option, and the same keys left on both sides."""
    targets = [start_redis(), start_redis()]
    ks = start_keystream()
    pair = Pair(ks.port, ref.port)
    closed = free_port()
    try:
        def both(*args: str, to: int | None = None) -> None:
            """MIGRATE to each side's own target (or to port `to`) then compare the replies."""
            replies = []
            for side, target in ((pair.ks, targets[0]), (pair.ref, targets[1])):
                port = str(to if to is not None else target.port)
                replies.append(side.call_reply("MIGRATE", "127.0.0.1", port, *args).raw)
            assert replies[0] == replies[1], args

        pair.run("MSET", "a", "1", "b", "2", "c", "3")
        both("nokey", "0", "1000")
        both("", "0", "1000", "KEYS", "x", "y", "x")
        both("a", "0", "1000", "KEYS", "b")
        both("a", "0", "1000", "COPY", "BOGUS")
        both("a", "0", "1000", "AUTH")
        both("a", "0", "1000", "AUTH2", "u")
        both("a", "0", "x")
        both("a", "y", "1000")
        both("a", "0", "1000", to=closed)
        both("a", "0", "1000", "COPY")  # OK: copied
        both("a", "0", "1000", "COPY")  # the target's BUSYKEY
        both("", "0", "-5", "REPLACE", "KEYS", "a", "nope", "b")  # OK: moved
        pair.run("EXISTS", "a", "b", "c")
        for t in targets:
            redis.Redis(port=t.port).set("c", "busy")
        both("", "0", "1000", "KEYS", "c")
        both("c", "3", "1000")  # db 3 of the target has no c: moved
        pair.run("EXISTS", "c")
        pair.run("SET", "b", "again")
        both("b", "0", "1000", "REPLACE", "AUTH", "pw")  # AUTH refused by the target: its error
        pair.run("EXISTS", "b")  # restored there, yet kept here: the target answered an error
        for t in targets:
            assert redis.Redis(port=t.port, db=3).get("c") == b"3"
    finally:
        pair.close()
        ks.stop()
        for t in targets:
            t.stop()


def test_migrate_auth_arguments_are_redacted_in_slowlog_and_monitor(ref: ServerHandle) -> None:
    """AUTH's password and AUTH2's username and password show as "(redacted)" in SLOWLOG and
    MONITOR, as in redis-server: also when the command fails (IOERR, NOKEY, a syntax error
    after the AUTH option), and nothing else is hidden."""
    ks = start_keystream()
    closed = str(free_port())
    calls = [("k", "AUTH", "secret"), ("k", "COPY", "AUTH2", "user", "secret"), ("missing", "AUTH", "pw"),
             ("k", "AUTH", "pw", "BOGUS"), ("k", "REPLACE")]
    seen = []
    try:
        for port in (ks.port, ref.port):
            c = RawClient(port)
            c.call("FLUSHALL")
            c.call("SET", "k", "v")
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
            c.call("SLOWLOG", "RESET")
            mon = RawClient(port)
            assert mon.call("MONITOR") == b"OK"
            for args in calls:
                c.call("MIGRATE", "127.0.0.1", closed, args[0], "0", "100", *args[1:])
            slow = [e[3] for e in c.call("SLOWLOG", "GET", "-1") if e[3][0] == b"MIGRATE"]
            lines = [mon.read().split(b"] ", 1)[1] for _ in calls]  # without the time and address
            seen.append((slow, lines))
            mon.close()
            c.close()
    finally:
        ks.stop()
    assert seen[0] == seen[1]
    slow, lines = seen[0]
    assert slow[-1][-2:] == [b"AUTH", b"(redacted)"] and b"secret" not in b"".join(lines)
    assert lines[1].endswith(b'"AUTH2" "(redacted)" "(redacted)"')


def test_migrate_propagates_as_del_of_the_moved_keys(ref: ServerHandle) -> None:
    """Through the engine's call path: DEL of exactly the keys the target acknowledged; COPY and
    NOKEY propagate nothing."""
    from keystream.commands import executor
    from keystream.config import Config
    from keystream.engine import Engine

    engine = Engine(Config())
    seen: list[tuple[int, list[bytes]]] = []
    engine.effect_subscribers.append(seen.extend)
    client = engine.fake_client()

    def run(*args: str) -> list[list[bytes]]:
        out: list[bytes] = []
        executor.execute(client, [a.encode() for a in args], out)
        effects = [cmd for _, cmd in seen]
        seen.clear()
        return effects

    rr = redis.Redis(port=ref.port)
    rr.set("busy", "x")
    run("MSET", "k1", "1", "k2", "2", "busy", "3")
    target = ("MIGRATE", "127.0.0.1", str(ref.port))
    assert run(*target, "k1", "0", "1000", "COPY") == []
    assert rr.getdel("k1") == b"1"
    assert run(*target, "", "0", "1000", "KEYS", "nokey") == []
    # busy exists on the target: an error reply, but k1 and k2 moved
    assert run(*target, "", "0", "1000", "KEYS", "k1", "busy", "k2") == [[b"DEL", b"k1", b"k2"]]
    assert set(client.db.data) == {b"busy"}
    assert rr.mget("k1", "k2", "busy") == [b"1", b"2", b"x"]
    engine.migrate_sockets.close_all()
