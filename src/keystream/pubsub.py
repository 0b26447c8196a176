"""Pub/Sub: who is subscribed to which channel, pattern and shard channel, and delivery.

One `PubSub` per engine. It keeps, as Redis's pubsub.c does, both directions: channel ->
subscribed clients (in subscription order) and, on each client, its channels, patterns
and shard channels (in subscription order; `client.subscribed` is their total count).

Delivery: a message is encoded once per protocol (RESP2 array, RESP3 push) and handed to
each receiver with `Client.send_raw`, which keeps it in order with that client's own
replies (before the reply of the command running on that client, inside an EXEC's array
before the element of the command that caused it, as Redis writes them). Channel
subscribers get it first, then pattern subscribers pattern by pattern (in the order the
patterns were first subscribed; Redis walks its hash table). A receiver whose unsent
output passes its `client-output-buffer-limit pubsub` limits is disconnected; the
publisher never waits for a receiver.

Subscribe and unsubscribe confirmations are pushes too (`>3` in RESP3, arrays in RESP2):
they go out even under CLIENT REPLY OFF, as Redis's do.

Not here: the commands (commands/pubsub.py), keyspace notifications and client-side
caching invalidations (they publish through `publish`/`send_raw`). No cluster: shard
channels behave as one shard's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keystream.keyspace.glob import compile_matcher
from keystream.resp.writer import Push

if TYPE_CHECKING:
    from keystream.client import Client
    from keystream.engine import Engine

__all__ = ["PubSub", "bulk"]


def bulk(data: bytes) -> bytes:
    """data as a RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(data), data)


_MESSAGE = bulk(b"message")
_PMESSAGE = bulk(b"pmessage")
_SMESSAGE = bulk(b"smessage")


def _refresh_count(client: Client) -> None:
    client.subscribed = len(client.channels) + len(client.patterns) + len(client.shard_channels)


class PubSub:
    """The server's subscriptions (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.channels: dict[bytes, dict[Client, None]] = {}
        self.shard_channels: dict[bytes, dict[Client, None]] = {}
        # pattern -> (its matcher, its subscribers)
        self.patterns: dict[bytes, tuple[Callable[[bytes], bool], dict[Client, None]]] = {}
        engine.client_gone_hooks.append(self.client_gone)
        engine.client_reset_hooks.append(self.client_gone)

    # -- subscriptions ---------------------------------------------------------------
    def subscribe(self, client: Client, channel: bytes, shard: bool = False) -> None:
        """SUBSCRIBE / SSUBSCRIBE one channel (again is harmless), confirming it."""
        mine = client.shard_channels if shard else client.channels
        if channel not in mine:
            mine[channel] = None
            table = self.shard_channels if shard else self.channels
            subs = table.get(channel)
            if subs is None:
                subs = table[channel] = {}
            subs[client] = None
            _refresh_count(client)
        kind = b"ssubscribe" if shard else b"subscribe"
        client.send(Push([kind, channel, self._count(client, shard)]))

    def unsubscribe(self, client: Client, channel: bytes | None, shard: bool = False,
                    notify: bool = True) -> None:
        """UNSUBSCRIBE / SUNSUBSCRIBE one channel (None: the reply for "was subscribed to
        nothing"), confirming it when notify."""
        if channel is not None:
            mine = client.shard_channels if shard else client.channels
            if channel in mine:
                del mine[channel]
                table = self.shard_channels if shard else self.channels
                subs = table[channel]
                del subs[client]
                if not subs:
                    del table[channel]
                _refresh_count(client)
        if notify:
            kind = b"sunsubscribe" if shard else b"unsubscribe"
            client.send(Push([kind, channel, self._count(client, shard)]))

    def unsubscribe_all(self, client: Client, shard: bool = False, notify: bool = True) -> None:
        mine = client.shard_channels if shard else client.channels
        if not mine:
            if notify:
                self.unsubscribe(client, None, shard)
            return
        for channel in list(mine):
            self.unsubscribe(client, channel, shard, notify)

    def psubscribe(self, client: Client, pattern: bytes) -> None:
        if pattern not in client.patterns:
            client.patterns[pattern] = None
            entry = self.patterns.get(pattern)
            if entry is None:
                entry = self.patterns[pattern] = (compile_matcher(pattern), {})
            entry[1][client] = None
            _refresh_count(client)
        client.send(Push([b"psubscribe", pattern, self._count(client, False)]))

    def punsubscribe(self, client: Client, pattern: bytes | None, notify: bool = True) -> None:
        if pattern is not None and pattern in client.patterns:
            del client.patterns[pattern]
            subs = self.patterns[pattern][1]
            del subs[client]
            if not subs:
                del self.patterns[pattern]
            _refresh_count(client)
        if notify:
            client.send(Push([b"punsubscribe", pattern, self._count(client, False)]))

    def punsubscribe_all(self, client: Client, notify: bool = True) -> None:
        if not client.patterns:
            if notify:
                self.punsubscribe(client, None)
            return
        for pattern in list(client.patterns):
            self.punsubscribe(client, pattern, notify)

    def client_gone(self, client: Client) -> None:
        """Drop every subscription of a client that disconnected or sent RESET (silently)."""
        if client.subscribed:
            self.unsubscribe_all(client, False, notify=False)
            self.unsubscribe_all(client, True, notify=False)
            self.punsubscribe_all(client, notify=False)

    @staticmethod
    def _count(client: Client, shard: bool) -> int:
        """What a confirmation reports: shard channels count apart from the others."""
        if shard:
            return len(client.shard_channels)
        return len(client.channels) + len(client.patterns)

    # -- delivery --------------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes) -> int:
        """PUBLISH: deliver to the channel's and the matching patterns' subscribers; the
        number of deliveries (a client subscribed both ways counts twice)."""
        receivers = 0
        subs = self.channels.get(channel)
        tail = b""
        if subs:
            tail = b"".join((bulk(channel), bulk(message)))
            body = b"".join((_MESSAGE, tail))
            receivers = _deliver(subs, b"*3\r\n%b" % body, b">3\r\n%b" % body)
        if self.patterns:
            if not tail:
                tail = b"".join((bulk(channel), bulk(message)))
            for pattern, (match, psubs) in list(self.patterns.items()):
                if match(channel):
                    body = b"".join((_PMESSAGE, bulk(pattern), tail))
                    receivers += _deliver(psubs, b"*4\r\n%b" % body, b">4\r\n%b" % body)
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        subs = self.shard_channels.get(channel)
        if not subs:
            return 0
        body = b"".join((_SMESSAGE, bulk(channel), bulk(message)))
        return _deliver(subs, b"*3\r\n%b" % body, b">3\r\n%b" % body)

    def stats(self) -> dict[str, Any]:
        return {"pubsub_channels": len(self.channels), "pubsub_patterns": len(self.patterns),
                "pubsubshard_channels": len(self.shard_channels)}


def _deliver(subs: dict[Client, None], resp2: bytes, resp3: bytes) -> int:
    """Send one message to each of subs in its protocol's form; how many there were.

    Nothing here closes a receiver (output limits are checked when deferred output is
    written, at the end of the event-loop turn), so subs does not change while we loop."""
    for c in subs:
        conn = c.conn
        # Client.send_raw's common case inlined (the fan-out loop): a subscriber that is not
        # running a command gets the message at the end of this event-loop turn.
        if conn is not None and conn.deferred and conn.out is None and c.push_capture is None:
            conn.deferred.append(resp3 if c.proto == 3 else resp2)
        else:
            c.send_raw(resp3 if c.proto == 3 else resp2)
    return len(subs)
