"""Pub/Sub commands (pubsub.c): SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH
SSUBSCRIBE SUNSUBSCRIBE SPUBLISH, PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP.

Redis 7.0 syntax, replies and error texts. The subscription commands answer with one
confirmation push per channel (no other reply); in RESP2 a subscribed client may only
send (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and RESET (the executor refuses the
rest, as Redis's processCommand does). SUBSCRIBE and PSUBSCRIBE work inside MULTI (Redis
keeps that for backward compatibility), SSUBSCRIBE does not. The subscriptions and the
delivery live in keystream/pubsub.py.

Propagation: Redis 7.0 propagates PUBLISH and SPUBLISH to replicas only (publishCommand's
forceCommandPropagation(c, PROPAGATE_REPL)), never to the AOF. Keystream has no replicas, so
they propagate nothing: no effect, alone, in MULTI or in a script (tests/integration/
test_propagation.py compares with Redis's AOF). Replication, when it exists, must send them.

Deliberate differences: no cluster, so shard channels are one shard's and nothing is
propagated to other nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, container, key_spec
from keystream.keyspace.glob import compile_matcher
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import NO_REPLY, Status

if TYPE_CHECKING:
    from keystream.client import Client

container("pubsub", "pubsub", "A container for Pub/Sub commands", "2.8.0", acl="slow")

_SHARD_KEYS = (key_spec(1, "not_key", lastkey=-1),)


def _deny_blocking(client: Client, name: str, in_multi_ok: bool) -> None:
    """Redis refuses subscriptions to clients that expect one reply per command (scripts,
    connectionless callers, EXEC except for SUBSCRIBE/PSUBSCRIBE)."""
    if client.conn is None or (client.in_exec and not in_multi_ok):
        raise CommandError(errors.deny_blocking(name))


@command("subscribe", -2, "pubsub noscript loading stale while_subscribed", group="pubsub",
         summary="Listen for messages published to the given channels", since="2.0.0",
         complexity="O(N) where N is the number of channels to subscribe to.",
         args="channel...")
def subscribe_command(client: Client, argv: list[bytes]) -> Any:
    """SUBSCRIBE channel [channel ...]"""
    _deny_blocking(client, "SUBSCRIBE", True)
    hub = client.engine.pubsub
    for channel in argv[1:]:
        hub.subscribe(client, channel)
    return NO_REPLY


@command("unsubscribe", -1, "pubsub noscript loading stale while_subscribed", group="pubsub",
         summary="Stop listening for messages posted to the given channels", since="2.0.0",
         complexity="O(N) where N is the number of clients already subscribed to a channel.",
         args="[channel...]")
def unsubscribe_command(client: Client, argv: list[bytes]) -> Any:
    """UNSUBSCRIBE [channel [channel ...]]"""
    hub = client.engine.pubsub
    if len(argv) == 1:
        hub.unsubscribe_all(client)
    else:
        for channel in argv[1:]:
            hub.unsubscribe(client, channel)
    return NO_REPLY


@command("psubscribe", -2, "pubsub noscript loading stale while_subscribed", group="pubsub",
         summary="Listen for messages published to channels matching the given patterns",
         since="2.0.0",
         complexity="O(N) where N is the number of patterns the client is already subscribed to.",
         args="pattern=(pattern:pattern)...")
def psubscribe_command(client: Client, argv: list[bytes]) -> Any:
    """PSUBSCRIBE pattern [pattern ...]"""
    _deny_blocking(client, "PSUBSCRIBE", True)
    hub = client.engine.pubsub
    for pattern in argv[1:]:
        hub.psubscribe(client, pattern)
    return NO_REPLY


@command("punsubscribe", -1, "pubsub noscript loading stale while_subscribed", group="pubsub",
         summary="Stop listening for messages posted to channels matching the given patterns",
         since="2.0.0",
         complexity="O(N+M) where N is the number of patterns the client is already subscribed "
                    "and M is the number of total patterns subscribed in the system (by any client).",
         args="[pattern:pattern...]")
def punsubscribe_command(client: Client, argv: list[bytes]) -> Any:
    """PUNSUBSCRIBE [pattern [pattern ...]]"""
    hub = client.engine.pubsub
    if len(argv) == 1:
        hub.punsubscribe_all(client)
    else:
        for pattern in argv[1:]:
            hub.punsubscribe(client, pattern)
    return NO_REPLY


@command("publish", 3, "pubsub loading stale fast may_replicate", group="pubsub",
         summary="Post a message to a channel", since="2.0.0",
         complexity="O(N+M) where N is the number of clients subscribed to the receiving channel "
                    "and M is the total number of subscribed patterns (by any client).",
         args="channel message")
def publish_command(client: Client, argv: list[bytes]) -> Any:
    """PUBLISH channel message"""
    return client.engine.pubsub.publish(argv[1], argv[2])


@command("ssubscribe", -2, "pubsub noscript loading stale while_subscribed", 1, -1, 1, group="pubsub",
         summary="Listen for messages published to the given shard channels", since="7.0.0",
         complexity="O(N) where N is the number of shard channels to subscribe to.",
         key_specs=_SHARD_KEYS, args="shardchannel...")
def ssubscribe_command(client: Client, argv: list[bytes]) -> Any:
    """SSUBSCRIBE shardchannel [shardchannel ...]"""
    _deny_blocking(client, "SSUBSCRIBE", False)
    hub = client.engine.pubsub
    for channel in argv[1:]:
        hub.subscribe(client, channel, shard=True)
    return NO_REPLY


@command("sunsubscribe", -1, "pubsub noscript loading stale while_subscribed", 1, -1, 1, group="pubsub",
         summary="Stop listening for messages posted to the given shard channels", since="7.0.0",
         complexity="O(N) where N is the number of clients already subscribed to a shard channel.",
         key_specs=_SHARD_KEYS, args="[shardchannel...]")
def sunsubscribe_command(client: Client, argv: list[bytes]) -> Any:
    """SUNSUBSCRIBE [shardchannel [shardchannel ...]]"""
    hub = client.engine.pubsub
    if len(argv) == 1:
        hub.unsubscribe_all(client, shard=True)
    else:
        for channel in argv[1:]:
            hub.unsubscribe(client, channel, shard=True)
    return NO_REPLY


@command("spublish", 3, "pubsub loading stale fast may_replicate", 1, 1, 1, group="pubsub",
         summary="Post a message to a shard channel", since="7.0.0",
         complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.",
         key_specs=(key_spec(1, "not_key"),), args="shardchannel message")
def spublish_command(client: Client, argv: list[bytes]) -> Any:
    """SPUBLISH shardchannel message"""
    return client.engine.pubsub.spublish(argv[1], argv[2])


def _channel_list(table: dict, argv: list[bytes]) -> list[bytes]:
    if len(argv) > 3:
        raise CommandError(errors.subcommand_syntax(argv[1], "pubsub"))
    if len(argv) == 2:
        return list(table)
    match = compile_matcher(argv[2])
    return [ch for ch in table if match(ch)]


@command("pubsub|channels", -2, "pubsub loading stale", summary="List active channels",
         since="2.8.0",
         complexity="O(N) where N is the number of active channels, and assuming constant time "
                    "pattern matching (relatively short channels and patterns)",
         args="[pattern:pattern]")
def pubsub_channels_command(client: Client, argv: list[bytes]) -> Any:
    """PUBSUB CHANNELS [pattern]"""
    return _channel_list(client.engine.pubsub.channels, argv)


@command("pubsub|shardchannels", -2, "pubsub loading stale", summary="List active shard channels",
         since="7.0.0",
         complexity="O(N) where N is the number of active shard channels, and assuming constant "
                    "time pattern matching (relatively short shard channels).",
         args="[pattern:pattern]")
def pubsub_shardchannels_command(client: Client, argv: list[bytes]) -> Any:
    """PUBSUB SHARDCHANNELS [pattern]"""
    return _channel_list(client.engine.pubsub.shard_channels, argv)


def _numsub(table: dict, argv: list[bytes]) -> list:
    out: list = []
    for channel in argv[2:]:
        out.append(channel)
        out.append(len(table.get(channel, ())))
    return out


@command("pubsub|numsub", -2, "pubsub loading stale", summary="Get the count of subscribers for channels",
         since="2.8.0",
         complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels",
         args="[channel...]")
def pubsub_numsub_command(client: Client, argv: list[bytes]) -> Any:
    """PUBSUB NUMSUB [channel [channel ...]]"""
    return _numsub(client.engine.pubsub.channels, argv)


@command("pubsub|shardnumsub", -2, "pubsub loading stale",
         summary="Get the count of subscribers for shard channels", since="7.0.0",
         complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard "
                    "channels",
         args="[shardchannel...]")
def pubsub_shardnumsub_command(client: Client, argv: list[bytes]) -> Any:
    """PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]"""
    return _numsub(client.engine.pubsub.shard_channels, argv)


@command("pubsub|numpat", 2, "pubsub loading stale",
         summary="Get the count of unique patterns pattern subscriptions", since="2.8.0")
def pubsub_numpat_command(client: Client, argv: list[bytes]) -> Any:
    """PUBSUB NUMPAT"""
    return len(client.engine.pubsub.patterns)


_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


@command("pubsub|help", 2, "loading stale", summary="Show helpful text about the different subcommands",
         since="6.2.0")
def pubsub_help_command(client: Client, argv: list[bytes]) -> Any:
    """PUBSUB HELP"""
    return [Status(line.encode()) for line in _HELP]
