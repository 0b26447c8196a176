"""The server's scripting engine: the EVAL script cache, function libraries, and running one
script or function as one execution unit.

`Scripting` owns two Lua sandboxes (one for EVAL scripts, one for function libraries, as
Redis keeps two Lua states), the script cache (sha1 -> compiled script) and the libraries.
`run()` executes a compiled Lua function for a client: KEYS/ARGV, a connectionless client
for `redis.call` (starting in the caller's database, RESP2 until `redis.setresp`), the
script flags (`no-writes`, the `_RO` commands), the time limit (busy state, SCRIPT KILL /
FUNCTION KILL from the Lua count hook) and the error texts Redis 7.0 replies with.

Effects: what the script's commands propagate is collected and emitted once at the end,
wrapped in MULTI/EXEC when there is more than one (Redis 7 replicates a script's effects,
never the script). `redis.set_repl(redis.REPL_NONE)` stops propagation of the commands that
follow; REPL_AOF and REPL_REPLICA are accepted and propagate to both, since one stream feeds
the AOF and replicas here.

Not here: the commands' syntax (commands/scripting.py, commands/functions.py), the sandbox
(sandbox.py) and the conversions (convert.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from keystream.commands.executor import execute, resolve
from keystream.commands.registry import COMMANDS
from keystream.commands.util import parse_int
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.parser import split_inline
from keystream.resp.values import raw_value
from keystream.resp.writer import Raw, encode_into
from keystream.scripting.convert import lua_to_reply, reply_to_lua
from keystream.scripting.sandbox import CompileError, Sandbox, ScriptError

if TYPE_CHECKING:
    from keystream.client import Client
    from keystream.commands.registry import Command
    from keystream.engine import Engine

log = logging.getLogger("keystream.scripting")

__all__ = ["SCRIPT_FLAGS", "Function", "Library", "RunState", "Script", "Scripting"]

# Shebang / register_function flags Redis 7.0 knows.
SCRIPT_FLAGS = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")
_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.WARNING)


@dataclass
class Script:
    sha: bytes
    body: bytes
    fn: Any
    flags: frozenset[str]
    compat: bool  # no shebang: Redis's EVAL compatibility mode


@dataclass
class Function:
    name: bytes
    fn: Any
    library: Library
    flags: frozenset[str]
    description: bytes | None


@dataclass
class Library:
    name: bytes
    code: bytes
    functions: dict[bytes, Function] = field(default_factory=dict)


@dataclass(slots=True)
class RunState:
    """The script or function running now."""

    caller: Client
    fake: Client
    sandbox: Sandbox
    name: bytes
    argv: list[bytes]
    is_eval: bool
    read_only: bool
    start: float
    resp: int = 2
    repl: int = 3
    wrote: bool = False
    allow_oom: bool = False
    ran_write: bool = False  # a write command ran (Redis's SCRIPT_WRITE_DIRTY for the OOM check)
    killed: bool = False
    busy: bool = False
    keys: list[bytes] = field(default_factory=list)


def shebang_flags(body: bytes) -> tuple[frozenset[str], bool]:
    """The flags of an EVAL script's `#!lua flags=...` line; (flags, compat) or raise."""
    if not body.startswith(b"#!"):
        return frozenset(), True
    end = body.find(b"\n")
    line = body[:end] if end >= 0 else body
    parts = split_inline(line)  # as Redis: sdssplitargs, so quotes group and unbalanced ones fail
    if not parts:
        raise CommandError(errors.LUA_SHEBANG_INVALID)
    if parts[0] != b"#!lua":
        raise CommandError(errors.LUA_SHEBANG_ENGINE.format(parts[0].decode("utf-8", "replace")))
    flags: set[str] = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise CommandError(errors.LUA_SHEBANG_OPTION.format(part.decode("utf-8", "replace")))
        for flag in part[6:].split(b",") if part[6:] else ():
            name = flag.decode("utf-8", "replace")
            if name not in SCRIPT_FLAGS:
                raise CommandError(errors.LUA_SHEBANG_FLAG.format(name))
            flags.add(name)
    return frozenset(flags), False


