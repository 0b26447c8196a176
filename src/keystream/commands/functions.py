"""Redis Functions (functions.c): FUNCTION LOAD|DELETE|LIST|DUMP|RESTORE|FLUSH|STATS|KILL|HELP,
FCALL and FCALL_RO.

Redis 7.0 semantics: libraries are Lua code starting `#!lua name=<lib>` that register their
functions with `redis.register_function` (flags: no-writes, allow-oom, allow-stale, no-cluster,
allow-cross-slot-keys); FCALL runs one as one execution unit (keystream.scripting.runner).
FUNCTION DUMP/RESTORE payloads are Redis 7.0's (keystream.scripting.payload), so a dump from
Redis restores here and ours restores in Redis.

Differences: FUNCTION LIST gives libraries and their functions in the order they were loaded
(Redis: its dict's order, which is unspecified).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, container, keynum_spec
from keystream.commands.scripting import kill_running
from keystream.keyspace.glob import stringmatch
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK, SetReply, Status
from keystream.scripting.payload import PayloadError, dump_libraries, load_libraries
from keystream.scripting.runner import busy_error, parse_numkeys

if TYPE_CHECKING:
    from keystream.client import Client

container("function", "scripting", "A container for function commands", "7.0.0")

_RW_NOTE = "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"
_RO_NOTE = "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"
_FLAGS = "noscript stale skip_monitor no_mandatory_keys movablekeys"


def _fcall_keys(argv: list[bytes]) -> list[int]:
    try:
        n = int(argv[2])
    except ValueError:
        return []
    if n <= 0 or n > len(argv) - 3:
        return []
    return list(range(3, 3 + n))


def _fcall(client: Client, argv: list[bytes], ro_call: bool) -> Any:
    scripting = client.engine.scripting
    function = scripting.functions.get(argv[1].lower())
    if function is None:
        raise CommandError(errors.LUA_FUNCTION_NOT_FOUND)
    keys, args = parse_numkeys(argv, errors.LUA_FCALL_BAD_NUMKEYS)
    return scripting.run(client, function.fn, function.name, function.flags, False, False, ro_call,
                         argv, keys, args)


@command("fcall", -3, _FLAGS, acl="scripting", group="scripting", get_keys=_fcall_keys,
         summary="Invoke a function", since="7.0.0",
         complexity="Depends on the function that is executed.",
         key_specs=(keynum_spec(2, "RW", "access", "update", notes=_RW_NOTE),),
         args="function numkeys:int [key...] [arg...]")
def fcall_command(client: Client, argv: list[bytes]) -> Any:
    """FCALL function numkeys [key [key ...]] [arg [arg ...]]"""
    return _fcall(client, argv, False)


@command("fcall_ro", -3, "readonly " + _FLAGS, acl="scripting -read", group="scripting",
         get_keys=_fcall_keys, summary="Invoke a read-only function", since="7.0.0",
         complexity="Depends on the function that is executed.",
         key_specs=(keynum_spec(2, "RO", "access", notes=_RO_NOTE),),
         args="function numkeys:int [key...] [arg...]")
def fcall_ro_command(client: Client, argv: list[bytes]) -> Any:
    """FCALL_RO function numkeys [key [key ...]] [arg [arg ...]]"""
    return _fcall(client, argv, True)


@command("function|load", -3, "write denyoom noscript", acl="scripting", group="scripting",
         summary="Create a function with the given arguments (name, code, description)",
         since="7.0.0", complexity="O(1) (considering compilation time is redundant)",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"),
         args="[REPLACE] function-code")
def function_load_command(client: Client, argv: list[bytes]) -> Any:
    """FUNCTION LOAD [REPLACE] function-code"""
    replace = False
    for option in argv[2:-1]:
        if option.lower() == b"replace":
            replace = True
        else:
            raise CommandError(errors.LUA_FUNCTION_LOAD_UNKNOWN_OPTION.format(option.decode("utf-8", "replace")))
    name = client.engine.scripting.load_library(argv[-1], replace)
    client.engine.dirty += 1
    return name


@command("function|delete", 3, "write noscript", acl="scripting", group="scripting",
         summary="Delete a function by name", since="7.0.0",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"), args="library-name")
def function_delete_command(client: Client, argv: list[bytes]) -> Any:
    """FUNCTION DELETE library-name"""
    client.engine.scripting.delete_library(argv[2])
    client.engine.dirty += 1
    return OK


@command("function|flush", -2, "write noscript", acl="scripting", group="scripting",
         summary="Deleting all functions", since="7.0.0",
         complexity="O(N) where N is the number of functions deleted",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"),
         args="async=[ASYNC | SYNC]")
def function_flush_command(client: Client, argv: list[bytes]) -> Any:
    """FUNCTION FLUSH [ASYNC | SYNC]"""
    if len(argv) == 3:
        if argv[2].lower() not in (b"async", b"sync"):
            raise CommandError(errors.LUA_FUNCTION_FLUSH_ONLY_SUPPORTS_SYNC)
    elif len(argv) > 3:
        raise CommandError(errors.subcommand_syntax(argv[1], "function"))
    client.engine.scripting.flush_functions()
    client.engine.dirty += 1
    return OK


@command("function|list", -2, "noscript", acl="scripting", group="scripting",
         summary="List information about all the functions", since="7.0.0",
         complexity="O(N) where N is the number of functions",
         tips=("nondeterministic_output_order",),
         args="[LIBRARYNAME library-name-pattern] [WITHCODE]")
def function_list_command(client: Client, argv: list[bytes]) -> Any:
    """FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]"""
    pattern: bytes | None = None
    with_code = False
    i = 2
    while i < len(argv):
        option = argv[i].lower()
        if option == b"withcode" and not with_code:
            with_code = True
        elif option == b"libraryname" and pattern is None:
            if i + 1 >= len(argv):
                raise CommandError(errors.LUA_LIBRARY_NAME_ARGUMENT_WAS_NOT)
            i += 1
            pattern = argv[i]
        else:
            raise CommandError(errors.LUA_FUNCTION_UNKNOWN_ARGUMENT.format(argv[i].decode("utf-8", "replace")))
        i += 1
    out = []
    for library in client.engine.scripting.libraries.values():
        if pattern is not None and not stringmatch(pattern, library.name):
            continue
        functions = [{b"name": f.name, b"description": f.description,
                      b"flags": SetReply(flag.encode() for flag in sorted(f.flags))}
                     for f in library.functions.values()]
        entry = {b"library_name": library.name, b"engine": b"LUA", b"functions": functions}
        if with_code:
            entry[b"library_code"] = library.code
        out.append(entry)
    return out


@command("function|dump", 2, "noscript", acl="scripting", group="scripting",
         summary="Dump all functions into a serialized binary payload", since="7.0.0",
         complexity="O(N) where N is the number of functions")
def function_dump_command(client: Client, argv: list[bytes]) -> Any:
    """FUNCTION DUMP"""
    return dump_libraries([lib.code for lib in client.engine.scripting.libraries.values()])


@command("function|restore", -3, "write denyoom noscript", acl="scripting", group="scripting",
         summary="Restore all the functions on the given payload", since="7.0.0",
         complexity="O(N) where N is the number of functions on the payload",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"),
         args="serialized-value [policy=(FLUSH | APPEND | REPLACE)]")
def function_restore_command(client: Client, argv: list[bytes]) -> Any:
    """FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]"""
    policy = b"append"
    if len(argv) > 4:
        raise CommandError(errors.LUA_FUNCTION_RESTORE_ARITY)
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in (b"flush", b"append", b"replace"):
            raise CommandError(errors.LUA_WRONG_RESTORE_POLICY_GIVEN_VALUE)
    try:
        codes = load_libraries(argv[2])
    except PayloadError as e:
        raise CommandError(str(e)) from None
    client.engine.scripting.restore_libraries(codes, policy)
    client.engine.dirty += 1
    return OK


@command("function|stats", 2, "noscript allow_busy", acl="scripting", group="scripting",
         summary="Return information about the function currently running (name, description, "
                 "duration)", since="7.0.0",
         tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"))
def function_stats_command(client: Client, argv: list[bytes]) -> Any:
    """FUNCTION STATS"""
    scripting = client.engine.scripting
    state = scripting.running
    running = None
    if state is not None and state.is_eval:
        raise CommandError(busy_error(state))
    if state is not None:
        running = {b"name": state.name, b"command": list(state.argv),
                   b"duration_ms": int((time.monotonic() - state.start) * 1000)}
    return {b"running_script": running,
            b"engines": {b"LUA": {b"libraries_count": len(scripting.libraries),
                                  b"functions_count": len(scripting.functions)}}}


@command("function|kill", 2, "noscript allow_busy", acl="scripting", group="scripting",
         summary="Kill the function currently in execution.", since="7.0.0",
         tips=("request_policy:all_shards", "response_policy:one_succeeded"))
def function_kill_command(client: Client, argv: list[bytes]) -> Any:
    """FUNCTION KILL"""
    return kill_running(client, is_eval=False)


_HELP = [
    b'FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    b'LOAD [REPLACE] <FUNCTION CODE>',
    b'    Create a new library with the given library name and code.',
    b'DELETE <LIBRARY NAME>',
    b'    Delete the given library.',
    b'LIST [LIBRARYNAME PATTERN] [WITHCODE]',
    b'    Return general information on all the libraries:',
    b'    * Library name',
    b'    * The engine used to run the Library',
    b'    * Library description',
    b'    * Functions list',
    b'    * Library code (if WITHCODE is given)',
    b'    It also possible to get only function that matches a pattern using LIBRARYNAME argument.',
    b'STATS',
    b'    Return information about the current function running:',
    b'    * Function name',
    b'    * Command used to run the function',
    b'    * Duration in MS that the function is running',
    b'    If no function is running, return nil',
    b'    In addition, returns a list of available engines.',
    b'KILL',
    b'    Kill the current running function.',
    b'FLUSH [ASYNC|SYNC]',
    b'    Delete all the libraries.',
    b'    When called without the optional mode argument, the behavior is determined by the',
    b'    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
    b'    * ASYNC: Asynchronously flush the libraries.',
    b'    * SYNC: Synchronously flush the libraries.',
    b'DUMP',
    b'    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command',
    b'RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]',
    b'    Restore the libraries represented by the given payload, it is possible to give a restore policy to',
    b'    control how to handle existing libraries (default APPEND):',
    b'    * FLUSH: delete all existing libraries.',
    b'    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.',
    b'    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old',
    b'      libraries with the new libraries (notice that even on this option there is a chance of failure',
    b'      in case of functions name collision with another library).',
    b'HELP',
    b'    Prints this help.',
]


@command("function|help", 2, "loading stale", acl="scripting", group="scripting",
         summary="Show helpful text about the different subcommands", since="7.0.0")
def function_help_command(client: Client, argv: list[bytes]) -> Any:
    """FUNCTION HELP"""
    return [Status(line) for line in _HELP]
