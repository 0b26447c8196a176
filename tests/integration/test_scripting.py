"""Scripting and functions against real Redis 7.0: EVAL's conversions both ways (RESP2 and
RESP3), error texts and `@user_script` frames, the sandbox, the bundled libraries, SCRIPT and
FUNCTION commands, FUNCTION DUMP payloads in both directions, the effects a script propagates
(compared with the AOF redis-server writes), and redis-py's register_script and Lock."""

from __future__ import annotations

import threading

import pytest
import redis

from tests.conftest import start_keystream, wait_until
from tests.differential import Pair, RawClient
from tests.integration.test_propagation import _AofReader, _Recorder, _same_effects

SCRIPTS = [
    "return cjson.encode({1,2,3,'a',{x=1}})",
    'return cjson.encode({})',
    'return cjson.encode({[1]=1,[3]=3})',
    'return cjson.encode({[1]=1,[20]=3})',
    'return cjson.encode({a={b={c=1.5}}, d=true, e=cjson.null})',
    'return cjson.encode(\'a/b"c\\\\\\n\\t\\1\\127é\')',
    'return cjson.encode(0.1)',
    'return cjson.encode(1e20)',
    'return cjson.encode(123456789012345)',
    'return cjson.encode(1/0)',
    'return cjson.encode(function() end)',
    'return cjson.encode({[true]=1})',
    'return cjson.encode(nil)',
    'return cjson.encode()',
    'return cjson.encode({[1.5]=1})',
    'return cjson.encode({[1]=1, a=2})',
    'local t = cjson.decode(\'[1,2,{"a":null,"b":[true,false]},"x\\\\u00e9\\\\/"]\'); return {t[1], t[3].b[1], type(t[3].a), t[4], tostring(t[3].a == cjson.null)}',
    "return cjson.decode('{')",
    "return cjson.decode('[1,]')",
    "return cjson.decode('x')",
    "return cjson.decode('1e400')",
    "return tostring(cjson.decode('0.1'))",
    'return cjson.decode(\'"abc\')',
    'return cjson._NAME .. cjson._VERSION',
    'return {cjson.encode_sparse_array()}',
    "return cjson.decode('[1]  x')",
    'return cjson.decode()',
    'return cjson.decode(5)',
    'return type(cjson.decode(\'{"1":2}\')[\'1\'])',
    'return cjson.encode({a=1,b=2,c=3})',
    'local t = {} t[1] = t return cjson.encode(t)',
    "return cjson.encode({foo='bar', baz={1,2}, q={x='y'}})",
    "return cmsgpack.pack(1, -1, 200, -200, 70000, -70000, 5000000000, -5000000000, 1.5, 0.1, 'abc', true, false, nil)",
    "return cmsgpack.pack({1,2,3}, {a=1}, {}, {[1]=1,[3]=3}, string.rep('x', 40))",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2,{x=1.5}}, true))}",
    'return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3))}',
    'return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 1)}',
    'return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2)}',
    'return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 2)}',
    'return cmsgpack.pack()',
    'return cmsgpack.unpack()',
    'return cmsgpack.pack(function() end)',
    'return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}',
    'return cmsgpack.pack(1e300)',
    'return cmsgpack.pack(-0.5)',
    'return cmsgpack.pack(2^53)',
    'return cmsgpack.pack(2^64)',
    'return cmsgpack.pack(-2^63)',
    'local t = {} t[1] = t return cmsgpack.pack(t)',
    'return cmsgpack.pack(0/0)',
    "return cmsgpack.pack(string.rep('x', 300))",
    'return cmsgpack.pack(-32, -33, 127, 128, 255, 256, 65535, 65536)',
    'return cmsgpack.pack({1,nil,3})',
    'return cmsgpack.pack({[0]=1})',
    "return struct.pack('>I2', 258)",
    "return struct.pack('<i', -2)",
    "return struct.pack('bBhHlLT', -1, 255, -2, 65535, -3, 4, 5)",
    "return struct.pack('c3', 'abcdef')",
    "return struct.pack('c0', 'abc')",
    "return struct.pack('s', 'ab')",
    "return struct.pack('fd', 1.5, 2.5)",
    "return struct.pack('!4 b i', 1, 2)",
    "return struct.pack('x b', 1)",
    "return {struct.unpack('>I2', 'ab')}",
    "return {struct.unpack('<i2 c2 s', '\\1\\0xyab\\0z')}",
    "return {struct.unpack('b', 'ab', 2)}",
    "return struct.size('>I4 c3 d')",
    "return struct.pack('q', 1)",
    "return struct.pack('i17', 1)",
    "return {struct.unpack('i', 'ab')}",
    "return struct.pack('i', 'x')",
    "return struct.pack('I1', 300)",
    "return {struct.unpack('c0 c0', '\\3abcdef')}",
    "return {struct.unpack('B c0', '\\3abcdef')}",
    "return struct.size('s')",
    'return {bit.tobit(0xffffffff), bit.tobit(2^32+5), bit.bnot(0), bit.band(0xff, 0x0f, 0x3), bit.bor(1,2,4), bit.bxor(5,3)}',
    'return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 12), bit.ror(0x12345678, 12), bit.bswap(0x12345678)}',
    'return {bit.tohex(255), bit.tohex(-1, -4), bit.tohex(0x1234abcd, 3), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5)}',
    'return bit.band()',
    "return bit.band('x')",
    "return {math.floor(2.5), string.format('%5.2f', 3.14159), string.rep('ab', 3), table.concat({1,2,3}, '-')}",
    'return cjson.decode(\'"a\\\\qb"\')',
    'return cjson.decode(\'"a\\\\u12"\')',
    'return cjson.decode(\'{"a":1,}\')',
    'return cjson.decode(\'{"a" 1}\')',
    "return cjson.decode('[1 2]')",
    "return cjson.decode('tru')",
    'return cjson.encode(cjson.decode(\'{"a":[1,2,{"b":null}],"c":"\\\\ud83d\\\\ude00"}\'))',
    "return cjson.encode({1, 'x', {}, 2.5, 1e-10, 12345678901234567890})",
    "return cjson.decode('[-1.5e3, 0.5, -0, 100]')",
    'return string.rep()',
    'return tostring()',
    "error('x', 0)",
    'local x = nil; return x.y',
    'local ok, e = pcall(cjson.encode, function() end); return e',
    'return redis.setresp()',
    'return redis.status_reply()',
    'return redis.error_reply(1)',
    'return redis.pcall()',
    'return redis.call()',
    'return redis.sha1hex(1,2)',
    'return redis.log()',
    "return {redis.call('ping')}",
    "return {redis.call('setnx', 'zz', 1), redis.call('getrange', 'zz', 0, 0)}",
    "return redis.call('del', 'zz')",
    "return {redis.call('rpush', 'l', 'a', 'b', 'c'), redis.call('lrange', 'l', 0, -1), redis.call('lpop', 'nokey'), redis.call('del', 'l')}",
    "return {redis.call('hset', 'h', 'a', '1', 'b', '2'), redis.call('hgetall', 'h'), redis.call('del', 'h')}",
    "redis.setresp(3); return {redis.call('hset', 'h', 'a', '1'), redis.call('hgetall', 'h'), redis.call('del', 'h')}",
    "redis.setresp(3); local r = redis.call('hgetall', 'nokey'); return type(r.map)",
    "redis.setresp(3); return redis.call('get', 'nokey') == nil",
    "redis.setresp(2); return redis.call('get', 'nokey') == false",
    "return redis.call('zadd', 'z', 1.5, 'a')",
    "redis.setresp(3); return {redis.call('zscore', 'z', 'a')['double'], redis.call('del', 'z')}",
    "return {redis.call('zadd', 'z', 1.5, 'a'), redis.call('zscore', 'z', 'a'), redis.call('zrange', 'z', 0, -1, 'withscores'), redis.call('del', 'z')}",
    "redis.setresp(3); return {redis.call('sadd', 's', 'a'), redis.call('smembers', 's'), redis.call('del', 's')}",
    "redis.setresp(3); local s = redis.call('smembers', 'nokey'); return type(s.set)",
    "return redis.call('set', 'k', 'v', 'get')",
    "return {redis.call('set', 'k', 'v'), redis.call('type', 'k'), redis.call('del', 'k')}",
    "return redis.call('type', 'nokey')['ok']",
    "return {1, 2, {3, 'x', {ok='o'}}, -5.9}",
    'return {double=3.5}',
    'return {map={a=1}}',
    'return {set={a=true}}',
    "return {big_number='123'}",
    'redis.setresp(3); return {true, false}',
    'redis.setresp(3); return true',
    'return true',
    'return false',
    'return nil',
    'return {false}',
    'return {1, false, 3}',
    'return function() end',
    'return {err=5}',
    "return redis.call('object', 'freq', 'x')",
    "return redis.call('client', 'list')",
    "return redis.call('select', 1)",
    "local t = {} for i=1,100 do t[i] = redis.call('incr', 'cnt') end return {#t, redis.call('del', 'cnt')}",
    "return {1,2,3.5,'a',{ok='x'},{err='y'},false,true,nil,5}",
    'a=1',
    'return a',
    'return os',
    "return redis.call('nosuch')",
    "return redis.pcall('nosuch')",
    "return redis.call('incr', 'x')",
    "error('boom')",
    "error({err='X boom'})",
    "local ok, e = pcall(redis.call, 'incr', 's'); return {tostring(ok), type(e)}",
    "return redis.sha1hex('')",
    'setmetatable(_G, nil)',
    "rawset(_G,'x',1)",
    "return loadstring('x=1')()",
    "local t={} for k,v in pairs(_G) do t[#t+1]=k..':'..type(v) end table.sort(t) return t",
    "return redis.call('get')",
    "return redis.call('eval','return 1','0')",
    'local g = getmetatable(_G); g.__index = {}',
    'return bit.band(7, 3)',
    'return bit.band()',
    "return redis.call('set','a',1.5)\n",
    "return redis.error_reply('')", "return redis.error_reply('-')", "return redis.error_reply('X')",
    "return redis.error_reply('-X y')", "return redis.error_reply('x y\\r\\n')",
    "return redis.error_reply('-\\r\\nX y')", "return redis.error_reply('X').err",
    "return loadstring(string.dump(function() return 1 end))()",
    "local f, e = loadstring(string.dump(function() return 1 end)) return e",
    "local f, e = loadstring(string.dump(function() return 1 end), 'named') return e",
    "return redis.pcall('xread','BLOCK',0,'STREAMS','s','$')",
    "return redis.pcall('XREADGROUP','group','g','c','BLOCK','x','STREAMS','s','>')",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_eval_matches_redis(pair: Pair, script: str) -> None:
    pair.run("EVAL", script, "0")