class Scripting:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.scripts: dict[bytes, Script] = {}
        # the engine's dict, which persistence reads (RDB FUNCTION2)
        self.libraries: dict[bytes, Library] = engine.function_libraries
        self.functions: dict[bytes, Function] = {}
        self.running: RunState | None = None
        self.fake = engine.fake_client()
        self.fake.flags.add("script")  # e.g. SORT BY nosort then orders a set's elements
        self.eval_lua = Sandbox(self, int.from_bytes(os.urandom(4), "little"))
        self.function_lua = Sandbox(self, int.from_bytes(os.urandom(4), "little"), functions=True)
        self._pending: Library | None = None  # the library FUNCTION LOAD is registering
        self._loading: float | None = None  # when that load started (it has 500 ms)

    # -- the script cache ------------------------------------------------------------
    def load_script(self, body: bytes) -> Script:
        """Compile body into the cache (if not there yet); raise CommandError if it cannot."""
        sha = hashlib.sha1(body).hexdigest().encode()
        script = self.scripts.get(sha)
        if script is not None:
            return script
        flags, compat = shebang_flags(body)
        source = body if compat else b"".join((b"--", body[2:]))
        try:
            fn = self.eval_lua.compile(source, b"@user_script")
        except CompileError as e:
            raise CommandError(errors.LUA_COMPILE_SCRIPT.format(e)) from None
        script = Script(sha, body, fn, flags, compat)
        self.scripts[sha] = script
        return script

    def flush_scripts(self) -> None:
        """SCRIPT FLUSH: forget every script and start a new Lua state, as Redis does."""
        self.scripts.clear()
        self.eval_lua = Sandbox(self, int.from_bytes(os.urandom(4), "little"))

    # -- function libraries -------------------------------------------------------------
    def load_library(self, code: bytes, replace: bool) -> bytes:
        """FUNCTION LOAD: compile and register a library; its name, or raise CommandError."""
        name = _library_name(code)
        old = self.libraries.get(name)
        if old is not None and not replace:
            raise CommandError(errors.LUA_LIBRARY_EXISTS_QUOTED.format(name.decode("utf-8", "replace")))
        library = self._build_library(name, code)
        for fname, function in library.functions.items():
            other = self.functions.get(fname)
            if other is not None and other.library is not old:
                raise CommandError(errors.LUA_FUNCTION_EXISTS.format(function.name.decode("utf-8", "replace")))
        if old is not None:
            self._remove_library(old)
        self._add_library(library)
        return name

    def _build_library(self, name: bytes, code: bytes) -> Library:
        sandbox = self.function_lua
        try:
            fn = sandbox.compile(b"".join((b"--", code[2:])), b"@user_function")
        except CompileError as e:
            raise CommandError(errors.LUA_COMPILE_FUNCTION.format(e)) from None
        library = Library(name, code)
        self._pending = library
        self._loading = time.monotonic()
        try:
            ok, res = sandbox.load_library(fn, self._register_function)
        finally:
            self._pending = None
            self._loading = None
        if not ok:
            err = res[b"err"]
            text = err.decode("utf-8", "replace") if type(err) is bytes else errors.LUA_UNKNOWN_ERROR
            raise CommandError(errors.LUA_REGISTERING_FUNCTIONS.format(text))
        if not library.functions:
            raise CommandError(errors.LUA_NO_FUNCTIONS_REGISTERED)
        return library

    def _add_library(self, library: Library) -> None:
        self.libraries[library.name] = library
        self.functions.update(library.functions)

    def _remove_library(self, library: Library) -> None:
        del self.libraries[library.name]
        for fname in library.functions:
            del self.functions[fname]

    def delete_library(self, name: bytes) -> None:
        library = self.libraries.get(name)
        if library is None:
            raise CommandError(errors.LUA_LIBRARY_NOT_FOUND)
        self._remove_library(library)

    def flush_functions(self) -> None:
        """FUNCTION FLUSH: forget every library and start a new Lua state for functions."""
        self.libraries.clear()
        self.functions.clear()
        self.function_lua = Sandbox(self, int.from_bytes(os.urandom(4), "little"), functions=True)

    def restore_libraries(self, codes: list[bytes], policy: bytes) -> None:
        """FUNCTION RESTORE with policy FLUSH, APPEND or REPLACE: all libraries or none."""
        built: list[Library] = []
        for code in codes:
            built.append(self._build_library(_library_name(code), code))
        if policy == b"flush":
            self.flush_functions()
            replaced: list[Library] = []
        else:
            replaced = []
            for library in built:
                old = self.libraries.get(library.name)
                if old is not None:
                    if policy == b"append":
                        raise CommandError(errors.LUA_LIBRARY_EXISTS.format(library.name.decode("utf-8", "replace")))
                    replaced.append(old)
        taken = {fname: f.library.name for fname, f in self.functions.items()
                 if all(f.library is not old for old in replaced)}
        for library in built:
            for fname, function in library.functions.items():
                if fname in taken:
                    raise CommandError(errors.LUA_FUNCTION_EXISTS.format(function.name.decode("utf-8", "replace")))
                taken[fname] = library.name
        for old in replaced:
            self._remove_library(old)
        for library in built:
            self._add_library(library)

    def _register_function(self, *args: Any) -> None:
        """redis.register_function(name, callback) or redis.register_function{...}."""
        library = self._pending
        if library is None:
            raise ScriptError(errors.LUA_REDIS_REGISTER_FUNCTION_CAN_ONLY)
        sandbox = self.function_lua
        flags: frozenset[str] = frozenset()
        description: bytes | None = None
        if len(args) == 1 and not sandbox.is_table(args[0]):
            raise ScriptError(errors.LUA_REGISTER_SINGLE_ARGUMENT)
        name: Any = None  # (a number is turned into its name below)
        callback: Any = None
        if len(args) == 1:
            for key, value in args[0].items():
                if key == b"function_name":
                    if type(value) is not bytes:
                        raise ScriptError(errors.LUA_FUNCTION_NAME_ARGUMENT_GIVEN_TO)
                    name = value
                elif key == b"callback":
                    if not sandbox.is_function(value):
                        raise ScriptError(errors.LUA_CALLBACK_ARGUMENT_GIVEN_TO_REDIS)
                    callback = value
                elif key == b"flags":
                    if not sandbox.is_table(value):
                        raise ScriptError(errors.LUA_REGISTER_FLAGS_NOT_TABLE)
                    flags = _function_flags(value)
                elif key == b"description":
                    if type(value) is not bytes and type(value) is not int and type(value) is not float:
                        raise ScriptError(errors.LUA_DESCRIPTION_ARGUMENT_GIVEN_TO_REDIS)
                    description = value if type(value) is bytes else b"%.14g" % float(value)
                else:
                    raise ScriptError(errors.LUA_UNKNOWN_ARGUMENT_GIVEN_TO_REDIS)
            if name is None:
                raise ScriptError(errors.LUA_REGISTER_NO_NAME)
            if callback is None:
                raise ScriptError(errors.LUA_REGISTER_NO_CALLBACK)
        elif len(args) == 2:
            name, callback = args
            if not sandbox.is_function(callback):
                raise ScriptError(errors.LUA_SECOND_ARGUMENT_TO_REDIS_REGISTER)
            if type(name) is int or type(name) is float:
                name = b"%.14g" % name
            if type(name) is not bytes:
                raise ScriptError(errors.LUA_FIRST_ARGUMENT_TO_REDIS_REGISTER)
        else:
            raise ScriptError(errors.LUA_WRONG_NUMBER_OF_ARGUMENTS_TO)
        if not _valid_name(name):
            raise ScriptError(errors.LUA_BAD_LIBRARY_NAME)
        if name.lower() in library.functions:
            raise ScriptError(errors.LUA_FUNCTION_ALREADY_EXISTS_IN_THE)
        # function names are case-insensitive (FCALL finds F1 as f1), as in Redis
        library.functions[name.lower()] = Function(name, callback, library, flags, description)

    def memory_info(self, human_bytes: Callable[[float], str]) -> list[str]:
        """INFO memory's scripting lines: the Lua states' sizes, the scripts and libraries
        (their source and names, with a fixed per-entry overhead standing for Redis's);
        human_bytes is INFO's bytesToHuman."""
        vm_eval = self.eval_lua.memory()
        vm_functions = self.function_lua.memory()
        scripts = sum(len(s.body) + len(s.sha) + _ENTRY_OVERHEAD for s in self.scripts.values())
        functions = _FUNCTIONS_BASE + sum(len(lib.code) + len(lib.name) + _ENTRY_OVERHEAD
                                          + sum(len(f) + _ENTRY_OVERHEAD for f in lib.functions)
                                          for lib in self.libraries.values())
        return [
            f"used_memory_lua:{vm_eval}",
            f"used_memory_vm_eval:{vm_eval}",
            f"used_memory_lua_human:{human_bytes(vm_eval)}",
            f"used_memory_scripts_eval:{scripts}",
            f"number_of_cached_scripts:{len(self.scripts)}",
            f"number_of_functions:{len(self.functions)}",
            f"number_of_libraries:{len(self.libraries)}",
            f"used_memory_vm_functions:{vm_functions}",
            f"used_memory_vm_total:{vm_eval + vm_functions}",
            f"used_memory_vm_total_human:{human_bytes(vm_eval + vm_functions)}",
            f"used_memory_functions:{functions}",
            f"used_memory_scripts:{scripts + functions}",
            f"used_memory_scripts_human:{human_bytes(scripts + functions)}",
        ]

    # -- running ----------------------------------------------------------------------
    def run(self, client: Client, fn: Any, name: bytes, flags: frozenset[str], compat: bool,
            is_eval: bool, ro_call: bool, argv: list[bytes], keys: list[bytes], args: list[bytes]) -> Any:
        """Run fn for client as one execution unit (ro_call: EVAL_RO, EVALSHA_RO or FCALL_RO);
        the reply value (a CommandError for an error)."""
        if flags:
            no_writes = "no-writes" in flags
            if not compat and ro_call and not no_writes:
                return CommandError(errors.LUA_CAN_NOT_EXECUTE_A_SCRIPT)
            allow_oom = "allow-oom" in flags
        else:
            no_writes = allow_oom = False
            if not compat and ro_call:
                return CommandError(errors.LUA_CAN_NOT_EXECUTE_A_SCRIPT)
        engine = self.engine
        if not compat and not no_writes and not allow_oom and engine.pre_command_oom and engine.config["maxmemory"]:
            return CommandError(errors.OOM)  # a script that may write is a denyoom command
        fake = self.fake
        fake.select(client.db_index)
        fake.proto = 2
        fake.multi = None
        sandbox = self.eval_lua if is_eval else self.function_lua
        state = RunState(client, fake, sandbox, name, argv, is_eval, ro_call or no_writes, time.monotonic(),
                         allow_oom=allow_oom, keys=keys)
        self.running = state
        engine.unit_depth += 1  # the script is one execution unit: EVAL's run emits its effects
        try:
            ok, res = (sandbox.run if is_eval else sandbox.run_with)(fn, len(keys), *keys, *args)
            if ok:
                t = type(res)
                reply = res if t is int or t is bytes else lua_to_reply(sandbox, res, state.resp)
            else:
                reply = self._error_reply(res, name)
        finally:
            engine.unit_depth -= 1
            self.running = None
        client.propagate_override = []  # the script's effects are propagated, not the EVAL/FCALL
        return reply

    @staticmethod
    def _error_reply(res: Any, name: bytes) -> CommandError:
        err = res[b"err"]
        text = err.decode("utf-8", "replace") if type(err) is bytes else errors.LUA_UNKNOWN_ERROR
        source, line = res[b"source"], res[b"line"]
        if source is not None:
            text = f"{text} script: {name.decode('utf-8', 'replace')}, on {source.decode('utf-8', 'replace')}:{line}."
        return CommandError(text, counted=res[b"ignore_error_stats_update"] is True)

    # -- the Host interface the sandboxes call back into --------------------------------
    def lua_call(self, *args: Any) -> Any:
        state = self.running
        if state is None:
            raise ScriptError(errors.LUA_REDIS_CALL_IS_NOT_ALLOWED)
        if not args:
            raise ScriptError(errors.LUA_PLEASE_SPECIFY_AT_LEAST_ONE)
        argv: list[bytes] = []
        for a in args:
            t = type(a)
            if t is bytes:
                argv.append(a)
            elif t is int or t is float:
                argv.append(lua_number_arg(a))
            else:
                raise ScriptError(errors.LUA_CALL_ARG_TYPE)
        engine = self.engine
        cmd = _SCRIPT_FAST.get(argv[0])
        if cmd is not None:
            arity = cmd.arity
            n = len(argv)
            if (arity > 0 and n != arity) or n < -arity:
                _refuse(engine, cmd, errors.LUA_WRONG_NUMBER_OF_ARGS_CALLING)
        else:
            cmd = _resolve_for_script(engine, argv)
        if cmd.noscript:
            _refuse(engine, cmd, errors.LUA_THIS_REDIS_COMMAND_IS_NOT)
        if cmd.is_write:
            if state.read_only:
                _refuse(engine, cmd, errors.LUA_WRITE_COMMANDS_ARE_NOT_ALLOWED)
            # MISCONF after a failed save or AOF write, as scriptVerifyWriteCommandAllow
            denied = engine.snapshots.write_denied()
            if denied is not None:
                _refuse(engine, cmd, denied)
        # Redis's scriptVerifyOOM: over maxmemory when the script started, its first write may
        # not be a denyoom command (later ones may: a script is not stopped half-way).
        if (cmd.denyoom and engine.pre_command_oom and not state.ran_write and not state.allow_oom
                and engine.config["maxmemory"]):
            _refuse(engine, cmd, errors.OOM)
        if cmd.is_write:
            state.ran_write = True
        fake = state.fake
        fake.proto = state.resp
        dirty = engine.dirty
        effects = len(engine.effects)
        fake.in_exec = True
        try:
            reply = engine.run(fake, cmd, argv)
        finally:
            fake.in_exec = False
        if engine.dirty != dirty:
            state.wrote = True
        if state.caller.tracking is not None and "readonly" in cmd.flags:
            engine.tracking.remember_keys(state.caller, state.keys)
        if not state.repl:  # redis.set_repl(redis.REPL_NONE): this command propagates nothing
            del engine.effects[effects:]
        t = type(reply)
        if t is int or t is bytes:
            return reply
        if t is Raw:
            reply = raw_value(reply)
        elif t is CommandError:
            raise ScriptError(reply.text, counted=True)  # engine.run counted it
        return reply_to_lua(state.sandbox, reply, state.resp)

    def lua_log(self, level: int, message: bytes) -> None:
        log.log(_LOG_LEVELS[level], "%s", message.decode("utf-8", "replace"))

    def lua_setresp(self, resp: int) -> None:
        if self.running is not None:
            self.running.resp = resp

    def lua_set_repl(self, flags: int) -> None:
        if self.running is not None:
            self.running.repl = flags

    def lua_acl_check_cmd(self, args: tuple[Any, ...]) -> bool:
        """Every command is allowed (there are no ACL users besides `default` yet)."""
        try:
            resolve([a if type(a) is bytes else b"%.14g" % a for a in args])
        except CommandError:
            raise ScriptError(errors.LUA_INVALID_COMMAND_PASSED_TO_REDIS) from None
        return True

    def lua_hook(self) -> bytes | None:
        """Every 100000 Lua instructions: past busy-reply-threshold, serve the other clients
        in the busy state (BUSY replies; SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE and the
        other allow_busy commands run); the error that stops a killed script."""
        state = self.running
        if state is None:
            return self._load_hook()
        if not state.busy:
            if (time.monotonic() - state.start) * 1000 < self.engine.config["busy-reply-threshold"]:
                return None
            state.busy = True
            log.warning("Slow script detected: still in execution after %d milliseconds. You can try "
                        "killing the script using the %s command.", int((time.monotonic() - state.start) * 1000),
                        "SCRIPT KILL" if state.is_eval else "FUNCTION KILL")
        serve_while_busy(self.engine, state)
        if state.killed:
            return errors.LUA_SCRIPT_KILLED.format("SCRIPT KILL" if state.is_eval else "FUNCTION KILL").encode()
        return None

    def _load_hook(self) -> bytes | None:
        loading = self._loading
        if loading is not None and time.monotonic() - loading > 0.5:
            return errors.LUA_FUNCTION_LOAD_TIMEOUT.encode()
        return None


