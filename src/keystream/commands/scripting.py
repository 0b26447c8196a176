"""EVAL scripts (eval.c): EVAL EVALSHA EVAL_RO EVALSHA_RO, SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP.

Redis 7.0 semantics: scripts are Lua 5.1 in Redis's sandbox (keystream.scripting), cached by
the SHA1 of their body (EVAL caches too, so EVALSHA works after it), with `#!lua flags=...`
shebang flags. A script's effects are propagated, never the script.

Not registered: SCRIPT DEBUG (the Lua debugger); SCRIPT HELP, COMMAND INFO and COMMAND DOCS do
not list it either (Redis's SCRIPT HELP does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, container, keynum_spec
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK, Status
from keystream.scripting.runner import busy_error, parse_numkeys

if TYPE_CHECKING:
    from keystream.client import Client

container("script", "scripting", "A container for Lua scripts management commands", "2.6.0")

def _eval_keys(argv: list[bytes]) -> list[int]:
    try:
        n = int(argv[2])
    except ValueError:
        return []
    if n <= 0 or n > len(argv) - 3:
        return []
    return list(range(3, 3 + n))


_RW_NOTE = "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"
_RO_NOTE = "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"
_FLAGS = "noscript stale skip_monitor no_mandatory_keys movablekeys"


def _run_script(client: Client, argv: list[bytes], body: bytes | None, ro_call: bool) -> Any:
    scripting = client.engine.scripting
    keys, args = parse_numkeys(argv)
    if body is None:
        script = scripting.scripts.get(argv[1].lower())
        if script is None:
            raise CommandError(errors.LUA_NOSCRIPT)
    else:
        script = scripting.load_script(body)
    return scripting.run(client, script.fn, script.sha, script.flags, script.compat, True, ro_call,
                          argv, keys, args)


@command("eval", -3, _FLAGS, acl="scripting", group="scripting", get_keys=_eval_keys,
         summary="Execute a Lua script server side", since="2.6.0",
         complexity="Depends on the script that is executed.",
         key_specs=(keynum_spec(2, "RW", "access", "update", notes=_RW_NOTE),),
         args="script numkeys:int [key...] [arg...]")
def eval_command(client: Client, argv: list[bytes]) -> Any:
    """EVAL script numkeys [key [key ...]] [arg [arg ...]]"""
    return _run_script(client, argv, argv[1], False)


@command("evalsha", -3, _FLAGS, acl="scripting", group="scripting", get_keys=_eval_keys,
         summary="Execute a Lua script server side", since="2.6.0",
         complexity="Depends on the script that is executed.",
         key_specs=(keynum_spec(2, "RW", "access", "update"),),
         args="sha1 numkeys:int [key...] [arg...]")
def evalsha_command(client: Client, argv: list[bytes]) -> Any:
    """EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]]"""
    return _run_script(client, argv, None, False)


@command("eval_ro", -3, "readonly " + _FLAGS, acl="scripting -read", group="scripting", get_keys=_eval_keys,
         summary="Execute a read-only Lua script server side", since="7.0.0",
         complexity="Depends on the script that is executed.",
         key_specs=(keynum_spec(2, "RO", "access", notes=_RO_NOTE),),
         args="script numkeys:int [key...] [arg...]")
def eval_ro_command(client: Client, argv: list[bytes]) -> Any:
    """EVAL_RO script numkeys [key [key ...]] [arg [arg ...]]"""
    return _run_script(client, argv, argv[1], True)


@command("evalsha_ro", -3, "readonly " + _FLAGS, acl="scripting -read", group="scripting",
         get_keys=_eval_keys, summary="Execute a read-only Lua script server side", since="7.0.0",
         complexity="Depends on the script that is executed.",
         key_specs=(keynum_spec(2, "RO", "access"),),
         args="sha1 numkeys:int [key...] [arg...]")
def evalsha_ro_command(client: Client, argv: list[bytes]) -> Any:
    """EVALSHA_RO sha1 numkeys [key [key ...]] [arg [arg ...]]"""
    return _run_script(client, argv, None, True)


@command("script|load", 3, "noscript stale", acl="scripting", group="scripting",
         summary="Load the specified Lua script into the script cache.", since="2.6.0",
         complexity="O(N) with N being the length in bytes of the script body.",
         tips=("request_policy:all_nodes", "response_policy:all_succeeded"), args="script")
def script_load_command(client: Client, argv: list[bytes]) -> Any:
    """SCRIPT LOAD script"""
    return client.engine.scripting.load_script(argv[2]).sha


@command("script|exists", -3, "noscript", acl="scripting", group="scripting",
         summary="Check existence of scripts in the script cache.", since="2.6.0",
         complexity="O(N) with N being the number of scripts to check (so checking a single "
                    "script is an O(1) operation).",
         tips=("request_policy:all_shards", "response_policy:agg_logical_and"), args="sha1...")
def script_exists_command(client: Client, argv: list[bytes]) -> Any:
    """SCRIPT EXISTS sha1 [sha1 ...]"""
    scripts = client.engine.scripting.scripts
    return [1 if sha.lower() in scripts else 0 for sha in argv[2:]]


@command("script|flush", -2, "noscript", acl="scripting", group="scripting",
         summary="Remove all the scripts from the script cache.", since="2.6.0",
         complexity="O(N) with N being the number of scripts in cache",
         tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
         history=(("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers."),),
         args="async=[ASYNC | SYNC]@6.2.0")
def script_flush_command(client: Client, argv: list[bytes]) -> Any:
    """SCRIPT FLUSH [ASYNC | SYNC]"""
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"sync", b"async")):
        raise CommandError(errors.LUA_SCRIPT_FLUSH_ONLY_SUPPORT_SYNC)
    client.engine.scripting.flush_scripts()
    return OK


@command("script|kill", 2, "noscript allow_busy", acl="scripting", group="scripting",
         summary="Kill the script currently in execution.", since="2.6.0",
         tips=("request_policy:all_shards", "response_policy:one_succeeded"))
def script_kill_command(client: Client, argv: list[bytes]) -> Any:
    """SCRIPT KILL"""
    return kill_running(client, is_eval=True)


def kill_running(client: Client, is_eval: bool) -> Any:
    """SCRIPT KILL / FUNCTION KILL: ask the running script (of that kind) to stop."""
    state = client.engine.scripting.running
    if state is None:
        raise CommandError(errors.LUA_NOTBUSY)
    if state.is_eval != is_eval:  # FUNCTION KILL during EVAL, SCRIPT KILL during FCALL
        raise CommandError(busy_error(state))
    if state.wrote:
        raise CommandError(errors.LUA_UNKILLABLE)
    state.killed = True
    return OK


_SCRIPT_HELP = [
    b"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"EXISTS <sha1> [<sha1> ...]",
    b"    Return information about the existence of the scripts in the script cache.",
    b"FLUSH [ASYNC|SYNC]",
    b"    Flush the Lua scripts cache. Very dangerous on replicas.",
    b"    When called without the optional mode argument, the behavior is determined by the",
    b"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    b"    * ASYNC: Asynchronously flush the scripts cache.",
    b"    * SYNC: Synchronously flush the scripts cache.",
    b"KILL",
    b"    Kill the currently executing Lua script.",
    b"LOAD <script>",
    b"    Load a script into the scripts cache without executing it.",
    b"HELP",
    b"    Prints this help.",
]


@command("script|help", 2, "loading stale", acl="scripting", group="scripting",
         summary="Show helpful text about the different subcommands", since="5.0.0")
def script_help_command(client: Client, argv: list[bytes]) -> Any:
    """SCRIPT HELP"""
    return [Status(line) for line in _SCRIPT_HELP]
