"""Function libraries persist with the data, as in Redis 7.0: FUNCTION2 records in the RDB
(ours load in redis-server and Redis's load here), FUNCTION LOAD in the AOF (as Redis
propagates it) and in a command-form AOF base, DEBUG RELOAD.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
import redis

from tests.conftest import free_port, start_keystream, start_redis, wait_until

LIB = "#!lua name=persisted\nredis.register_function('pget', function(keys) return redis.call('GET', keys[1]) end)"
LIB2 = ("#!lua name=second\nredis.register_function{function_name='pecho', callback=function(_, args) "
        "return args[1] end, flags={'no-writes'}, description='echo'}")


def _load(r: redis.Redis) -> None:
    assert r.execute_command("FUNCTION", "LOAD", LIB) == b"persisted"
    assert r.execute_command("FUNCTION", "LOAD", LIB2) == b"second"
    r.set("k", "v")


def _check(r: redis.Redis) -> None:
    assert r.execute_command("FCALL", "pget", 1, "k") == b"v"
    assert r.execute_command("FCALL_RO", "pecho", 0, "hi") == b"hi"
    assert _libraries(r) == {b"persisted": LIB.encode(), b"second": LIB2.encode()}


def _libraries(r: redis.Redis) -> dict[bytes, bytes]:
    """FUNCTION LIST WITHCODE as name -> code (redis-py reads each library as a dict)."""
    return {lib[b"library_name"]: lib[b"library_code"]
            for lib in r.execute_command("FUNCTION", "LIST", "WITHCODE")}


def _redis_on(data_dir: str, *args: str) -> tuple[subprocess.Popen, redis.Redis]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", data_dir, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(port=port)
    wait_until(lambda: _answers(r), what="redis-server to load our files")
    return proc, r


def _answers(r: redis.Redis) -> bool:
    try:
        return bool(r.ping())
    except (redis.ConnectionError, redis.BusyLoadingError):
        return False


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _stop_redis(proc: subprocess.Popen, data_dir: str) -> None:
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(data_dir, ignore_errors=True)


def test_rdb_keeps_libraries_across_restart_and_debug_reload() -> None:
    ks = start_keystream()
    data_dir = ks.data_dir
    try:
        r = redis.Redis(port=ks.port)
        _load(r)
        assert r.save()
        r.execute_command("FUNCTION", "DELETE", "second")
        assert r.execute_command("DEBUG", "RELOAD") == b"OK"  # saves (without 'second'), loads back
        assert list(_libraries(r)) == [b"persisted"]
        assert r.execute_command("FUNCTION", "LOAD", LIB2) == b"second"
        assert r.save()
        ks.stop()
        ks = start_keystream(data_dir=data_dir)
        _check(redis.Redis(port=ks.port))
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_rdb_libraries_load_both_ways_with_redis() -> None:
    ref = start_redis()
    try:
        rr = redis.Redis(port=ref.port)
        _load(rr)
        assert rr.save()
        data_dir = tempfile.mkdtemp(prefix="ks-fn-")
        shutil.copy(os.path.join(ref.data_dir, "dump.rdb"), os.path.join(data_dir, "dump.rdb"))
    finally:
        ref.stop()
        shutil.rmtree(ref.data_dir, ignore_errors=True)
    ks = start_keystream(data_dir=data_dir)
    try:
        kr = redis.Redis(port=ks.port)
        _check(kr)
        assert kr.save()
        path = os.path.join(data_dir, "dump.rdb")
        check = subprocess.run(["redis-check-rdb", path], check=False, capture_output=True, text=True, timeout=60)
        assert "RDB looks OK" in check.stdout, check.stdout
        redis_dir = tempfile.mkdtemp(prefix="redis-from-ks-fn-")
        shutil.copy(path, os.path.join(redis_dir, "dump.rdb"))
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    proc, rr = _redis_on(redis_dir)
    try:
        _check(rr)
    finally:
        _stop_redis(proc, redis_dir)


def test_a_library_that_exists_makes_the_dump_fail_to_load_only_without_flush() -> None:
    ks = start_keystream()
    try:
        r = redis.Redis(port=ks.port)
        _load(r)
        assert r.save()
        r.delete("k")
        ks.allow_log("DEBUG RELOAD: Failed loading library")
        with pytest.raises(redis.ResponseError, match="Error trying to load the RDB dump"):
            r.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH")
        assert r.exists("k") == 0  # nothing of the dump was installed
        assert r.execute_command("DEBUG", "RELOAD", "NOSAVE", "MERGE") == b"OK"
        _check(r)
    finally:
        ks.stop()
        shutil.rmtree(ks.data_dir, ignore_errors=True)


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_aof_replays_function_load_and_rewrites_keep_libraries(preamble: str) -> None:
    args = ("--appendonly", "yes", "--save", "", "--aof-use-rdb-preamble", preamble)
    ks = start_keystream(*args)
    data_dir = ks.data_dir
    aof_dir = os.path.join(data_dir, "appendonlydir")
    try:
        r = redis.Redis(port=ks.port)
        _load(r)
        incr = os.path.join(aof_dir, "appendonly.aof.1.incr.aof")
        # the AOF is written on the loop's next turn, which a reply can precede (see the report)
        wait_until(lambda: _read(incr).endswith(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"),
                   what="the AOF write")
        assert b"$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$%d\r\n%s\r\n" % (len(LIB), LIB.encode()) in _read(incr)
        ks.stop(9)
        ks = start_keystream(*args, data_dir=data_dir)
        r = redis.Redis(port=ks.port)
        _check(r)
        assert r.execute_command("BGREWRITEAOF") is True
        wait_until(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0, what="the rewrite")
        base = "appendonly.aof.2.base." + ("rdb" if preamble == "yes" else "aof")
        if preamble == "no":
            with open(os.path.join(aof_dir, base), "rb") as f:
                assert f.read().startswith(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n")
        ks.stop(9)
        ks = start_keystream(*args, data_dir=data_dir)
        _check(redis.Redis(port=ks.port))
        ks.stop()
        redis_dir = tempfile.mkdtemp(prefix="redis-from-ks-fn-aof-")
        shutil.copytree(aof_dir, os.path.join(redis_dir, "appendonlydir"))
    finally:
        ks.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    proc, rr = _redis_on(redis_dir, "--appendonly", "yes")
    try:
        _check(rr)
    finally:
        _stop_redis(proc, redis_dir)