def _valid_name(name: bytes) -> bool:
    return bool(name) and all(c == 95 or 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 for c in name)


def _function_flags(table: Any) -> frozenset[str]:
    flags = set()
    for value in table.values():
        name = value.decode("utf-8", "replace") if type(value) is bytes else ""
        if name not in SCRIPT_FLAGS:
            raise ScriptError(errors.LUA_UNKNOWN_FLAG_GIVEN)
        flags.add(name)
    return frozenset(flags)


def _library_name(code: bytes) -> bytes:
    """The name in a library's `#!lua name=...` line; raise CommandError as Redis does."""
    if not code.startswith(b"#!"):
        raise CommandError(errors.LUA_MISSING_LIBRARY_METADATA)
    end = code.find(b"\n")
    parts = split_inline(code[:end] if end >= 0 else code)
    if not parts:
        raise CommandError(errors.LUA_INVALID_LIBRARY_METADATA)
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise CommandError(errors.LUA_INVALID_METADATA_VALUE_NAME_ARGUMENT)
            name = part[5:]
        else:
            raise CommandError(errors.LUA_INVALID_METADATA_VALUE.format(part.decode("utf-8", "replace")))
    if name is None:
        raise CommandError(errors.LUA_LIBRARY_NAME_WAS_NOT_GIVEN)
    if engine.lower() != b"lua":
        raise CommandError(errors.LUA_ENGINE_NOT_FOUND.format(engine.decode("utf-8", "replace")))
    if not _valid_name(name):
        raise CommandError(errors.LUA_BAD_LIBRARY_NAME)
    return name