@pytest.mark.parametrize("args", [
    ("EVAL", "return 1", "-1"), ("EVAL", "return 1", "2", "a"), ("EVAL", "return 1", "x"),
    ("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"), ("EVALSHA", "return 1", "0"),
    ("EVAL", "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", "2", "a", "b", "c", "d"),
    ("EVAL", "x x", "0"), ("SCRIPT", "LOAD", "x x"), ("SCRIPT", "FLUSH", "x"), ("SCRIPT", "KILL"),
    ("SCRIPT", "LOAD", "return 1"),
    ("SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "x"),
    ("EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"),
    ("EVAL_RO", "return redis.call('set','a','b')", "1", "a"),
    ("EVAL_RO", "return redis.call('get','a')", "1", "a"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set','a','b')", "1", "a"),
    ("EVAL", "#!lua flags=bad\nreturn 1", "0"), ("EVAL", "#!luax\nreturn 1", "0"),
    ("EVAL", "#!lua foo=bar\nreturn 1", "0"), ("EVAL", "#!lua\nerror('x')", "0"),
    ("EVAL", "#!lua flags=\nreturn 1", "0"), ("EVAL", "#!lua name=x\nreturn 1", "0"),
    ("EVAL_RO", "#!lua\nreturn 1", "0"), ("EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"),
    ("EVAL", "#!lua flags=no-writes,\nreturn 1", "0"), ("EVAL", "#!lua flags=,no-writes\nreturn 1", "0"),
    ("EVAL", "#!lua \"flags=no-writes\"\nreturn 1", "0"), ("EVAL", "#!lua flags=\"no-writes\nreturn 1", "0"),
    ("EVAL", "#!\"lua\" \nreturn 1", "0"), ("EVAL", "#!lua FLAGS=no-writes\nreturn 1", "0"),
])
def test_eval_commands_match_redis(pair: Pair, args) -> None:
    pair.run(*args)


LIBRARY = """#!lua name=mylib
redis.register_function('f1', function(keys, args) return redis.call('incr', keys[1]) end)
redis.register_function{function_name='f2', callback=function(keys, args) error('boom') end,
  flags={'no-writes'}, description='desc'}
redis.register_function('f3', function(keys, args) return {keys[1], args[1]} end)"""


def _libraries(reply):
    """FUNCTION LIST with libraries and their functions sorted (Redis gives its dicts' order)."""
    if not isinstance(reply, list):
        return reply
    out = []
    for lib in reply:
        entry = dict(lib) if isinstance(lib, dict) else dict(zip(lib[::2], lib[1::2], strict=True))
        entry[b"functions"] = sorted(repr(f) for f in entry[b"functions"])
        out.append(repr(sorted(entry.items())))
    return sorted(out)


def _same_list(pair: Pair, *args: str) -> None:
    got, want = pair.both("FUNCTION", "LIST", *args)
    assert _libraries(got) == _libraries(want)


@pytest.mark.parametrize("args", [
    ("FCALL", "f1", "1", "cnt"), ("FCALL", "f2", "0"), ("FCALL", "f3", "1", "k", "v"),
    ("FCALL_RO", "f1", "1", "cnt"), ("FCALL_RO", "f2", "0"), ("FCALL", "nosuch", "0"),
    ("FCALL", "f1", "-1"), ("FCALL", "f1", "5", "a"), ("FCALL", "f1", "x"),
    ("FUNCTION", "LIST", "LIBRARYNAME", "nomatch"), ("FUNCTION", "LIST", "LIBRARYNAME"),
    ("FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"), ("FUNCTION", "LIST", "foo"),
    ("FUNCTION", "STATS"), ("FUNCTION", "HELP"), ("FUNCTION", "KILL"),
    ("FUNCTION", "LOAD", LIBRARY), ("FUNCTION", "LOAD", "return 1"), ("FUNCTION", "LOAD", "replace"),
    ("FUNCTION", "LOAD", "foo", "bar"),
    ("FUNCTION", "LOAD", "#!lua name=l2\nlocal x = 1"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.call('ping')"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.register_function('f1', function() end)"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.register_function('b@d', function() end)"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.register_function('ok', 'notfn')"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.register_function{function_name='ok', callback=function() end, flags={'bad'}}"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.register_function{function_name='ok', callback=function() end, foo=1}"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.register_function()"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.register_function(1, 2)"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.register_function({})"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.register_function({function_name='a'})"),
    ("FUNCTION", "LOAD", ("#!lua name=l3\nredis.register_function('g', function() end); "
                         "redis.register_function('g', function() end)")),
    ("FUNCTION", "LOAD", "#!lua name=l3 x=y\n"), ("FUNCTION", "LOAD", "#!lua\n"),
    ("FUNCTION", "LOAD", "#!lua name=b@d\n"), ("FUNCTION", "LOAD", "#!foo name=l3\n"),
    ("FUNCTION", "LOAD", "#!lua name=l3\na = 1"), ("FUNCTION", "LOAD", "#!lua name=l3\nreturn x"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nx x"),
    ("FUNCTION", "DELETE", "nosuch"), ("FUNCTION", "RESTORE", "xx"), ("FUNCTION", "RESTORE", "xx", "bad"),
    ("FUNCTION", "FLUSH", "x"), ("FUNCTION", "FLUSH", "a", "b"),
    # at load time the only global is `redis`, with only register_function, log and constants
    ("FUNCTION", "LOAD", "#!lua name=l3\nreturn math.random()"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nmt = getmetatable(_G)"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nlocal g = _G"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.sha1hex('x')"),
    ("FUNCTION", "LOAD", "#!lua name=l3\nredis.error_reply('x')"),
    ("FUNCTION", "LOAD", ("#!lua name=l3\nredis.log(redis.LOG_NOTICE, redis.REDIS_VERSION)\n"
                         "redis.register_function('g', function() return math.floor(2.5) end)")),
    ("FUNCTION", "LOAD", "#!lua name=\"foo\"\nredis.register_function('g', function() return 1 end)"),
    ("FUNCTION", "LOAD", "#!lua NAME=up\nredis.register_function('g', function() return 1 end)"),
    ("FUNCTION", "LOAD", "#!lua name=\"foo\nredis.register_function('g', function() return 1 end)"),
    ("FUNCTION", "LOAD", "#!lua name='a b'\nredis.register_function('g', function() return 1 end)"),
])
def test_functions_match_redis(pair: Pair, args) -> None:
    pair.both("FUNCTION", "FLUSH")
    pair.run("FUNCTION", "LOAD", LIBRARY)
    pair.run(*args)
    if args[0] == "FCALL":
        pair.run("GET", "cnt")
    _same_list(pair, "WITHCODE")
    _same_list(pair, "LIBRARYNAME", "my*")


def test_function_list_delete_and_replace(pair: Pair) -> None:
    pair.both("FUNCTION", "FLUSH")
    pair.run("FUNCTION", "LOAD", "#!lua name=a\nredis.register_function('fa', function() return 1 end)")
    pair.run("FUNCTION", "LOAD", "REPLACE", "#!lua name=a\nredis.register_function('fb', function() return 2 end)")
    pair.run("FCALL", "fa", "0")
    pair.run("FCALL", "fb", "0")
    _same_list(pair)
    pair.run("FUNCTION", "DELETE", "a")
    _same_list(pair)
    pair.run("FUNCTION", "STATS")


def test_function_dump_restores_across_servers(pair: Pair) -> None:
    """A payload Redis wrote (LZF-compressed) restores here, and ours restores in Redis."""
    pair.both("FUNCTION", "FLUSH")
    pair.run("FUNCTION", "LOAD", LIBRARY)
    theirs = pair.ref.call("FUNCTION", "DUMP")
    ours = pair.ks.call("FUNCTION", "DUMP")
    for policy in ("APPEND", "REPLACE", "FLUSH"):
        pair.run("FUNCTION", "RESTORE", theirs, policy)
    pair.both("FUNCTION", "FLUSH")
    assert pair.ks.call("FUNCTION", "RESTORE", theirs) == b"OK"
    assert pair.ref.call("FUNCTION", "RESTORE", ours) == b"OK"
    _same_list(pair, "WITHCODE")
    pair.run("FCALL", "f1", "1", "c")
    pair.run("FUNCTION", "RESTORE", ours[:-1] + b"x")


def test_select_inside_script_does_not_change_caller_db(pair: Pair) -> None:
    pair.run("EVAL", "redis.call('select', 3); return redis.call('set', 'k', 'v')", "0")
    pair.run("GET", "k")
    pair.run("SELECT", "3")
    pair.run("GET", "k")


def _error_stats(client, *commands: str) -> tuple[str, list[str]]:
    """INFO errorstats, and the calls/rejected_calls/failed_calls of the named commands."""
    errorstats = client.call("INFO", "errorstats").decode()
    counts = []
    for line in client.call("INFO", "commandstats").decode().splitlines():
        name = line.partition(":")[0].removeprefix("cmdstat_")
        if name in commands:
            fields = dict(f.split("=") for f in line.partition(":")[2].split(","))
            counts.append(f"{name} {fields['calls']} {fields['rejected_calls']} {fields['failed_calls']}")
    return errorstats, sorted(counts)


@pytest.mark.parametrize("maxmemory, command", [
    # a command refused inside the script: counted once, as a rejected call of that command
    ("1", ("EVAL", "return redis.call('set','x','y')", "1", "x")),
    ("1", ("EVAL", "local t = redis.pcall('set','x','y') return t['err']", "1", "x")),
    ("1", ("EVAL", "return redis.pcall('set','x','y')", "1", "x")),
    ("0", ("EVAL_RO", "return redis.call('set','x','y')", "1", "x")),
    ("0", ("EVAL", "return redis.call('nosuchcommand')", "0")),
    ("0", ("EVAL", "return redis.call('get')", "0")),
    # a command failing inside the script: counted once, as a failed call of it and of EVAL
    ("0", ("EVAL", "return redis.call('select',99)", "0")),
    ("0", ("EVAL", "local t = redis.pcall('select',99) return t['err']", "0")),
    ("0", ("EVAL", "local t = redis.pcall('select',99) error(t)", "0")),
    # the script's own errors: counted once, as EVAL's
    ("0", ("EVAL", "return redis.error_reply('MY_ERR custom')", "0")),
    ("0", ("EVAL", "error('boom')", "0")),
])
def test_errors_inside_scripts_counted_once_as_redis(pair: Pair, maxmemory: str, command) -> None:
    for client in (pair.ks, pair.ref):
        client.call("CONFIG", "SET", "maxmemory", maxmemory)
        client.call("CONFIG", "RESETSTAT")
    try:
        pair.run(*command)
        names = ("set", "select", "get", "eval", "eval_ro")
        assert _error_stats(pair.ks, *names) == _error_stats(pair.ref, *names)
    finally:
        for client in (pair.ks, pair.ref):
            client.call("CONFIG", "SET", "maxmemory", "0")


@pytest.fixture(scope="module")
def aof():
    reader = _AofReader()
    yield reader
    reader.close()


@pytest.mark.parametrize("args", [
    ("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "k", "v"),
    ("EVAL", "redis.call('set', 'a', 1); redis.call('incrbyfloat', 'a', 1.5); return 1", "0"),
    ("EVAL", "return redis.call('get', 'a')", "0"),
    ("EVAL", ("redis.call('select', 2); redis.call('set', 'x', 1); redis.call('select', 0); "
             "redis.call('set', 'y', 1)"), "0"),
    ("EVAL", "redis.call('set', 'p', 1); redis.set_repl(redis.REPL_NONE); redis.call('set', 'q', 1)", "0"),
    ("EVAL", "redis.call('rpush', 'l', 1, 2); return redis.pcall('incr', 'l')", "0"),
    ("EVAL", "redis.call('sadd', 's', 'a'); return redis.call('spop', 's')", "0"),
])
def test_script_effects_match_redis_aof(aof, args) -> None:
    recorder = _Recorder()
    want = aof.run(*args)
    got = recorder.run(*args)
    assert _same_effects(got, want), f"{args}: keystream {got} != redis {want}"


def test_redis_py_register_script_and_lock(keystream_server) -> None:
    r = redis.Redis(host="127.0.0.1", port=keystream_server.port)
    r.flushall()
    r.script_flush()
    incr_by = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    assert incr_by(keys=["n"], args=[5]) == 5
    assert incr_by(keys=["n"], args=[2]) == 7
    lock = r.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    assert not r.lock("resource", timeout=10).acquire(blocking=False)
    lock.extend(5)
    assert 10 < r.pttl("resource") <= 15000
    lock.release()
    assert r.get("resource") is None
    assert lock.acquire(blocking=False)
    stranger = r.lock("resource")
    stranger.local.token = b"not-the-owner"
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        stranger.release()
    lock.release()
    r.close()


def _run_in_thread(port: int, *args: str) -> tuple[threading.Thread, list]:
    result: list = []

    def target() -> None:
        c = RawClient(port)
        try:
            result.append(c.call(*args))
        except ConnectionError as e:
            result.append(e)
        finally:
            c.close()

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, result


BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."


def _wait_busy(other: RawClient, reply: str) -> None:
    def busy() -> bool:
        got = other.call("GET", "x")
        return got == ("ERR", reply)
    wait_until(busy, timeout=20, what="BUSY replies")


def test_busy_script_is_killed_and_others_get_busy(keystream_server) -> None:
    """Past busy-reply-threshold other clients get BUSY; FUNCTION KILL is refused during an
    EVAL; SCRIPT KILL stops it; the server serves again."""
    port = keystream_server.port
    other = RawClient(port)
    other.call("CONFIG", "SET", "busy-reply-threshold", "100")
    try:
        t, result = _run_in_thread(port, "EVAL", "local i = 0 while true do i = i + 1 end", "0")
        _wait_busy(other, BUSY_EVAL)
        assert other.call("FUNCTION", "KILL") == ("ERR", BUSY_EVAL)
        assert other.call("FUNCTION", "STATS") == ("ERR", BUSY_EVAL)
        assert other.call("SCRIPT", "KILL") == b"OK"
        t.join(20)
        assert result[0][1].startswith("ERR Script killed by user with SCRIPT KILL... script: ")
        assert other.call("PING") == b"PONG"
        assert other.call("SCRIPT", "KILL") == ("ERR", "NOTBUSY No scripts in execution right now.")
        other.call("FUNCTION", "LOAD", "REPLACE", "#!lua name=spin\n"
                   "redis.register_function('spin', function() while true do end end)")
        t, result = _run_in_thread(port, "FCALL", "spin", "0")
        _wait_busy(other, BUSY_EVAL.replace("SCRIPT KILL", "FUNCTION KILL"))
        assert other.call("FUNCTION", "KILL") == b"OK"
        t.join(20)
        assert result[0][1].startswith("ERR Script killed by user with FUNCTION KILL...")
    finally:
        other.call("CONFIG", "SET", "busy-reply-threshold", "5000")
        other.close()


def test_script_that_wrote_is_unkillable_until_shutdown_nosave() -> None:
    handle = start_keystream("--busy-reply-threshold", "100")
    try:
        other = RawClient(handle.port)
        t, _ = _run_in_thread(handle.port, "EVAL", "redis.call('set', 'x', 1) while true do end", "0")
        wait_until(lambda: other.call("PING") == ("ERR", BUSY_EVAL), timeout=20, what="BUSY")
        assert other.call("SCRIPT", "KILL")[1].startswith("UNKILLABLE Sorry the script already executed")
        other.send("SHUTDOWN", "NOSAVE")
        assert handle.proc.wait(timeout=20) == 0
        t.join(20)
        other.close()
    finally:
        handle.stop()


def test_info_memory_counts_scripts_and_functions(r) -> None:
    r.script_flush()
    r.function_flush()
    for j in range(5):
        r.script_load(f"return {j}")
    r.function_load("#!lua name=memlib\nredis.register_function('f1', function() return 1 end)\n"
                    "redis.register_function('f2', function() return 2 end)")
    info = r.info("memory")
    assert info["number_of_cached_scripts"] == 5
    assert info["number_of_functions"] == 2 and info["number_of_libraries"] == 1
    assert info["used_memory_vm_eval"] == info["used_memory_lua"] > 0
    assert info["used_memory_vm_total"] == info["used_memory_vm_eval"] + info["used_memory_vm_functions"]
    assert info["used_memory_scripts"] == info["used_memory_scripts_eval"] + info["used_memory_functions"]
    r.script_flush("ASYNC")
    r.function_flush()
    info = r.info("memory")
    assert info["number_of_cached_scripts"] == 0 and info["number_of_functions"] == 0


def _as_dict(reply):
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))


def test_script_debug_is_not_advertised(pair: Pair) -> None:
    """SCRIPT DEBUG (the Lua debugger) is not implemented: nothing lists it. SCRIPT HELP is
    Redis's without the DEBUG entry."""
    got, want = pair.both("SCRIPT", "HELP")
    assert want[1:3] == [b"DEBUG (YES|SYNC|NO)", b"    Set the debug mode for subsequent scripts executed."]
    assert got == want[:1] + want[3:]
    assert pair.ks.call("COMMAND", "INFO", "script|debug") == [None]
    got, want = pair.both("COMMAND", "DOCS", "script")
    subcommands = _as_dict(_as_dict(got[b"script"] if isinstance(got, dict) else got[1])[b"subcommands"])
    reference = _as_dict(_as_dict(want[b"script"] if isinstance(want, dict) else want[1])[b"subcommands"])
    assert sorted(subcommands) == sorted(name for name in reference if name != b"script|debug")
    got, _ = pair.both("SCRIPT", "DEBUG", "YES")
    assert "unknown subcommand 'DEBUG'" in str(got)


@pytest.mark.parametrize("script", [
    # as many arguments as Lua 5.1's unpack gives (a C function's 8000 stack slots)
    "local a = {} for i=1,7999 do a[i]=1 end return redis.call('lpush', KEYS[1], unpack(a))",
    "local a = {} for i=1,7999 do a[i]=1 end return redis.pcall('lpush', KEYS[1], unpack(a))",
    "local a = {} for i=1,7997 do a[i]='x' end return redis.call('rpush', KEYS[1], 'y', unpack(a))",
    # a tail call keeps the script's line in the error, as Redis's C redis.call does
    "\n\nreturn redis.call('nosuchcommand')",
    "local function f(n) if n == 0 then return redis.call('get') end return f(n - 1) end\nreturn f(50)",
])
def test_redis_call_argument_limit_and_tail_calls(pair: Pair, script: str) -> None:
    pair.run("DEL", "biglist")
    pair.run("EVAL", script, "1", "biglist")
    pair.run("LLEN", "biglist")
