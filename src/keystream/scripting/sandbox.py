"""One Lua 5.1 state (lupa's Lua 5.1 runtime) set up as Redis 7.0's scripting sandbox.

What scripts see is what Redis 7.0 gives them: the globals Redis allows (no `os`, `io`,
`print`, `loadfile`, `dofile`, `debug`, `getfenv`, `setfenv`, `newproxy`, `require`), the
`string math table coroutine` libraries, the bundled `cjson cmsgpack bit struct`, the `redis`
API table and `KEYS`/`ARGV`. The globals and every library table are read-only: assigning one
fails with "Attempt to modify a readonly table", reading a global that does not exist fails
with "Script attempted to access nonexistent global variable 'x'", as Redis's patched Lua does.

How: stock Lua has no read-only tables, so each protected table is an empty proxy whose
metatable reads through to the real table and refuses writes; `rawset`, `rawget`, `next`,
`pairs`, `getmetatable` and `setmetatable` are wrapped so the proxies cannot be bypassed, and
`loadstring`/`load` give the chunks they compile the sandbox's globals.
`pcall` turns an error table into its `err` string, as Redis 7.0's does.

`redis.call`/`pcall` are Lua wrappers around the Python functions (so 7000+ arguments can go
over in one table: lupa's call of a Python object takes one of Lua 5.1's 8000 C stack slots);
so that `return redis.call(...)` keeps the script's frame for error positions, as Redis's C
function does, compiled scripts have their tail calls made ordinary calls (`_no_tail_calls`):
a script recursing through tail calls more than Lua's 20000 call levels fails here.

Not here: what redis.call does (the `Host` given to the sandbox does it) and reply conversion
(convert.py). Library implementations are in keystream.scripting.libs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Protocol

from lupa import lua51

from keystream import REDIS_VERSION
from keystream.resp import errors
from keystream.scripting.libs import install_libraries

__all__ = ["CompileError", "Host", "Sandbox", "ScriptError"]

# Where our own Lua frames come from: the error handler skips them when it looks for the line
# of the user's code that failed.
_INTERNAL = "=keystream"

_BOOT = r"""
local py, version, version_num, for_functions = ...
local G = _G
local setfenv, getfenv, debug = G.setfenv, G.getfenv, G.debug
local rawset, rawget, next, type, error, tostring = G.rawset, G.rawget, G.next, G.type, G.error, G.tostring
local setmetatable, getmetatable, pcall, select = G.setmetatable, G.getmetatable, G.pcall, G.select

local describe = py.describe_error
local getinfo = debug.getinfo
local INTERNAL = py.internal
local READONLY_TABLE, NO_GLOBAL = py.readonly_table, py.no_global
local H = {}                                  -- the real globals
local real_of = setmetatable({}, {__mode = 'k'})  -- read-only proxy -> real table
local shown_meta = setmetatable({}, {__mode = 'k'})  -- proxy -> what getmetatable shows

local function ro_error() error(READONLY_TABLE, 2) end

local function readonly(real, shown)
  local p = {}
  real_of[p] = real
  shown_meta[p] = shown or false
  return setmetatable(p, {__index = real, __newindex = ro_error, __metatable = false})
end

local function missing_global(t, k)
  error(NO_GLOBAL .. "'" .. tostring(k) .. "'", 2)
end

for _, name in G.ipairs({'xpcall', 'tostring', 'next', 'assert', 'tonumber', 'rawequal',
    'collectgarbage', 'type', 'select', 'unpack', 'gcinfo', 'ipairs', '_VERSION', 'error'}) do
  H[name] = G[name]
end
H.pairs = function(t)
  local real = real_of[t]
  if real then return next, real, nil end
  return G.pairs(t)
end
H.next = function(t, k) return next(real_of[t] or t, k) end
H.rawget = function(t, k) return rawget(real_of[t] or t, k) end
H.rawset = function(t, k, v)
  if real_of[t] then error(READONLY_TABLE, 0) end
  return rawset(t, k, v)
end
H.setmetatable = function(t, m)
  if real_of[t] then error(READONLY_TABLE, 0) end
  return setmetatable(t, m)
