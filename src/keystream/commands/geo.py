"""Geo commands (geo.c) on top of sorted sets, Redis 7.0 syntax, options and replies.

GEOADD (NX XX CH) GEOPOS GEODIST GEOHASH GEOSEARCH (FROMMEMBER FROMLONLAT BYRADIUS BYBOX
ASC DESC COUNT [ANY] WITHCOORD WITHDIST WITHHASH) GEOSEARCHSTORE (STOREDIST) GEORADIUS
GEORADIUS_RO GEORADIUSBYMEMBER GEORADIUSBYMEMBER_RO (STORE STOREDIST).

Positions are 52-bit geohash scores (see `keyspace.datatypes.geohash`); searches scan the
centre cell and its neighbours as Redis does, so the same members come back in the same
order. Distances are replied with four decimals (`fixedpoint_d2string`), coordinates as
Redis's "human" long doubles (`%.17Lf` trimmed; RESP3 doubles). GEOADD propagates as the
ZADD it runs, as in Redis.

Sorting follows Redis's choice of algorithm (a stable full sort, or its partial quicksort
when COUNT cuts the result), so members at equal distances come out in Redis's order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, key_spec, keyword_spec
from keystream.commands.util import parse_int
from keystream.commands.zsets import parse_score, store_zset, zadd_generic
from keystream.keyspace.datatypes import geohash as gh
from keystream.keyspace.datatypes.zset import ZSet
from keystream.resp.errors import (
    GEO_ANY,
    GEO_BOX_NEGATIVE,
    GEO_BY,
    GEO_COUNT,
    GEO_FROM,
    GEO_HEIGHT,
    GEO_INVALID_PAIR,
    GEO_NO_MEMBER,
    GEO_RADIUS,
    GEO_RADIUS_NEGATIVE,
    GEO_STORE_OPTIONS,
    GEO_UNIT,
    GEO_WIDTH,
    SYNTAX,
    CommandError,
)
from keystream.resp.writer import NULL_ARRAY, Raw

if TYPE_CHECKING:
    from keystream.client import Client

_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}



def _human(v: float) -> bytes:
    """addReplyHumanLongDouble's text for a double (exact digits, 17 decimals, trimmed)."""
    s = b"%.17f" % v
    if b"." in s:
        s = s.rstrip(b"0").rstrip(b".")
    if s == b"-0":
        s = b"0"
    return s


def _coord_reply(v: float, proto: int) -> Any:
    """A coordinate as addReplyHumanLongDouble sends it: bulk text, or a RESP3 double
    written with that same text."""
    text = _human(v)
    return Raw(b",%s\r\n" % text) if proto == 3 else text


