"""Expiry: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (NX XX GT LT), TTL PTTL EXPIRETIME PEXPIRETIME,
PERSIST; lazy and active expiry; TTLs carried by RENAME/MOVE/COPY/SWAPDB; what expiry
commands propagate. Differential against real redis-server where replies are timing-free."""

from __future__ import annotations

import time

from keystream.commands import executor
from keystream.config import Config
from keystream.engine import Engine
from tests.conftest import wait_until


def close(got, want, slack: int) -> bool:
    return isinstance(got, int) and isinstance(want, int) and abs(got - want) <= slack


def test_expire_errors(pair):
    pair.run("SET", "k", "v")
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        pair.run(cmd, "k", "x")
        pair.run(cmd, "k", "")
        pair.run(cmd, "k", "1.5")
        pair.run(cmd, "k", "100", "FOO")
        pair.run(cmd, "k", "x", "FOO")
        pair.run(cmd, "k", "100", "NX", "XX")
        pair.run(cmd, "k", "100", "NX", "GT")
        pair.run(cmd, "k", "100", "nx", "lt")
        pair.run(cmd, "k", "100", "GT", "LT")
        pair.run(cmd, "k", "100", "XX", "NX")
        pair.run(cmd, "k", "9223372036854775808")
        pair.run(cmd, "k")
        pair.run(cmd, "nokey", "100")
        pair.run(cmd, "nokey", "100", "XX")
    pair.run("EXPIRE", "k", "9223372036854776")
    pair.run("EXPIRE", "k", "-9223372036854776")
    pair.run("EXPIREAT", "k", "9223372036854776")
    pair.run("EXPIREAT", "k", "-9223372036854776")
    pair.run("PEXPIRE", "k", "9223372036854775807")
    pair.run("PEXPIRE", "k", "9223372036854770000")
    pair.run("EXISTS", "k")
    pair.run("PEXPIREAT", "k", "9223372036854775807")
    pair.run("PEXPIRETIME", "k")
    pair.run("EXPIRETIME", "k")
    pair.run("EXPIREAT", "k", "9223372036854775")
    pair.run("EXPIRETIME", "k")
    pair.run("PEXPIRETIME", "k")


def test_ttl_family_on_missing_and_persistent(pair):
    pair.run("SET", "p", "v")
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"):
        pair.run(cmd, "p")
        pair.run(cmd, "nokey")
        pair.run(cmd)
    pair.run("PERSIST", "p")
    pair.run("PERSIST", "nokey")
    pair.run("PERSIST")


def test_expire_past_or_negative_deletes(pair):
    for cmd, arg in (("EXPIRE", "-1"), ("EXPIRE", "0"), ("PEXPIRE", "-100"), ("EXPIREAT", "1"),
                     ("PEXPIREAT", "1000"), ("EXPIRE", "-9223372036854775")):
        pair.run("SET", "k", "v")
        pair.run(cmd, "k", arg)
        pair.run("EXISTS", "k")
    pair.run("SET", "k", "v")
    pair.run("EXPIRE", "k", "-1", "XX")  # no TTL: XX refuses before the deletion
    pair.run("EXISTS", "k")
    pair.run("EXPIRE", "k", "-1", "LT")  # no TTL counts as infinite: LT accepts, deletes
    pair.run("EXISTS", "k")


def test_expire_options(pair):
    pair.run("SET", "k", "v")
    pair.run("EXPIRE", "k", "100", "XX")
    pair.run("EXPIRE", "k", "100", "GT")
    pair.run("EXPIRE", "k", "100", "NX")
    pair.run("EXPIRE", "k", "200", "NX")
    pair.run("EXPIRE", "k", "300", "XX")
    pair.run("EXPIRE", "k", "400", "GT")
    pair.run("EXPIRE", "k", "100", "GT")
    pair.run("EXPIRE", "k", "500", "LT")
    pair.run("EXPIRE", "k", "50", "LT")
    pair.run("EXPIRE", "k", "60", "LT", "XX")
    pair.run("EXPIRE", "k", "40", "XX", "LT")
    got, want = pair.both("TTL", "k")
    assert close(got, want, 1) and 38 <= got <= 40
    pair.run("PERSIST", "k")
    pair.run("EXPIRE", "k", "10", "XX", "LT")
    pair.run("TTL", "k")


def test_ttl_values(pair):
    t0 = time.monotonic()
    pair.run("SET", "k", "v", "EX", "100")
    got, want = pair.both("TTL", "k")
    ttl_floor = 100 - int(time.monotonic() - t0) - 1   # rounds to nearest: 100 for the first 0.5 s
    assert ttl_floor <= got <= 100 and ttl_floor <= want <= 100, (got, want)
    got, want = pair.both("PTTL", "k")
    pttl_floor = 100_000 - int((time.monotonic() - t0) * 1000) - 1   # however slow the machine
    assert pttl_floor <= got <= 100_000 and pttl_floor <= want <= 100_000, (got, want)
    pair.run("PEXPIREAT", "k", "99999999999999")
    pair.run("PEXPIRETIME", "k")
    pair.run("EXPIRETIME", "k")
    pair.run("PEXPIREAT", "k", "99999999999499")
    pair.run("EXPIRETIME", "k")
    pair.run("EXPIREAT", "k", "99999999999")
    pair.run("PEXPIRETIME", "k")
    now = int(time.time())
    pair.run("EXPIREAT", "k", str(now + 1000))
    pair.run("EXPIRETIME", "k")