end
H.getmetatable = function(t)
  local shown = shown_meta[t]
  if shown ~= nil then return shown or nil end
  return getmetatable(t)
end
H.pcall = function(f, ...)
  return (function(ok, ...)
    if ok then return true, ... end
    local e = ...
    if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then
      e = e.err
    elseif type(e) == 'userdata' then
      local _, text = describe(e)
      e = text
    end
    return false, e
  end)(pcall(f, ...))
end
"""

_BOOT += r"""
-- math.random / randomseed: Redis's own PRNG (lrand48), the same sequence on every system.
local math_real = {}
for k, v in next, G.math do math_real[k] = v end
local rand, seed = py.rand, py.seed
local floor = G.math.floor
math_real.random = function(...)
  local n = select('#', ...)
  local r = rand()
  if n == 0 then return r end
  local l, u
  if n == 1 then
    l, u = 1, G.tonumber((...))
    if u == nil then error("bad argument #1 to 'random' (number expected, got " .. type((...)) .. ")", 2) end
    u = floor(u)
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
  elseif n == 2 then
    local a, b = ...
    l, u = G.tonumber(a), G.tonumber(b)
    if l == nil then error("bad argument #1 to 'random' (number expected, got " .. type(a) .. ")", 2) end
    if u == nil then error("bad argument #2 to 'random' (number expected, got " .. type(b) .. ")", 2) end
    l, u = floor(l), floor(u)
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
  else
    error('wrong number of arguments', 2)
  end
  return floor(r * (u - l + 1)) + l
end
math_real.randomseed = function(s)
  local n = G.tonumber(s)
  if n == nil then error("bad argument #1 to 'randomseed' (number expected, got " .. type(s) .. ")", 2) end
  seed(floor(n))
end

local string_proxy = readonly(G.string)
H.string = string_proxy
H.math = readonly(math_real)
H.table = readonly(G.table)
H.coroutine = readonly(G.coroutine)
-- library functions are Python functions (C functions to Lua)
for name, lib in next, py.libs do H[name] = readonly(lib) end

-- the string metatable's __index is the (read-only) string library, and the metatable is hidden
local smt = getmetatable('')
smt.__index = string_proxy
smt.__metatable = readonly({__index = string_proxy})

