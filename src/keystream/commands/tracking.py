"""Client-side caching commands (networking.c): CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO.

Redis 7.0 syntax, replies and error texts, checked in Redis's order (options parsed first,
then ON/OFF, then the mode rules). The tracking itself lives in keystream/tracking.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command
from keystream.commands.util import parse_int
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK, SetReply

if TYPE_CHECKING:
    from keystream.client import Client


@command("client|tracking", -3, "noscript loading stale", acl="connection",
         summary="Enable or disable server assisted client side caching support", since="6.0.0",
         complexity="O(1). Some options may introduce additional complexity.",
         args="status=(ON | OFF) [REDIRECT client-id:int] [PREFIX prefix...T] [BCAST] [OPTIN] "
              "[OPTOUT] [NOLOOP]")
def client_tracking_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT TRACKING <ON | OFF> [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST]
    [OPTIN] [OPTOUT] [NOLOOP]"""
    engine = client.engine
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes: list[bytes] = []
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        more = j + 1 < n
        if opt == b"redirect" and more:
            j += 1
            if redirect:
                raise CommandError(errors.TRACKING_ONE_REDIRECT)
            redirect = parse_int(argv[j])
            if redirect not in engine.clients:
                raise CommandError(errors.TRACKING_NO_REDIRECT_CLIENT)
        elif opt == b"bcast":
            bcast = True
        elif opt == b"optin":
            optin = True
        elif opt == b"optout":
            optout = True
        elif opt == b"noloop":
            noloop = True
        elif opt == b"prefix" and more:
            j += 1
            prefixes.append(argv[j])
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    mode = argv[2].lower()
    tracking = engine.tracking
    if mode == b"off":
        tracking.disable(client)
        return OK
    if mode != b"on":
        raise CommandError(errors.SYNTAX)
    state = client.tracking
    if prefixes and not bcast:
        raise CommandError(errors.TRACKING_PREFIX_NEEDS_BCAST)
    if state is not None and state.bcast != bcast:
        raise CommandError(errors.TRACKING_SWITCH_BCAST)
    if bcast and (optin or optout):
        raise CommandError(errors.TRACKING_BCAST_OPTIN_OPTOUT)
    if optin and optout:
        raise CommandError(errors.TRACKING_OPTIN_AND_OPTOUT)
    if state is not None and ((optin and state.optout) or (optout and state.optin)):
        raise CommandError(errors.TRACKING_SWITCH_OPTIN_OPTOUT)
    if bcast:
        conflict = tracking.prefix_conflict(state, prefixes)
        if conflict is not None:
            raise CommandError(conflict)
    tracking.enable(client, redirect, bcast, optin, optout, noloop, prefixes)
    return OK


@command("client|caching", 3, "noscript loading stale", acl="connection",
         summary="Instruct the server about tracking or not keys in the next request", since="6.0.0",
         args="mode=(YES | NO)")
def client_caching_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT CACHING <YES | NO>"""
    state = client.tracking
    if state is None:
        raise CommandError(errors.CACHING_NOT_TRACKING)
    opt = argv[2].lower()
    if opt == b"yes":
        if not state.optin:
            raise CommandError(errors.CACHING_YES_NEEDS_OPTIN)
    elif opt == b"no":
        if not state.optout:
            raise CommandError(errors.CACHING_NO_NEEDS_OPTOUT)
    else:
        raise CommandError(errors.SYNTAX)
    state.caching = True
    return OK


@command("client|getredir", 2, "noscript loading stale", acl="connection",
         summary="Get tracking notifications redirection client ID if any", since="6.0.0")
def client_getredir_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT GETREDIR"""
    state = client.tracking
    return -1 if state is None else state.redirect


@command("client|trackinginfo", 2, "noscript loading stale", acl="connection",
         summary="Return information about server assisted client side caching for the current "
                 "connection", since="6.2.0")
def client_trackinginfo_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT TRACKINGINFO"""
    state = client.tracking
    if state is None:
        return {b"flags": SetReply([b"off"]), b"redirect": -1, b"prefixes": []}
    flags = [b"on"]
    if state.bcast:
        flags.append(b"bcast")
    if state.optin:
        flags.append(b"optin")
        if state.caching:
            flags.append(b"caching-yes")
    if state.optout:
        flags.append(b"optout")
        if state.caching:
            flags.append(b"caching-no")
    if state.noloop:
        flags.append(b"noloop")
    if state.broken_redirect:
        flags.append(b"broken_redirect")
    return {b"flags": SetReply(flags), b"redirect": state.redirect,
            b"prefixes": sorted(state.prefixes)}
