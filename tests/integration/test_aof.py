"""The multi-part AOF against real clients, kill -9 and a real redis-server 7.0.

The crash test is the promise: with `appendfsync always`, every write a client saw
acknowledged is there after kill -9 and a restart.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import redis

from keystream.persistence.aof import encode_command, parse_commands
from tests.conftest import ServerHandle, free_port, start_keystream, start_redis, wait_until
from tests.differential import RawClient
from tests.integration.test_persistence import digest, populate, populate_streams, scan_all


def _ks(*args: str, data_dir: str | None = None) -> ServerHandle:
    return start_keystream(*args, data_dir=data_dir)


def _client(h: ServerHandle) -> redis.Redis:
    return redis.Redis(port=h.port)


def _aof_dir(h: ServerHandle) -> str:
    return os.path.join(h.data_dir, "appendonlydir")


def _manifest(h: ServerHandle) -> str:
    with open(os.path.join(_aof_dir(h), "appendonly.aof.manifest")) as f:
        return f.read()


_BATCH = 20  # transactions per pipelined batch


def _pipelined_writer(port: int, writer: int, stop: threading.Event, acked: list[int]) -> None:
    """Pipelined batches of transactions; the n-th is MULTI, RPUSH l:<writer> n,
    RPUSH all <writer>:n, INCR c:<writer>, EXEC. acked[0] is the n of the last EXEC whose
    reply arrived."""
    sock = socket.create_connection(("127.0.0.1", port))
    n = 0
    buf = b""
    try:
        while not stop.is_set():
            batch = []
            for _ in range(_BATCH):
                n += 1
                batch.append(encode_command([b"MULTI"]) + encode_command([b"RPUSH", b"l:%d" % writer, b"%d" % n])
                             + encode_command([b"RPUSH", b"all", b"%d:%d" % (writer, n)])
                             + encode_command([b"INCR", b"c:%d" % writer]) + encode_command([b"EXEC"]))
            sock.sendall(b"".join(batch))
            target = n
            while acked[0] < target:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
                lines = buf.split(b"\r\n")
                buf = lines.pop()
                for line in lines:
                    if line.startswith(b"-"):
                        raise AssertionError(line)
                    if line.startswith(b"*3"):  # an EXEC's reply: transactions are answered in order
                        acked[0] += 1
    except OSError:
        return
    finally:
        sock.close()


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_kill_9_under_pipelined_load_loses_no_acknowledged_write(fsync: str) -> None:
    """kill -9 while 8 clients pipeline transactions: after the restart every acknowledged
    transaction is there (the AOF is written, and with `always` fsynced, before any reply
    of its batch goes out; only an OS crash could lose the page cache under `everysec`), and
    the dataset is a prefix of what was sent: each client's transactions in order, each
    whole, and one global order (the shared list) that agrees with each client's."""
    writers = 8
    ks = _ks("--appendonly", "yes", "--appendfsync", fsync, "--save", "")
    data_dir = ks.data_dir
    try:
        stop = threading.Event()
        acked = [[0] for _ in range(writers)]
        threads = [threading.Thread(target=_pipelined_writer, args=(ks.port, i, stop, acked[i]))
                   for i in range(writers)]
        for t in threads:
            t.start()
        wait_until(lambda: all(a[0] > 100 for a in acked), timeout=60, what="writes to be acknowledged")
        ks.expect_exit()
        ks.proc.kill()  # kill -9 while the writers are mid-pipeline
        ks.proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        ks = _ks("--appendonly", "yes", "--appendfsync", fsync, "--save", "", data_dir=data_dir)
        r = _client(ks)
        applied = [int(r.get(f"c:{i}") or 0) for i in range(writers)]
        for i in range(writers):
            assert applied[i] >= acked[i][0], f"writer {i}: {acked[i][0]} acknowledged, {applied[i]} kept"
            assert applied[i] <= acked[i][0] + _BATCH, (i, acked[i][0], applied[i])
            assert r.lrange(f"l:{i}", 0, -1) == [b"%d" % n for n in range(1, applied[i] + 1)], i
        shared = r.lrange("all", 0, -1)
        assert len(shared) == sum(applied)
        seen = [0] * writers
        for item in shared:
            w, n = map(int, item.split(b":"))
            assert n == seen[w] + 1, f"writer {w}: {n} after {seen[w]} in the shared list"
            seen[w] = n
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_restart_replays_the_aof_and_rewrites_keep_everything() -> None:
    ks = _ks("--appendonly", "yes", "--save", "")
    data_dir = ks.data_dir
    try:
        r = _client(ks)
        populate(r)
        r.incrbyfloat("float", 1.25)
        with r.pipeline(transaction=True) as p:
            p.set("tx1", "a").set("tx2", "b").execute()
        want, want_scan = digest(r), scan_all(r)
        assert "appendonly.aof.1.incr.aof" in _manifest(ks)
        assert r.execute_command("BGREWRITEAOF") is True
        wait_until(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0, what="the rewrite")
        info = r.info("persistence")
        assert info["aof_last_bgrewrite_status"] == "ok" and info["aof_rewrites"] == 1
        assert _manifest(ks) == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                                 "file appendonly.aof.2.incr.aof seq 2 type i\n")
        assert sorted(os.listdir(_aof_dir(ks))) == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof",
                                                     "appendonly.aof.manifest"]
        r.set("after-rewrite", "1")
        want_after = digest(r)
        ks.stop(9)
        ks = _ks("--appendonly", "yes", "--save", "", data_dir=data_dir)
        r = _client(ks)
        assert digest(r) == want_after
        r.delete("after-rewrite")
        assert digest(r) == want and scan_all(r) == want_scan
        check = subprocess.run(["redis-check-aof", os.path.join(_aof_dir(ks), "appendonly.aof.manifest")],
                               check=False, capture_output=True, text=True, timeout=60)
        assert "All AOF files and manifest are valid" in check.stdout, check.stdout
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_aof_written_by_redis_loads_and_ours_loads_in_redis(preamble: str) -> None:
    ref = start_redis("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    try:
        rr = redis.Redis(port=ref.port)
        populate(rr)
        rr.execute_command("BGREWRITEAOF")  # a base file in the chosen form, then increments
        wait_until(lambda: rr.info("persistence")["aof_rewrite_in_progress"] == 0, what="redis rewrite")
        rr.set("later", "x")
        want = digest(rr)
        rr.shutdown(nosave=True)  # the AOF is flushed and fsynced at shutdown
        ref.proc.wait(timeout=10)
        data_dir = tempfile.mkdtemp(prefix="ks-aof-")
        shutil.copytree(os.path.join(ref.data_dir, "appendonlydir"), os.path.join(data_dir, "appendonlydir"))
    finally:
        ref.stop()
        shutil.rmtree(ref.data_dir, ignore_errors=True)
    ks = _ks("--appendonly", "yes", "--save", "", data_dir=data_dir)
    try:
        kr = _client(ks)
        assert digest(kr) == want
        kr.set("ours", "y")
        kr.incrbyfloat("float", 2.5)
        want = digest(kr)
        ks.stop()
        redis_dir = tempfile.mkdtemp(prefix="redis-from-ks-aof-")
        shutil.copytree(os.path.join(data_dir, "appendonlydir"), os.path.join(redis_dir, "appendonlydir"))
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "yes", "--dir", redis_dir, "--enable-debug-command", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rr = redis.Redis(port=port)
        wait_until(lambda: _answers(rr), what="redis-server to load our AOF")
        assert digest(rr) == want
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(redis_dir, ignore_errors=True)


def _answers(r: redis.Redis) -> bool:
    try:
        return bool(r.ping())
    except (redis.ConnectionError, redis.BusyLoadingError):
        return False


def test_torn_tail_is_cut_when_allowed_and_refused_otherwise() -> None:
    ks = _ks("--appendonly", "yes", "--save", "")
    data_dir = ks.data_dir
    try:
        r = _client(ks)
        r.set("a", "1")
        r.set("b", "2")
        ks.stop()
        incr = os.path.join(data_dir, "appendonlydir", "appendonly.aof.1.incr.aof")
        with open(incr, "ab") as f:
            f.write(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1")  # a write torn by a crash
        port = free_port()
        refused = subprocess.run(
            [sys.executable, "-m", "keystream", "serve", "--port", str(port), "--kafka-port", "0",
             "--dir", data_dir, "--appendonly", "yes", "--aof-load-truncated", "no"],
            check=False, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "Unexpected end of file" in refused.stdout
        ks = _ks("--appendonly", "yes", "--save", "", data_dir=data_dir)
        r = _client(ks)
        assert r.mget("a", "b", "c") == [b"1", b"2", None]
        r.set("c", "3")
        ks.stop()
        ks = _ks("--appendonly", "yes", "--save", "", data_dir=data_dir)
        assert _client(ks).get("c") == b"3"
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_appendonly_switched_on_and_off_at_run_time() -> None:
    ks = _ks("--save", "", "--appendfsync", "everysec")
    data_dir = ks.data_dir
    try:
        r = _client(ks)
        r.set("before", "1")
        r.config_set("appendonly", "yes")
        wait_until(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0
                   and r.info("persistence")["aof_enabled"] == 1, what="AOF on")
        r.set("after", "2")
        wait_until(lambda: "appendonly.aof.1.base.rdb" in _manifest(ks), what="the first base")
        ks.stop()  # SIGTERM: the AOF is flushed and fsynced on the way out
        ks = _ks("--appendonly", "yes", "--save", "", data_dir=data_dir)
        r = _client(ks)
        assert r.mget("before", "after") == [b"1", b"2"]
        r.config_set("appendonly", "no")
        assert r.info("persistence")["aof_enabled"] == 0
        r.set("not-logged", "3")
        ks.stop()
        ks = _ks("--appendonly", "yes", "--save", "", data_dir=data_dir)
        assert _client(ks).get("not-logged") is None
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_one_child_at_a_time_and_scheduling() -> None:
    ks = _ks("--appendonly", "yes", "--save", "")
    data_dir = ks.data_dir
    try:
        r = _client(ks)
        pipe = r.pipeline(transaction=False)
        for i in range(200_000):
            pipe.set(f"key:{i}", "v" * 20)
            if i % 10_000 == 9_999:
                pipe.execute()
        pipe.execute()
        raw = RawClient(ks.port)
        assert raw.call("BGREWRITEAOF") == b"Background append only file rewriting started"
        assert raw.call("BGREWRITEAOF") == ("ERR", "ERR Background append only file rewriting already in progress")
        raw.close()
        with pytest.raises(redis.ResponseError, match="Another child process is active"):
            r.execute_command("BGSAVE")
        assert r.execute_command("BGSAVE", "SCHEDULE") is True  # "Background saving scheduled"
        wait_until(lambda: r.info("persistence")["rdb_saves"] == 1, timeout=60,
                   what="the scheduled BGSAVE after the rewrite")
        assert r.info("persistence")["aof_rewrites"] == 1
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_debug_loadaof_replays_the_file() -> None:
    ks = _ks("--appendonly", "yes", "--appendfsync", "always", "--save", "")
    try:
        r = _client(ks)
        r.rpush("l", "a", "b")
        r.hset("h", "f", "v")
        want = digest(r)
        assert r.execute_command("DEBUG", "LOADAOF") == b"OK"
        assert digest(r) == want and r.lrange("l", 0, -1) == [b"a", b"b"]
        # DEBUG LOADAOF is not itself logged (it reset the dirty counter, as Redis's does):
        # a second one replays the same file and returns (it used to replay itself for ever)
        r.set("k", "v")
        assert r.execute_command("DEBUG", "LOADAOF") == b"OK"
        assert r.get("k") == b"v" and digest(r) != want
        d = _aof_dir(ks)
        assert not any(b"LOADAOF" in Path(d, n).read_bytes().upper() for n in os.listdir(d))
    finally:
        ks.stop()
        shutil.rmtree(ks.data_dir, ignore_errors=True)


def test_forks_are_counted_in_info_stats() -> None:
    """total_forks counts BGSAVE and BGREWRITEAOF children (the suite waits on it); CONFIG
    RESETSTAT zeroes it, as Redis's resetServerStats."""
    ks = _ks("--appendonly", "yes", "--save", "")
    try:
        r = _client(ks)
        assert r.info("stats")["total_forks"] == 0
        r.set("k", "v")
        r.bgsave()
        wait_until(lambda: not r.info("persistence")["rdb_bgsave_in_progress"], what="bgsave done")
        r.bgrewriteaof()
        wait_until(lambda: not r.info("persistence")["aof_rewrite_in_progress"], what="rewrite done")
        stats = r.info("stats")
        assert stats["total_forks"] == 2 and stats["latest_fork_usec"] > 0
        r.config_resetstat()
        assert r.info("stats")["total_forks"] == 0
    finally:
        ks.stop()
        shutil.rmtree(ks.data_dir, ignore_errors=True)


def test_automatic_rewrite_and_timestamp_annotations() -> None:
    ks = _ks("--appendonly", "yes", "--save", "", "--auto-aof-rewrite-min-size", "20000",
             "--auto-aof-rewrite-percentage", "100", "--aof-timestamp-enabled", "yes",
             "--aof-use-rdb-preamble", "no")
    data_dir = ks.data_dir
    try:
        r = _client(ks)
        for i in range(300):
            r.set(f"key:{i}", "x" * 100)
        wait_until(lambda: r.info("persistence")["aof_rewrites"] >= 1, timeout=30, what="an automatic rewrite")
        wait_until(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0, what="the rewrite to end")
        r.set("last", "1")
        want = digest(r)
        ks.stop()
        incr = [n for n in os.listdir(os.path.join(data_dir, "appendonlydir")) if n.endswith(".incr.aof")]
        with open(os.path.join(data_dir, "appendonlydir", incr[-1]), "rb") as f:
            assert f.read().startswith(b"#TS:")
        (base,) = [n for n in os.listdir(os.path.join(data_dir, "appendonlydir")) if n.endswith(".base.aof")]
        with open(os.path.join(data_dir, "appendonlydir", base), "rb") as f:
            assert f.read().startswith(b"#TS:")  # a base in command form opens with the time too
        ks = _ks("--appendonly", "yes", "--save", "", data_dir=data_dir)
        assert digest(_client(ks)) == want
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _base_commands_by_key(aof_dir: str) -> dict[bytes, list[list[bytes]]]:
    (base,) = [n for n in os.listdir(aof_dir) if n.endswith(".base.aof")]
    with open(os.path.join(aof_dir, base), "rb") as f:
        cmds, _, why = parse_commands(f.read())
    assert why == ""
    out: dict[bytes, list[list[bytes]]] = {}
    for argv in cmds:
        if argv[0] != b"SELECT":
            key = argv[2] if argv[0] == b"XGROUP" else argv[1]
            out.setdefault(key, []).append(argv)
    return out


def test_stream_rewrite_in_command_form_is_the_one_redis_writes() -> None:
    """With aof-use-rdb-preamble no, streams restored from Redis's DUMPs rewrite to the very
    commands Redis's rewrite gives them (XADD per entry, XSETID, XGROUP CREATE ... ENTRIESREAD,
    XCLAIM ... FORCE, XGROUP CREATECONSUMER), and replaying them gives the streams back."""
    ref = start_redis("--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    ks = _ks("--appendonly", "yes", "--aof-use-rdb-preamble", "no", "--save", "")
    data_dir = ks.data_dir
    try:
        rr, kr = redis.Redis(port=ref.port), _client(ks)
        populate_streams(rr)
        keys = sorted(rr.scan_iter())
        for key in keys:
            kr.restore(key, 0, rr.dump(key))
        for r in (rr, kr):
            r.execute_command("BGREWRITEAOF")
            wait_until(lambda r=r: r.info("persistence")["aof_rewrite_in_progress"] == 0, what="rewrite")
        ours = _base_commands_by_key(_aof_dir(ks))
        assert ours == _base_commands_by_key(os.path.join(ref.data_dir, "appendonlydir"))
        assert [b"XGROUP", b"CREATE", b"stream", b"g0", b"1700000000020-60", b"ENTRIESREAD", b"-1"] \
            in ours[b"stream"]
        want = {key: kr.execute_command("XINFO", "STREAM", key, "FULL") for key in keys}
        ks.stop(9)
        ks = _ks("--appendonly", "yes", "--aof-use-rdb-preamble", "no", "--save", "", data_dir=data_dir)
        kr = _client(ks)
        for key in keys:
            got = kr.execute_command("XINFO", "STREAM", key, "FULL")
            assert _without_seen_times(got) == _without_seen_times(want[key]), key
    finally:
        ks.stop()
        ref.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(ref.data_dir, ignore_errors=True)


def _without_seen_times(reply: object) -> object:
    """XINFO STREAM FULL minus what a replay cannot keep: consumers' seen times and the node
    layout (entries deleted in place are not replayed)."""
    if isinstance(reply, dict):
        return {k: _without_seen_times(v) for k, v in reply.items()
                if k not in (b"seen-time", b"radix-tree-keys", b"radix-tree-nodes")}
    if isinstance(reply, list):
        return [_without_seen_times(x) for x in reply]
    return reply


def _write_aof(data_dir: str, commands: list[list[bytes]]) -> None:
    """An appendonlydir holding one increment with commands, as a Redis 7.0 AOF."""
    d = os.path.join(data_dir, "appendonlydir")
    os.makedirs(d)
    with open(os.path.join(d, "appendonly.aof.1.incr.aof"), "wb") as f:
        f.write(b"".join(encode_command(c) for c in [[b"SELECT", b"0"], *commands]))
    with open(os.path.join(d, "appendonly.aof.manifest"), "w") as f:
        f.write("file appendonly.aof.1.incr.aof seq 1 type i\n")


def test_nothing_expires_while_the_aof_loads() -> None:
    """As Redis: a PEXPIREAT in the past read from the AOF sets the deadline instead of
    deleting, and later commands see the key (RPUSH appends to it, GETEX PXAT in the past
    and RESTORE with an old TTL keep theirs); once loaded, the keys have expired. No DEL
    is written to the AOF for them while it loads."""
    data_dir = tempfile.mkdtemp(prefix="ks-test-")
    _write_aof(data_dir, [
        [b"RPUSH", b"list", b"foo"], [b"PEXPIREAT", b"list", b"1000"], [b"RPUSH", b"list", b"bar"],
        [b"SET", b"s", b"v"], [b"GETEX", b"s", b"PXAT", b"1000"], [b"APPEND", b"s", b"w"],
        [b"SET", b"kept", b"1"], [b"PEXPIREAT", b"kept", b"1000"], [b"PERSIST", b"kept"],
    ])
    ks = _ks("--appendonly", "yes", "--save", "", data_dir=data_dir)
    try:
        r = _client(ks)
        assert r.llen("list") == 0
        assert r.get("s") is None
        assert r.get("kept") == b"1" and r.ttl("kept") == -1  # alive when PERSIST came
        with open(os.path.join(data_dir, "appendonlydir", "appendonly.aof.1.incr.aof"), "rb") as f:
            logged, _, why = parse_commands(f.read())
        assert why == "" and logged[:10] == [[b"SELECT", b"0"], [b"RPUSH", b"list", b"foo"],
                                             [b"PEXPIREAT", b"list", b"1000"], [b"RPUSH", b"list", b"bar"],
                                             [b"SET", b"s", b"v"], [b"GETEX", b"s", b"PXAT", b"1000"],
                                             [b"APPEND", b"s", b"w"], [b"SET", b"kept", b"1"],
                                             [b"PEXPIREAT", b"kept", b"1000"], [b"PERSIST", b"kept"]]
        # the DELs of the reads above
        assert sorted(c[1] for c in logged[10:] if c[0] != b"SELECT") == [b"list", b"s"]
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_xadd_with_limit_replays_from_the_aof() -> None:
    """XADD ... MAXLEN ~ n LIMIT l trims as it did when it ran; the AOF gets what it did,
    and a restart (and a rewrite) rebuild the same stream, as in redis-server."""
    ks = _ks("--appendonly", "yes", "--save", "", "--stream-node-max-entries", "10")
    data_dir = ks.data_dir
    try:
        r = _client(ks)
        for i in range(100):
            r.xadd("s", {"f": str(i)}, id=f"{i + 1}-0")
        r.execute_command("XADD", "s", "MAXLEN", "~", "0", "LIMIT", "30", "101-0", "f", "x")
        r.execute_command("XADD", "s", "MINID", "~", "80", "LIMIT", "20", "102-0", "f", "y")
        want = (r.xlen("s"), r.xrange("s"), r.xinfo_stream("s")["max-deleted-entry-id"])
        assert want[0] < 102
        ks.stop()
        ks = _ks("--appendonly", "yes", "--save", "", "--stream-node-max-entries", "10", data_dir=data_dir)
        r = _client(ks)
        assert (r.xlen("s"), r.xrange("s"), r.xinfo_stream("s")["max-deleted-entry-id"]) == want
        r.bgrewriteaof()
        wait_until(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0, what="the rewrite")
        ks.stop()
        ks = _ks("--appendonly", "yes", "--save", "", "--stream-node-max-entries", "10", data_dir=data_dir)
        r = _client(ks)
        assert (r.xlen("s"), r.xrange("s"), r.xinfo_stream("s")["max-deleted-entry-id"]) == want
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_every_flushall_is_logged_even_after_its_own_save() -> None:
    """FLUSHALL with save points writes the dump (which resets the dirty counter) and is
    still logged, each time, empty databases or not, as Redis forces its propagation."""
    ks = _ks("--appendonly", "yes", "--appendfsync", "always", "--save", "3600 1")
    try:
        r = _client(ks)
        r.set("key", "value")
        r.flushall()
        r.set("key", "value2")
        r.flushall()
        r.flushall()
        incr = [n for n in os.listdir(_aof_dir(ks)) if n.endswith(".incr.aof")]
        with open(os.path.join(_aof_dir(ks), incr[-1]), "rb") as f:
            logged, _, why = parse_commands(f.read())
        assert why == ""
        assert [c[0].lower() for c in logged if c[0] != b"SELECT"] == [
            b"set", b"flushall", b"set", b"flushall", b"flushall"]
    finally:
        ks.stop()
        shutil.rmtree(ks.data_dir, ignore_errors=True)