-- the redis API: Python functions (C functions to Lua, so `return redis.call(...)` keeps
-- the caller's frame for the error handler, as Redis's C functions do)
local R = {}
for k, v in next, py.api do R[k] = v end
-- redis.call/pcall with more arguments than a C function's stack takes with the Python object
-- lupa puts first (Lua 5.1's 8000 slots): the arguments go to Python in one table.
local MANY_ARGS, py_call, py_pcall, py_call_table = 7000, R.call, R.pcall, py.call_table
R.call = function(...)
  if select('#', ...) < MANY_ARGS then return py_call(...) end
  return py_call_table(false, {...})
end
R.pcall = function(...)
  if select('#', ...) < MANY_ARGS then return py_pcall(...) end
  return py_call_table(true, {...})
end
if not for_functions then  -- functions' redis table has no debugger hooks
  R.replicate_commands = function() return true end
  R.breakpoint = function() return false end
  R.debug = function() end
end
R.REDIS_VERSION = version
R.REDIS_VERSION_NUM = version_num
R.LOG_DEBUG, R.LOG_VERBOSE, R.LOG_NOTICE, R.LOG_WARNING = 0, 1, 2, 3
R.REPL_NONE, R.REPL_AOF, R.REPL_SLAVE, R.REPL_REPLICA, R.REPL_ALL = 0, 1, 2, 2, 3
local redis_api = R
H.redis = readonly(R)

-- the error handler: a table {err=, source=, line=} naming the user's line that failed
local function err_handler(e)
  local lvl, info = 2, nil
  while true do
    info = getinfo(lvl, 'Sl')  -- S gives source and short_src
    if info == nil or (info.what ~= 'C' and info.source ~= INTERNAL) then break end
    lvl = lvl + 1
  end
  local t
  if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then
    t = {err = e.err, ignore_error_stats_update = rawget(e, 'ignore_error_stats_update')}
  elseif type(e) == 'userdata' then  -- raised by the Python side
    local verbatim, text, counted = describe(e)
    if verbatim then  -- the redis API: the whole error text
      t = {err = text, ignore_error_stats_update = counted or nil}
    else  -- a library: positioned as luaL_error would
      t = {err = 'ERR ' .. (info and (info.short_src .. ':' .. info.currentline .. ': ') or '') .. text}
    end
  else
    t = {err = 'ERR ' .. tostring(e), plain = true}
  end
  if info then t.source, t.line = info.source, info.currentline end
  return t
end
H.__redis__err__handler = err_handler

local P = setmetatable({}, {__index = H, __newindex = ro_error, __metatable = false})
real_of[P] = H
shown_meta[P] = readonly({__index = missing_global, __newindex = ro_error})
H._G = P
setmetatable(H, {__index = missing_global})

-- chunks compiled by scripts run in the sandbox too
local loadstring, load = G.loadstring, G.load
local byte = G.string.byte
H.loadstring = function(s, ...)
  if type(s) == 'string' and byte(s, 1) == 27 then
    -- Redis's Lua parses every chunk as text: precompiled code fails as it does there
    local name = ...
    return loadstring(' ' .. s, name or s)
  end
  local f, e = loadstring(s, ...)
  if f then setfenv(f, P) end
  return f, e
end
H.load = function(...)
  local f, e = load(...)
  if f then setfenv(f, P) end
  return f, e
end

-- compile / run
local xpcall = G.xpcall
local dump, no_tail_calls = G.string.dump, py.no_tail_calls
local function compile(body, chunkname)
  local f, err = loadstring(body, chunkname)
  if not f then return nil, err end
  f = loadstring(no_tail_calls(dump(f)))
  setfenv(f, P)
  return f, nil
end

-- The busy/kill hook stays installed (every HOOK_COUNT instructions: py.hook answers at once
-- when no script runs); after a kill it runs at every line until the script has ended.
local sethook, hook = debug.sethook, py.hook
local HOOK_COUNT = 100000
local line_mode = false
local function on_hook()
  local where = getinfo(2, 'S')
  if where and where.source == INTERNAL then return end  -- never raise outside xpcall
  local kill = hook()
  if kill then
    -- from now on fail at every line, so a pcall in the script cannot swallow the kill
    line_mode = true
    sethook(on_hook, 'l')
    error({err = kill}, 0)
  end
end
sethook(on_hook, '', HOOK_COUNT)

-- As Redis: a garbage collection step every GC_PERIOD runs keeps the state small.
local collectgarbage, GC_PERIOD, runs = G.collectgarbage, 50, 0
local function finish(ok, res)
  runs = runs + 1
  if runs == GC_PERIOD then
    runs = 0
    collectgarbage('step', GC_PERIOD)
  end
  if line_mode then
    line_mode = false
    sethook(on_hook, '', HOOK_COUNT)
  end
  return ok, res
end

local function run(f, nkeys, ...)
  local keys, argv = {}, {}
  local n = select('#', ...)
  for i = 1, nkeys do keys[i] = (select(i, ...)) end
  for i = nkeys + 1, n do argv[i - nkeys] = (select(i, ...)) end
  rawset(H, 'KEYS', keys)
  rawset(H, 'ARGV', argv)
  return finish(xpcall(f, err_handler))
end

-- run f(keys, args) (library functions get keys and args as their parameters)
local function run_with(f, nkeys, ...)
  local keys, argv = {}, {}
  local n = select('#', ...)
  for i = 1, nkeys do keys[i] = (select(i, ...)) end
  for i = nkeys + 1, n do argv[i - nkeys] = (select(i, ...)) end
  return finish(xpcall(function() return f(keys, argv) end, err_handler))
end

-- FUNCTION LOAD: run a library's code where the only global is `redis`, with only
-- register_function, log and the version and log-level constants (as Redis's library API: any
-- other name is a missing global), under the load time limit (py.hook). Its functions then
-- run with every global and the whole API.
local LIBRARY_API = {'log', 'LOG_DEBUG', 'LOG_VERBOSE', 'LOG_NOTICE', 'LOG_WARNING', 'REDIS_VERSION',
                     'REDIS_VERSION_NUM'}
local function load_library(f, register)
  local LR = {register_function = register}
  for _, k in G.ipairs(LIBRARY_API) do LR[k] = R[k] end
  setmetatable(LR, {__index = missing_global})
  local LG = {redis = readonly(LR)}
  local LP = setmetatable({}, {__index = LG, __newindex = ro_error, __metatable = false})
  setmetatable(LG, {__index = missing_global})
  real_of[LP] = LG
  shown_meta[LP] = shown_meta[P]
  setfenv(f, LP)
  local ok, res = finish(xpcall(f, err_handler))
  for k, v in next, H do LG[k] = v end
  LG._G = LP
  return ok, res
end

local function is_table(v) return type(v) == 'table' end
local function is_function(v) return type(v) == 'function' end

return {compile = compile, run = run, run_with = run_with, load_library = load_library,
        globals = H, newtable = function() return {} end, is_table = is_table, rawget = rawget,
        is_function = is_function, redis = redis_api}
"""


class CompileError(Exception):
    """A script or library that Lua could not compile; the text is Lua's message."""


class ScriptError(Exception):
    """Raised by the `redis` API into Lua: its text is the whole error reply (`ERR ...`).

    `counted`: the error statistics already count it (a command the script ran failed, or
    was refused): the script's own error reply, if it is this error, is not counted again."""

    def __init__(self, text: str, counted: bool = False) -> None:
        super().__init__(text)
        self.counted = counted


class Host(Protocol):
    """What the sandbox's `redis` API calls back into (the scripting engine)."""

    def lua_call(self, *args: Any) -> Any:
        """Run a command for the running script's redis.call/pcall: its Lua value (made by
        that script's sandbox), or raise ScriptError."""

    def lua_log(self, level: int, message: bytes) -> None: ...
    def lua_setresp(self, resp: int) -> None: ...
    def lua_set_repl(self, flags: int) -> None: ...
    def lua_hook(self) -> bytes | None: ...
    def lua_acl_check_cmd(self, args: tuple[Any, ...]) -> bool: ...
class _Rand48:
    """Redis's math.random generator (rand.c): lrand48's 48-bit linear congruence."""

    __slots__ = ("x",)

    def __init__(self, seed: int) -> None:
        self.x = 0
        self.seed(seed)

    def seed(self, value: int) -> None:
        self.x = ((int(value) & 0xFFFFFFFF) << 16) | 0x330E

    def random(self) -> float:
        self.x = (0x5DEECE66D * self.x + 0xB) & 0xFFFFFFFFFFFF
        return ((self.x >> 17) % 0x7FFFFFFF) / 0x7FFFFFFF


def _version_num(version: str) -> int:
    major, minor, patch = (int(p) for p in version.split("."))
    return (major << 16) | (minor << 8) | patch


class Sandbox:
    """A Lua state in Redis's sandbox, bound to a Host."""

    def __init__(self, host: Host, seed: int, functions: bool = False) -> None:
        self.lua = lua51.LuaRuntime(encoding=None, register_eval=False, register_builtins=False,
                                    unpack_returned_tuples=True)
        rand = _Rand48(seed)
        libs = install_libraries(self.lua)
        self.host = host
        api = {
            b"call": host.lua_call, b"pcall": self._pcall, b"error_reply": self._error_reply,
            b"status_reply": self._status_reply, b"sha1hex": _sha1hex, b"log": self._log,
            b"setresp": self._setresp, b"set_repl": self._set_repl,
            b"acl_check_cmd": self._acl_check_cmd,
        }
        py = self.lua.table_from({
            b"api": self.lua.table_from(api),
            b"hook": host.lua_hook,
            b"rand": rand.random,
            b"seed": rand.seed,
            b"internal": _INTERNAL.encode(),
            b"readonly_table": errors.LUA_READONLY_TABLE.encode(),
            b"no_global": errors.LUA_NONEXISTENT_GLOBAL.encode(),
            b"describe_error": _describe_error,
            b"libs": self.lua.table_from(libs),
            b"no_tail_calls": _no_tail_calls,
            b"call_table": self._call_table,
        })
        loader = self.lua.eval(f"function(code) local f, e = loadstring(code, {_INTERNAL!r}) return f, e end")
        chunk, err = loader(_BOOT.encode())
        if chunk is None:  # a bug in _BOOT
            raise RuntimeError(err.decode())
        api = chunk(py, REDIS_VERSION.encode(), _version_num(REDIS_VERSION), functions)
        self._compile: Callable[..., Any] = api[b"compile"]
        self.run: Callable[..., Any] = api[b"run"]
        self.run_with: Callable[..., Any] = api[b"run_with"]
        self.load_library: Callable[..., Any] = api[b"load_library"]
        self.newtable: Callable[[], Any] = api[b"newtable"]
        self.is_table: Callable[[Any], bool] = api[b"is_table"]
        self.rawget: Callable[[Any, Any], Any] = api[b"rawget"]
        self.is_function: Callable[[Any], bool] = api[b"is_function"]
        self.table_from = self.lua.table_from
        self._gc_count: Callable[[], float] = self.lua.eval("function() return collectgarbage('count') end")
        self.lua.execute("collectgarbage('collect')")  # start from what the state really holds

    def memory(self) -> int:
        """Bytes the Lua state uses (INFO memory's used_memory_vm_*)."""
        return int(self._gc_count() * 1024)

    def compile(self, body: bytes, chunkname: bytes) -> Any:
        """The Lua function of body, or raise CompileError with Lua's message."""
        fn, err = self._compile(body, chunkname)
        if fn is None:
            raise CompileError(err.decode("utf-8", "replace"))
        return fn

    # -- the redis API --------------------------------------------------------------------
    def _pcall(self, *args: Any) -> Any:
        if not args:
            return self.table_from({b"err": errors.LUA_PLEASE_SPECIFY_AT_LEAST_ONE.encode()})
        try:
            return self.host.lua_call(*args)
        except ScriptError as e:
            if e.counted:  # as Redis: the script may see the mark, its reply is not counted again
                return self.table_from({b"err": str(e).encode(), b"ignore_error_stats_update": True})
            return self.table_from({b"err": str(e).encode()})

    def _call_table(self, protected: bool, args: Any) -> Any:
        values = tuple(args[i] for i in range(1, len(args) + 1))
        return self._pcall(*values) if protected else self.host.lua_call(*values)

    def _error_reply(self, *args: Any) -> Any:
        if len(args) != 1 or type(args[0]) is not bytes:
            return self.table_from({b"err": errors.LUA_WRONG_NUMBER_OR_TYPE.encode()})
        # Redis's luaPushErrorBuff: "-CODE msg" keeps its code, a text without a space
        # gets ERR; the message loses leading and trailing CR/LF.
        text = args[0][1:] if args[0].startswith(b"-") else args[0]
        code, sep, msg = text.partition(b" ")
        if not sep:
            code, msg = b"ERR", text
        return self.table_from({b"err": code + b" " + msg.strip(b"\r\n")})

    def _status_reply(self, *args: Any) -> Any:
        if len(args) != 1 or type(args[0]) is not bytes:
            return self.table_from({b"err": errors.LUA_WRONG_NUMBER_OR_TYPE.encode()})
        return self.table_from({b"ok": args[0]})

    def _log(self, *args: Any) -> None:
        if len(args) < 2:
            raise ScriptError(errors.LUA_REDIS_LOG_REQUIRES_TWO_ARGUMENTS)
        level = args[0]
        if type(level) is not int and type(level) is not float:
            raise ScriptError(errors.LUA_FIRST_ARGUMENT_MUST_BE_A)
        if not 0 <= level <= 3:
            raise ScriptError(errors.LUA_INVALID_DEBUG_LEVEL)
        parts = [a if type(a) is bytes else b"%.14g" % float(a) for a in args[1:]
                 if type(a) is bytes or type(a) is int or type(a) is float]
        self.host.lua_log(int(level), b" ".join(parts))

    def _setresp(self, *args: Any) -> None:
        if len(args) != 1:
            raise ScriptError(errors.LUA_REDIS_SETRESP_REQUIRES_ONE_ARGUMENT)
        if args[0] not in (2, 3) or type(args[0]) is bool:
            raise ScriptError(errors.LUA_RESP_VERSION_MUST_BE_2)
        self.host.lua_setresp(int(args[0]))

    def _set_repl(self, *args: Any) -> None:
        if len(args) != 1:
            raise ScriptError(errors.LUA_REDIS_SET_REPL_REQUIRES_ONE)
        if args[0] not in (0, 1, 2, 3) or type(args[0]) is bool:
            raise ScriptError(errors.LUA_INVALID_REPLICATION_FLAGS_USE_REPL)
        self.host.lua_set_repl(int(args[0]))

    def _acl_check_cmd(self, *args: Any) -> bool:
        if not args:
            raise ScriptError(errors.LUA_PLEASE_SPECIFY_AT_LEAST_ONE)
        return self.host.lua_acl_check_cmd(args)


def _describe_error(e: Any) -> tuple[bool, bytes, bool]:
    """(raised by the redis API, text, already counted) for a Python exception raised into Lua."""
    if isinstance(e, ScriptError):
        return True, str(e).encode(), e.counted
    return False, str(e).encode(), False


# Lua 5.1 bytecode (string.dump of this build: little-endian, 4-byte int, 8-byte size_t,
# 4-byte instructions, 8-byte numbers): the opcodes in an instruction's low 6 bits.
_OP_CALL, _OP_TAILCALL = 28, 29


def _no_tail_calls(chunk: bytes) -> bytes:
    """A compiled chunk with each `return f(...)` tail call made an ordinary call followed by
    its RETURN (which the compiler emits after every TAILCALL). As Redis's C functions,
    redis.call then keeps the calling script's frame, so its errors name the script's line."""
    out = bytearray(chunk)
    if out[:12] != b"\x1bLua\x51\x00\x01\x04\x08\x04\x08\x00":
        raise RuntimeError("unexpected Lua bytecode header")
    _patch_function(out, 12)
    return bytes(out)


def _patch_function(b: bytearray, pos: int) -> int:
    """Patch the function prototype at pos (and those nested in it); where it ends."""
    pos = _skip_string(b, pos) + 8 + 4  # source; linedefined, lastlinedefined; 4 bytes
    n = int.from_bytes(b[pos:pos + 4], "little")
    pos += 4
    for at in range(pos, pos + 4 * n, 4):
        if b[at] & 0x3F == _OP_TAILCALL:
            b[at] = (b[at] & 0xC0) | _OP_CALL
    pos += 4 * n
    n = int.from_bytes(b[pos:pos + 4], "little")
    pos += 4
    for _ in range(n):  # constants
        kind = b[pos]
        pos += 1
        if kind == 1:  # boolean
            pos += 1
        elif kind == 3:  # number
            pos += 8
        elif kind == 4:  # string
            pos = _skip_string(b, pos)
    n = int.from_bytes(b[pos:pos + 4], "little")
    pos += 4
    for _ in range(n):
        pos = _patch_function(b, pos)
    n = int.from_bytes(b[pos:pos + 4], "little")  # line info
    pos += 4 + 4 * n
    n = int.from_bytes(b[pos:pos + 4], "little")  # local variables
    pos += 4
    for _ in range(n):
        pos = _skip_string(b, pos) + 8
    n = int.from_bytes(b[pos:pos + 4], "little")  # upvalue names
    pos += 4
    for _ in range(n):
        pos = _skip_string(b, pos)
    return pos


def _skip_string(b: bytearray, pos: int) -> int:
    return pos + 8 + int.from_bytes(b[pos:pos + 8], "little")


def _sha1hex(*args: Any) -> bytes:
    if len(args) != 1:
        raise ScriptError(errors.LUA_WRONG_NUMBER_OF_ARGUMENTS)
    s = args[0]
    if type(s) is int or type(s) is float:
        s = b"%.14g" % s
    elif type(s) is not bytes:
        s = b""
    return hashlib.sha1(s).hexdigest().encode()