def lua_number_arg(n: float) -> bytes:
    """A Lua number as a command argument, formatted %.17g as Redis 7.0 does."""
    return b"%.17g" % n


def parse_numkeys(argv: list[bytes], error: str = errors.NOT_INTEGER) -> tuple[list[bytes], list[bytes]]:
    """KEYS and ARGV of `EVAL script numkeys key... arg...` (same for EVALSHA and FCALL)."""
    numkeys = parse_int(argv[2], error)
    if numkeys < 0:
        raise CommandError(errors.LUA_NEGATIVE_NUMKEYS)
    if numkeys > len(argv) - 3:
        raise CommandError(errors.LUA_NUMKEYS_TOO_BIG)
    return argv[3:3 + numkeys], argv[3 + numkeys:]


# INFO memory: what one cached script, library or function costs besides its text (Redis's
# dict entry and object headers), and the function registry's own size.
_ENTRY_OVERHEAD = 96
_FUNCTIONS_BASE = 200


# Exact command names seen in scripts -> Command, for commands without subcommands (as the
# executor's cache): a script's redis.call skips resolving them again. Bounded.
_SCRIPT_FAST: dict[bytes, Command] = {}


def _refuse(engine: Engine, cmd: Command | None, text: str) -> NoReturn:
    """A command the script may not run: counted as Redis's scriptCall counts it (a rejected
    call of the command, an error reply), then raised into the script as already counted."""
    if cmd is not None:
        cmd.rejected_calls += 1
    engine.count_error(text, rejected=True)
    raise ScriptError(text, counted=True)