def test_ttl_rounds_to_nearest_second(keystream_server, r):
    r.set("k", "v")
    # PEXPIRE and TTL in one transaction: no time passes between them, however loaded the machine
    assert r.pipeline(transaction=True).pexpire("k", 1600).ttl("k").execute() == [True, 2]
    assert r.pipeline(transaction=True).pexpire("k", 1400).ttl("k").execute() == [True, 1]


def test_lazy_expiry_on_access(keystream_server, r):
    r.set("k", "v", px=50)
    r.hset("h", "f", "v")
    r.pexpire("h", 50)
    time.sleep(0.1)
    assert r.get("k") is None
    assert r.exists("h") == 0
    assert r.ttl("h") == -2


def test_active_expiry_removes_untouched_keys(keystream_server, r):
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"short:{i}", "v", px=100)
    for i in range(100):
        pipe.set(f"long:{i}", "v", ex=1000)
    pipe.set("plain", "v")
    pipe.execute()
    assert r.dbsize() == 601
    # DBSIZE counts keys without looking at them: only active expiry can shrink it.
    wait_until(lambda: r.dbsize() == 101, timeout=10)
    assert r.ttl("long:0") > 990


def test_active_expiry_in_other_databases(keystream_server, r):
    r.select(3)
    for i in range(50):
        r.set(f"k{i}", "v", px=50)
    wait_until(lambda: r.dbsize() == 0, timeout=10)
    r.select(0)


def test_expire_then_overwrite(keystream_server, r):
    r.set("k", "v", ex=100)
    r.set("k", "w")
    assert r.ttl("k") == -1
    r.expire("k", 100)
    r.set("k", "x", keepttl=True)
    assert 99 <= r.ttl("k") <= 100


def test_ttl_carried_by_rename_move_copy_swapdb(keystream_server, r):
    r.set("k", "v")
    r.pexpireat("k", 99999999999999)
    r.rename("k", "k2")
    assert r.pexpiretime("k2") == 99999999999999
    r.copy("k2", "k3")
    assert r.pexpiretime("k3") == 99999999999999
    r.copy("k2", "k4", destination_db=2)
    r.move("k3", 1)
    r.swapdb(1, 5)
    r.select(5)
    assert r.pexpiretime("k3") == 99999999999999
    r.select(2)
    assert r.pexpiretime("k4") == 99999999999999
    r.select(0)
    r.set("short", "v", px=50)
    r.rename("short", "short2")
    r.move("short2", 7)
    r.select(7)
    wait_until(lambda: r.dbsize() == 0, timeout=10)
    r.select(0)


def test_expired_key_not_resurrected(keystream_server, r):
    r.set("k", "v", px=20)
    time.sleep(0.05)
    assert r.expire("k", 100) == 0
    assert r.persist("k") == 0
    assert r.exists("k") == 0


# -- propagation, observed in-process ---------------------------------------------------
class _Recorder:
    def __init__(self) -> None:
        self.engine = Engine(Config())
        self.seen: list[list[bytes]] = []
        self.engine.effect_subscribers.append(lambda effects: self.seen.extend(c for _, c in effects))
        self.client = self.engine.fake_client()

    def run(self, *args: str | bytes) -> object:
        argv = [a if isinstance(a, bytes) else a.encode() for a in args]
        out: list[bytes] = []
        executor.execute(self.client, argv, out)
        return b"".join(out)

    def take(self) -> list[list[bytes]]:
        seen, self.seen = self.seen, []
        return seen


def test_expire_propagates_as_pexpireat():
    rec = _Recorder()
    rec.run("SET", "k", "v")
    rec.take()
    before = int(time.time() * 1000)
    rec.run("EXPIRE", "k", "100")
    [cmd] = rec.take()
    assert cmd[:2] == [b"PEXPIREAT", b"k"]
    assert before + 100_000 <= int(cmd[2]) <= int(time.time() * 1000) + 100_000
    rec.run("PEXPIRE", "k", "500000", "GT")
    [cmd] = rec.take()
    assert cmd[0] == b"PEXPIREAT" and cmd[3:] == [b"GT"]
    rec.run("EXPIREAT", "k", "99999999999")
    assert rec.take() == [[b"PEXPIREAT", b"k", b"99999999999000"]]
    rec.run("PEXPIREAT", "k", "99999999999001", "XX")
    assert rec.take() == [[b"PEXPIREAT", b"k", b"99999999999001", b"XX"]]
    rec.run("EXPIRE", "k", "100", "NX")  # refused: nothing to propagate
    assert rec.take() == []
    rec.run("EXPIRE", "k", "-1")
    assert rec.take() == [[b"DEL", b"k"]]
    rec.run("SET", "k", "v")
    rec.take()
    rec.engine.config.set_text("lazyfree-lazy-expire", "yes")
    rec.run("PEXPIREAT", "k", "1")
    assert rec.take() == [[b"UNLINK", b"k"]]


def test_lazy_expiry_propagates_del():
    rec = _Recorder()
    rec.run("SET", "k", "v", "PX", "1")
    rec.take()
    time.sleep(0.01)
    assert rec.run("GET", "k") == b"$-1\r\n"
    # Only the deletion is propagated, never the read that caused it.
    assert rec.take() == [[b"DEL", b"k"]]