def _distance_text(d: float) -> bytes:
    """fixedpoint_d2string(d, 4): round half to even at 4 decimals."""
    if d == 0:
        return b"0.0000"
    v = round(d * 10000.0)
    sign = b"-" if v < 0 else b""
    v = abs(v)
    return b"%s%d.%04d" % (sign, v // 10000, v % 10000)


def _lonlat(a: bytes, b: bytes) -> tuple[float, float]:
    lon = parse_score(a)
    lat = parse_score(b)
    if lon < gh.LON_MIN or lon > gh.LON_MAX or lat < gh.LAT_MIN or lat > gh.LAT_MAX:
        raise CommandError(GEO_INVALID_PAIR.format(lon, lat))
    return lon, lat


def _unit(b: bytes) -> float:
    u = _UNITS.get(b.lower())
    if u is None:
        raise CommandError(GEO_UNIT)
    return u


def _radius(shape: gh.Shape, value: bytes, unit: bytes) -> None:
    d = parse_score(value, GEO_RADIUS)
    if d < 0:
        raise CommandError(GEO_RADIUS_NEGATIVE)
    shape.radius = d
    shape.conversion = _unit(unit)
    shape.is_box = False


def _box(shape: gh.Shape, w: bytes, h: bytes, unit: bytes) -> None:
    width = parse_score(w, GEO_WIDTH)
    height = parse_score(h, GEO_HEIGHT)
    if height < 0 or width < 0:
        raise CommandError(GEO_BOX_NEGATIVE)
    shape.width, shape.height = width, height
    shape.conversion = _unit(unit)
    shape.is_box = True


def _member_pos(zs: ZSet, member: bytes) -> tuple[float, float]:
    score = zs.score(member)
    if score is None:
        raise CommandError(GEO_NO_MEMBER)
    return gh.decode_score(score)


_RO_ACCESS = (key_spec(1, "RO", "access"),)


# -- GEOADD ---------------------------------------------------------------------------------------
@command("geoadd", -5, "write denyoom", 1, 1, 1, acl="geo", group="geo", since="3.2.0",
         complexity="O(log(N)) for each item added",
         summary="Add one or more geospatial items in the geospatial index represented using a sorted set",
         key_specs=(key_spec(1, "RW", "update"),),
         args="key condition=[NX | XX]@6.2.0 [change=CH@6.2.0] "
              "longitude_latitude_member=(longitude:double latitude:double member)...",
         history=(("6.2.0", "The NX, XX and CH options."),))
def geoadd_command(client: Client, argv: list[bytes]) -> Any:
    """GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]"""
    nx = xx = False
    i = 2
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt != b"ch":
            break
        i += 1
    if (n - i) % 3 or (xx and nx):
        raise CommandError(SYNTAX)
    zargv = [b"zadd", *argv[1:i]]
    for j in range(i, n, 3):
        lon, lat = _lonlat(argv[j], argv[j + 1])
        bits = gh.encode(lon, lat, gh.STEP_MAX) or 0
        zargv.append(b"%d" % gh.align52(bits, gh.STEP_MAX))
        zargv.append(argv[j + 2])
    dirty = client.engine.dirty
    reply = zadd_generic(client, zargv, 0)
    if client.engine.dirty != dirty:  # as ZADD: nothing changed, nothing propagated
        client.propagate(zargv)
    return reply


# -- GEOPOS / GEODIST / GEOHASH ------------------------------------------------------------------
@command("geopos", -2, "readonly", 1, 1, 1, acl="geo", group="geo", since="3.2.0",
         complexity="O(N) where N is the number of members requested.",
         summary="Returns longitude and latitude of members of a geospatial index",
         key_specs=_RO_ACCESS,
         args="key member...")
def geopos_command(client: Client, argv: list[bytes]) -> Any:
    """GEOPOS key member [member ...]"""
    zs = client.db.get_typed(argv[1], ZSet)
    proto = client.proto
    out: list = []
    for member in argv[2:]:
        score = zs.score(member) if zs is not None else None
        if score is None:
            out.append(NULL_ARRAY)
        else:
            lon, lat = gh.decode_score(score)
            out.append([_coord_reply(lon, proto), _coord_reply(lat, proto)])
    return out


@command("geodist", -4, "readonly", 1, 1, 1, acl="geo", group="geo", since="3.2.0",
         complexity="O(log(N))", summary="Returns the distance between two members of a geospatial index",
         key_specs=_RO_ACCESS,
         args="key member1 member2 unit=[M | KM | FT | MI]")
def geodist_command(client: Client, argv: list[bytes]) -> Any:
    """GEODIST key member1 member2 [M | KM | FT | MI]"""
    to_meter = 1.0
    if len(argv) == 5:
        to_meter = _unit(argv[4])
    elif len(argv) > 5:
        raise CommandError(SYNTAX)
    zs = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return None
    s1 = zs.score(argv[2])
    s2 = zs.score(argv[3])
    if s1 is None or s2 is None:
        return None
    lon1, lat1 = gh.decode_score(s1)
    lon2, lat2 = gh.decode_score(s2)
    return _distance_text(gh.distance(lon1, lat1, lon2, lat2) / to_meter)


@command("geohash", -2, "readonly", 1, 1, 1, acl="geo", group="geo", since="3.2.0",
         complexity="O(log(N)) for each member requested",
         summary="Returns members of a geospatial index as standard geohash strings",
         key_specs=_RO_ACCESS,
         args="key member...")
def geohash_command(client: Client, argv: list[bytes]) -> Any:
    """GEOHASH key member [member ...]"""
    zs = client.db.get_typed(argv[1], ZSet)
    out: list = []
    for member in argv[2:]:
        score = zs.score(member) if zs is not None else None
        out.append(None if score is None else gh.geohash_string(score))
    return out


# -- searches ----------------------------------------------------------------------------------------
_COORDS, _MEMBER, _NOSTORE, _SEARCH, _SEARCHSTORE = 1, 2, 4, 8, 16


def _search_zset(zs: ZSet, shape: gh.Shape, limit: int) -> list[tuple[float, float, float, float, bytes]]:
    """Members inside shape as (dist_m, score, lon, lat, member), in Redis's scan order."""
    found: list[tuple[float, float, float, float, bytes]] = []
    cells = gh.search_boxes(shape)
    last = 0
    for idx, cell in enumerate(cells):
        if cell == (0, 0):
            continue
        # As Redis: skip a cell equal to the last one scanned, unless that was the centre.
        if last and cell == cells[last]:
            continue
        if found and limit and len(found) >= limit:
            break
        bits, step = cell
        start, end = zs.score_range(float(gh.align52(bits, step)), False,
                                    float(gh.align52(bits + 1, step)), True)
        for score, member in zs.items(start, end):
            lon, lat = gh.decode_score(score)
            d = shape.contains(lon, lat)
            if d is not None:
                found.append((d, score, lon, lat, member))
            if found and limit and len(found) >= limit:
                break
        last = idx
    return found


def _partial_sort(arr: list, direction: int, last: int) -> None:
    """Order arr[0..last] by distance as Redis's pqsort does (Bentley-McIlroy quicksort
    that only recurses into parts overlapping the wanted range), so ties come out in
    the same order as Redis's."""

    def cmp(x: tuple, y: tuple) -> int:
        c = 1 if x[0] > y[0] else (0 if x[0] == y[0] else -1)
        return c * direction

    def swap(i: int, j: int) -> None:
        arr[i], arr[j] = arr[j], arr[i]

    def vecswap(i: int, j: int, n: int) -> None:
        for k in range(n):
            swap(i + k, j + k)

    def med3(i: int, j: int, k: int) -> int:
        if cmp(arr[i], arr[j]) < 0:
            return j if cmp(arr[j], arr[k]) < 0 else (k if cmp(arr[i], arr[k]) < 0 else i)
        return j if cmp(arr[j], arr[k]) > 0 else (i if cmp(arr[i], arr[k]) < 0 else k)

    def outside(a: int, n: int) -> bool:
        return (0 < a and last < a) or (0 >= a + n and last >= a + n)

    def sort(a: int, n: int) -> None:
        while True:
            if n < 7:
                for pm in range(a + 1, a + n):
                    pl = pm
                    while pl > a and cmp(arr[pl - 1], arr[pl]) > 0:
                        swap(pl, pl - 1)
                        pl -= 1
                return
            pm = a + n // 2
            if n > 7:
                pl, pn = a, a + n - 1
                if n > 40:
                    d = n // 8
                    pl = med3(pl, pl + d, pl + 2 * d)
                    pm = med3(pm - d, pm, pm + d)
                    pn = med3(pn - 2 * d, pn - d, pn)
                pm = med3(pl, pm, pn)
            swap(a, pm)
            pa = pb = a + 1
            pc = pd = a + n - 1
            while True:
                while pb <= pc:
                    c = cmp(arr[pb], arr[a])
                    if c > 0:
                        break
                    if c == 0:
                        swap(pa, pb)
                        pa += 1
                    pb += 1
                while pb <= pc:
                    c = cmp(arr[pc], arr[a])
                    if c < 0:
                        break
                    if c == 0:
                        swap(pc, pd)
                        pd -= 1
                    pc -= 1
                if pb > pc:
                    break
                swap(pb, pc)
                pb += 1
                pc -= 1
            pn = a + n
            r = min(pa - a, pb - pa)
            vecswap(a, pb - r, r)
            r = min(pd - pc, pn - pd - 1)
            vecswap(pb, pn - r, r)
            r = pb - pa
            if r > 1 and not outside(a, r):
                sort(a, r)
            r = pd - pc
            if r <= 1:
                return
            a, n = pn - r, r
            if outside(a, n):
                return

    sort(0, len(arr))


def _store_keys(first_opt: int) -> Any:
    """Key positions of GEORADIUS[BYMEMBER]: the source and any STORE/STOREDIST target."""
    def get_keys(argv: list[bytes]) -> list[int]:
        keys = [1]
        for i in range(first_opt, len(argv) - 1):
            if argv[i].lower() in (b"store", b"storedist"):
                keys.append(i + 1)
        return keys
    return get_keys


def _georadius_generic(client: Any, argv: list[bytes], src_idx: int, flags: int) -> Any:
    """georadiusGeneric: GEORADIUS*, GEOSEARCH and GEOSEARCHSTORE."""
    db = client.db
    zs = db.get_typed(argv[src_idx], ZSet)
    shape = gh.Shape()
    store: bytes | None = None
    storedist = False
    if flags & _COORDS:
        base = 6
        shape.lon, shape.lat = _lonlat(argv[2], argv[3])
        _radius(shape, argv[4], argv[5])
    elif flags & _MEMBER:
        base = 5
        if zs is not None:
            shape.lon, shape.lat = _member_pos(zs, argv[2])
            _radius(shape, argv[3], argv[4])
    else:
        base = 2
        if flags & _SEARCHSTORE:
            base = 3
            store = argv[1]
    withdist = withhash = withcoord = anyflag = False
    frommember = fromloc = byradius = bybox = False
    sort = 0
    count = 0
    n = len(argv)
    i = base
    search = flags & _SEARCH
    while i < n:
        arg = argv[i].lower()
        remaining = n - i - 1
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoord = True
        elif arg == b"any":
            anyflag = True
        elif arg == b"asc":
            sort = 1
        elif arg == b"desc":
            sort = -1
        elif arg == b"count" and remaining >= 1:
            count = parse_int(argv[i + 1])
            if count <= 0:
                raise CommandError(GEO_COUNT)
            i += 1
        elif arg in (b"store", b"storedist") and remaining >= 1 and not flags & (_NOSTORE | _SEARCH):
            store = argv[i + 1]
            storedist = arg == b"storedist"
            i += 1
        elif arg == b"storedist" and search and flags & _SEARCHSTORE:
            storedist = True
        elif arg == b"frommember" and remaining >= 1 and search and not fromloc:
            if zs is not None:
                shape.lon, shape.lat = _member_pos(zs, argv[i + 1])
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and remaining >= 2 and search and not frommember:
            shape.lon, shape.lat = _lonlat(argv[i + 1], argv[i + 2])
            fromloc = True
            i += 2
        elif arg == b"byradius" and remaining >= 2 and search and not bybox:
            _radius(shape, argv[i + 1], argv[i + 2])
            byradius = True
            i += 2
        elif arg == b"bybox" and remaining >= 3 and search and not byradius:
            _box(shape, argv[i + 1], argv[i + 2], argv[i + 3])
            bybox = True
            i += 3
        else:
            raise CommandError(SYNTAX)
        i += 1
    if store is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if flags & _SEARCHSTORE else "STORE option in GEORADIUS"
        raise CommandError(GEO_STORE_OPTIONS.format(what))
    name = argv[0].decode("utf-8", "replace")
    if search and not (frommember or fromloc):
        raise CommandError(GEO_FROM.format(name))
    if search and not (byradius or bybox):
        raise CommandError(GEO_BY.format(name))
    if anyflag and not count:
        raise CommandError(GEO_ANY)
    if zs is None:
        if store is not None:
            db.delete(store)
            return 0
        return []
    if count and not sort and not anyflag:
        sort = 1
    found = _search_zset(zs, shape, count if anyflag else 0)
    returned = len(found) if not count or len(found) < count else count
    if sort:
        if returned == len(found):
            # glibc's qsort is a merge sort: stable, like list.sort.
            found.sort(key=lambda f: f[0], reverse=sort == -1)
        else:
            _partial_sort(found, sort, returned - 1)
            del found[returned:]
    conv = shape.conversion
    if store is not None:
        items = sorted(((d / conv) if storedist else score, member) for d, score, _, _, member in found)
        return store_zset(client, store, items, "geosearchstore" if search else "georadiusstore")
    proto = client.proto
    options = withdist or withhash or withcoord
    out: list = []
    for d, score, lon, lat, member in found:
        if not options:
            out.append(member)
            continue
        entry: list = [member]
        if withdist:
            entry.append(_distance_text(d / conv))
        if withhash:
            entry.append(int(score))
        if withcoord:
            entry.append([_coord_reply(lon, proto), _coord_reply(lat, proto)])
        out.append(entry)
    return out


_GEO: dict[str, Any] = {"acl": "geo", "group": "geo", "complexity": "O(N+log(M))"}


@command("georadius", -6, "write denyoom", get_keys=_store_keys(6), since="3.2.0",
         deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument",
         summary="Query a sorted set representing a geospatial index to fetch members matching a given "
                 "maximum distance from a point", **_GEO,
         first_key=1, last_key=1, step=1,
         key_specs=(
             key_spec(1, "RO", "access"),
             keyword_spec("STORE", 6, "OW", "update"),
             keyword_spec("STOREDIST", 6, "OW", "update"),
         ),
         args="key longitude:double latitude:double radius:double unit=(M | KM | FT | MI) "
              "[WITHCOORD] [WITHDIST] [WITHHASH] count=[COUNT count:int [ANY@6.2.0]] order=[ASC | "
              "DESC] [STORE key:key1] [STOREDIST key:key2]",
         history=(("6.2.0", "COUNT takes ANY."), ("7.0.0", "Units may be given in capitals.")))
def georadius_command(client: Client, argv: list[bytes]) -> Any:
    """GEORADIUS key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH]
    [COUNT count [ANY]] [ASC | DESC] [STORE key] [STOREDIST key]"""
    return _georadius_generic(client, argv, 1, _COORDS)


@command("georadius_ro", -6, "readonly", 1, 1, 1, since="3.2.10", deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` with the `BYRADIUS` argument",
         summary="A read-only variant for GEORADIUS", **_GEO,
         key_specs=_RO_ACCESS,
         args="key longitude:double latitude:double radius:double unit=(M | KM | FT | MI) "
              "[WITHCOORD] [WITHDIST] [WITHHASH] count=[COUNT count:int [ANY@6.2.0]] order=[ASC | "
              "DESC]",
         history=(("6.2.0", "COUNT takes ANY."),))
def georadius_ro_command(client: Client, argv: list[bytes]) -> Any:
    """GEORADIUS_RO key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST]
    [WITHHASH] [COUNT count [ANY]] [ASC | DESC]"""
    return _georadius_generic(client, argv, 1, _COORDS | _NOSTORE)


@command("georadiusbymember", -5, "write denyoom", get_keys=_store_keys(5), since="3.2.0",
         deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments",
         summary="Query a sorted set representing a geospatial index to fetch members matching a given "
                 "maximum distance from a member", **_GEO,
         first_key=1, last_key=1, step=1,
         key_specs=(
             key_spec(1, "RO", "access"),
             keyword_spec("STORE", 5, "OW", "update"),
             keyword_spec("STOREDIST", 5, "OW", "update"),
         ),
         args="key member radius:double unit=(M | KM | FT | MI) [WITHCOORD] [WITHDIST] [WITHHASH] "
              "count=[COUNT count:int [ANY]] order=[ASC | DESC] [STORE key:key1] [STOREDIST "
              "key:key2]",
         history=(("7.0.0", "Units may be given in capitals."),))
def georadiusbymember_command(client: Client, argv: list[bytes]) -> Any:
    """GEORADIUSBYMEMBER key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH]
    [COUNT count [ANY]] [ASC | DESC] [STORE key] [STOREDIST key]"""
    return _georadius_generic(client, argv, 1, _MEMBER)


@command("georadiusbymember_ro", -5, "readonly", 1, 1, 1, since="3.2.10", deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments",
         summary="A read-only variant for GEORADIUSBYMEMBER", **_GEO,
         key_specs=_RO_ACCESS,
         args="key member radius:double unit=(M | KM | FT | MI) [WITHCOORD] [WITHDIST] [WITHHASH] "
              "count=[COUNT count:int [ANY]] order=[ASC | DESC]")
def georadiusbymember_ro_command(client: Client, argv: list[bytes]) -> Any:
    """GEORADIUSBYMEMBER_RO key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH]
    [COUNT count [ANY]] [ASC | DESC]"""
    return _georadius_generic(client, argv, 1, _MEMBER | _NOSTORE)


@command("geosearch", -7, "readonly", 1, 1, 1, since="6.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members inside an area of "
                 "a box or a circle.", **_GEO,
         key_specs=_RO_ACCESS,
         args="key from=(FROMMEMBER member | longitude_latitude=FROMLONLAT (longitude:double "
              "latitude:double)) by=(circle=(BYRADIUS radius:double unit=(M | KM | FT | MI)) | "
              "box=(BYBOX width:double height:double unit=(M | KM | FT | MI))) order=[ASC | DESC] "
              "count=[COUNT count:int [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]",
         history=(("7.0.0", "Units may be given in capitals."),))
def geosearch_command(client: Client, argv: list[bytes]) -> Any:
    """GEOSEARCH key <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM |
    FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [WITHCOORD]
    [WITHDIST] [WITHHASH]"""
    return _georadius_generic(client, argv, 1, _SEARCH)


@command("geosearchstore", -8, "write denyoom", 1, 2, 1, since="6.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members inside an area of "
                 "a box or a circle, and store the result in another key.", **_GEO,
         key_specs=(key_spec(1, "OW", "update"), key_spec(2, "RO", "access")),
         args="destination:key source:key1 from=(FROMMEMBER member | longitude_latitude=FROMLONLAT "
              "(longitude:double latitude:double)) by=(circle=(BYRADIUS radius:double unit=(M | KM "
              "| FT | MI)) | box=(BYBOX width:double height:double unit=(M | KM | FT | MI))) "
              "order=[ASC | DESC] count=[COUNT count:int [ANY]] [STOREDIST]",
         history=(("7.0.0", "Units may be given in capitals."),))
def geosearchstore_command(client: Client, argv: list[bytes]) -> Any:
    """GEOSEARCHSTORE destination source <FROMMEMBER member | FROMLONLAT longitude latitude>
    <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT
    count [ANY]] [STOREDIST]"""
    return _georadius_generic(client, argv, 2, _SEARCH | _SEARCHSTORE)