def _named(argv: list[bytes]) -> Command | None:
    """The command or subcommand argv names, if there is one (for its rejected calls)."""
    cmd = COMMANDS.get(argv[0].lower())
    if cmd is not None and cmd.subcommands:
        return cmd.subcommands.get(argv[1].lower()) if len(argv) > 1 else None
    return cmd


def _resolve_for_script(engine: Engine, argv: list[bytes]) -> Command:
    """resolve(), with the errors Redis gives a script for an unknown command or bad arity."""
    try:
        cmd = resolve(argv)
    except CommandError as e:
        if e.text.startswith("ERR unknown command"):
            _refuse(engine, None, errors.LUA_UNKNOWN_REDIS_COMMAND_CALLED_FROM)
        if e.text.startswith("ERR wrong number of arguments"):
            _refuse(engine, _named(argv), errors.LUA_WRONG_NUMBER_OF_ARGS_CALLING)
        _refuse(engine, _named(argv), e.text)
    if cmd.container is None and not cmd.subcommands and len(_SCRIPT_FAST) < 4096:
        _SCRIPT_FAST[argv[0]] = cmd
    return cmd


def busy_error(state: RunState) -> str:
    """The BUSY reply other clients get while state's script runs past the threshold."""
    kill = "SCRIPT KILL" if state.is_eval else "FUNCTION KILL"
    return errors.LUA_BUSY.format(kill)


def serve_while_busy(engine: Engine, state: RunState) -> None:
    """Read what the other clients sent (a non-blocking poll of their sockets, the event
    loop being inside the script) and answer it as Redis does while a script is busy.

    Requests of a client that is blocked or has requests queued stay queued for later."""
    from keystream.resp.connection import RespProtocol

    conns: dict[int, RespProtocol] = {}
    for client in engine.clients.values():
        conn = client.conn
        if (client is not state.caller and isinstance(conn, RespProtocol) and not conn.closed
                and client.fd >= 0):
            conns[client.fd] = conn
    if not conns:
        return
    try:
        readable, _, _ = select.select(list(conns), [], [], 0)
    except (OSError, ValueError):
        return
    for fd in readable:
        conn = conns[fd]
        try:
            data = os.read(fd, 65536)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            conn.close()
            continue
        if not data:
            conn.close()
            continue
        parser = conn.parser
        owner = conn.client
        if parser is None or owner is None:
            continue
        cmds = parser.feed(data)
        if owner.blocked is not None or conn.pending:
            conn.pending.extend(cmds)
            continue
        out: list[bytes] = []
        for argv in cmds:
            _busy_command(state, owner, argv, out)
        if out:
            conn.write(b"".join(out))


def _busy_command(state: RunState, client: Client, argv: list[bytes], out: list[bytes]) -> None:
    try:
        cmd = resolve(argv)
    except CommandError as e:
        encode_into(out, e, client.proto)
        return
    flags = cmd.flags if cmd.container is None else cmd.flags | cmd.container.flags
    if client.engine.snapshots.loading and "loading" not in flags:  # a script replayed from the AOF
        encode_into(out, CommandError(errors.LOADING), client.proto)
        return
    if "allow_busy" not in flags:
        encode_into(out, CommandError(busy_error(state)), client.proto)
        return
    if cmd.name == "shutdown" and any(a.lower() == b"nosave" for a in argv[1:]):
        state.killed = True  # SHUTDOWN NOSAVE stops even a script that wrote
    execute(client, argv, out)
