"""Geo commands: differential tests against real redis-server (RESP2 and RESP3), with
hypothesis-generated points and searches so cell choice, distances and formatting match."""

from __future__ import annotations

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Pair

PLACES = ("13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania",
          "12.758489", "38.788135", "edge1", "17.241510", "38.222625", "edge2",
          "-73.9454966", "40.747533", "nyc", "-0.1278", "51.5074", "london",
          "179.9999", "0", "dateline", "-179.9999", "0.0001", "dateline2", "0", "85.05", "north")


def fill(pair: Pair) -> None:
    pair.run("GEOADD", "Sicily", *PLACES)


def test_geoadd_options_and_errors(pair: Pair) -> None:
    fill(pair)
    for cmd in (
        ("GEOADD", "Sicily", "NX", "13.4", "38.1", "Palermo", "1", "2", "newone"),
        ("GEOADD", "Sicily", "XX", "CH", "13.4", "38.1", "Palermo", "1", "2", "absent"),
        ("GEOADD", "Sicily", "CH", "13.4", "38.1", "Palermo"),
        ("GEOADD", "Sicily", "NX", "XX", "1", "2", "a"),
        ("GEOADD", "Sicily", "1", "2"),
        ("GEOADD", "Sicily", "CH", "CH", "CH"),
        ("GEOADD", "Sicily", "GT", "1", "2", "a"),
        ("GEOADD", "Sicily", "181", "2", "a"),
        ("GEOADD", "Sicily", "1", "86", "a"),
        ("GEOADD", "Sicily", "x", "2", "a"),
        ("GEOADD", "Sicily", "1", "2", "ok", "1", "nan", "bad"),
        ("ZRANGE", "Sicily", "0", "-1", "WITHSCORES"),
        ("GEOADD", "nokey", "XX", "1", "2", "a"),
        ("EXISTS", "nokey"),
    ):
        pair.run(*cmd)


def test_geopos_geodist_geohash(pair: Pair) -> None:
    fill(pair)
    pair.run("ZADD", "Sicily", "0", "zero", "4503599627370495", "maxscore")
    members = PLACES[2::3] + ("zero", "maxscore", "nope")
    pair.run("GEOPOS", "Sicily", *members)
    pair.run("GEOPOS", "nokey", "a", "b")
    pair.run("GEOPOS", "Sicily")
    pair.run("GEOHASH", "Sicily", *members)
    pair.run("GEOHASH", "nokey", "a")
    for a in members:
        for unit in ((), ("m",), ("KM",), ("ft",), ("mi",)):
            pair.run("GEODIST", "Sicily", "Palermo", a, *unit)
    pair.run("GEODIST", "Sicily", "Palermo", "Catania", "yards")
    pair.run("GEODIST", "Sicily", "Palermo", "Catania", "km", "x")
    pair.run("GEODIST", "nokey", "a", "b")
    pair.run("SET", "str", "x")
    for cmd in (("GEOPOS", "str", "a"), ("GEODIST", "str", "a", "b"), ("GEOHASH", "str", "a"),
                ("GEOSEARCH", "str", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
                ("GEORADIUS", "str", "0", "0", "1", "km", "BAD")):
        pair.run(*cmd)


def test_searches_and_options(pair: Pair) -> None:
    fill(pair)
    base = [
        ("GEORADIUS", "Sicily", "15", "37", "200", "km"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "ASC"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "DESC", "COUNT", "2"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "ANY"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "ANY"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "0"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "x"),
        ("GEORADIUS", "Sicily", "15", "37", "-1", "km"),
        ("GEORADIUS", "Sicily", "15", "37", "x", "km"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "yd"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "dst", "WITHDIST"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "dst"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "dst"),
        ("GEORADIUS", "Sicily", "0", "0", "1", "m", "STORE", "dst"),
        ("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "dst"),
        ("GEORADIUS_RO", "Sicily", "15", "37", "200", "mi", "WITHDIST"),
        ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "300", "km", "WITHDIST", "ASC"),
        ("GEORADIUSBYMEMBER", "Sicily", "nope", "300", "km"),
        ("GEORADIUSBYMEMBER", "nokey", "nope", "x", "yd", "WITHDIST"),
        ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "300", "km", "STOREDIST", "dst", "COUNT", "2"),
        ("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "300", "ft", "WITHCOORD"),
        ("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "300", "km", "WITHDIST"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC",
         "WITHCOORD", "WITHDIST"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "DESC",
         "COUNT", "3", "ANY"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"),
        ("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMMEMBER", "Catania", "BYRADIUS", "1", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"),
        ("GEOSEARCH", "Sicily", "BYRADIUS", "1", "km", "ASC"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "ASC", "DESC"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "-1", "1", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "x", "1", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "y", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STORE", "x"),
        ("GEOSEARCH", "Sicily", "FROMMEMBER", "nope", "BYRADIUS", "1", "km"),
        ("GEOSEARCH", "nokey", "FROMMEMBER", "nope", "BYRADIUS", "1", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "200", "37", "BYRADIUS", "1", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "20000", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "179", "0", "BYBOX", "500", "500", "km", "ASC", "WITHDIST"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "85", "BYRADIUS", "100", "km", "WITHDIST"),
        ("geosearch", "Sicily", "BYRADIUS", "1", "km", "COUNT", "1"),
        ("GEOSEARCHSTORE", "dst", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "300", "km"),
        ("GEOSEARCHSTORE", "dst", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "300", "km", "STOREDIST"),
        ("GEOSEARCHSTORE", "dst", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "300", "km", "WITHDIST"),
        ("GEOSEARCHSTORE", "dst", "nokey", "FROMMEMBER", "Palermo", "BYRADIUS", "300", "km"),
    ]
    for cmd in base:
        pair.run(*cmd)
        pair.run("ZRANGE", "dst", "0", "-1", "WITHSCORES")


coords = st.tuples(st.floats(-180, 180), st.floats(-85.05112878, 85.05112878))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(coords, min_size=1, max_size=40), coords,
       st.sampled_from(["1", "50", "500", "3000", "12000"]), st.sampled_from(["km", "mi"]),
       st.booleans())
def test_hypothesis_searches(pair: Pair, points, center, size, unit, box) -> None:
    pair.ks.call("DEL", "g")
    pair.ref.call("DEL", "g")
    args = []
    for i, (lon, lat) in enumerate(points):
        args += [repr(lon), repr(lat), f"m{i}"]
    pair.run("GEOADD", "g", *args)
    pair.run("GEOPOS", "g", "m0", f"m{len(points) - 1}")
    pair.run("GEODIST", "g", "m0", f"m{len(points) - 1}", unit)
    pair.run("GEOHASH", "g", "m0")
    area = ["BYBOX", size, size, unit] if box else ["BYRADIUS", size, unit]
    pair.run("GEOSEARCH", "g", "FROMLONLAT", repr(center[0]), repr(center[1]), *area,
             "ASC", "WITHDIST", "WITHCOORD", "WITHHASH")
    pair.run("GEOSEARCH", "g", "FROMMEMBER", "m0", *area, "WITHDIST", "COUNT", "5")
    pair.run("GEOSEARCH", "g", "FROMMEMBER", "m0", *area)


def test_redis_py_geo(r: redis.Redis) -> None:
    r.geoadd("g", (13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"))
    assert r.geodist("g", "Palermo", "Catania", "km") == 166.2742
    assert r.geosearch("g", longitude=15, latitude=37, radius=200, unit="km", sort="ASC") == [
        b"Catania", b"Palermo"]


_gkeys = st.sampled_from(["g1", "g2", "str", "lst"])
_members = st.sampled_from(["a", "b", "c", "Palermo"])
_lonlat = st.sampled_from([("13.361389", "38.115556"), ("15.087269", "37.502669"), ("0", "0"),
                           ("-179.9", "85.05"), ("181", "0"), ("0", "86"), ("x", "1")])
_units = st.sampled_from(["m", "km", "mi", "ft", "parsecs"])
_geo_cmds = st.one_of(
    st.tuples(st.just("GEOADD"), _gkeys, st.sampled_from([(), ("NX",), ("XX",), ("CH",)]),
              _lonlat, _members).map(lambda t: (t[0], t[1], *t[2], *t[3], t[4])),
    st.tuples(st.just("GEOPOS"), _gkeys, _members, _members),
    st.tuples(st.just("GEODIST"), _gkeys, _members, _members, _units),
    st.tuples(st.just("GEOHASH"), _gkeys, _members),
    st.tuples(st.sampled_from(["GEOSEARCH", "GEOSEARCHSTORE"]), _gkeys, _members,
              st.sampled_from(["100", "2000", "-1"]), _units, st.booleans()).map(
        lambda t: (t[0], *(("dst",) if t[0] == "GEOSEARCHSTORE" else ()), t[1], "FROMMEMBER",
                   t[2], *(("BYBOX", t[3], t[3]) if t[5] else ("BYRADIUS", t[3])), t[4], "ASC")),
    st.tuples(st.sampled_from(["GEORADIUS", "GEORADIUS_RO"]), _gkeys, _lonlat,
              st.sampled_from(["100", "2000"]), _units).map(
        lambda t: (t[0], t[1], *t[2], t[3], t[4], "WITHDIST", "ASC")),
    st.tuples(st.just("GEORADIUSBYMEMBER"), _gkeys, _members, st.just("500"), _units,
              st.sampled_from([(), ("STORE", "dst"), ("STOREDIST", "str")])).map(
        lambda t: (*t[:5], *t[5])),
    st.tuples(st.sampled_from(["ZREM", "ZSCORE"]), _gkeys, _members),
    st.tuples(st.just("ZRANGE"), st.sampled_from(["g1", "g2", "dst"]), st.just("0"), st.just("-1"),
              st.just("WITHSCORES")),
    st.tuples(st.just("SET"), st.just("str"), _members),
    st.tuples(st.just("RPUSH"), st.just("lst"), _members),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_geo_cmds, min_size=1, max_size=20))
def test_hypothesis_sequences_with_wrong_types(pair: Pair, cmds) -> None:
    pair.both("FLUSHALL")
    for cmd in cmds:
        pair.run(*cmd)
    for key in ("g1", "g2", "dst"):
        pair.run("ZRANGE", key, "0", "-1", "WITHSCORES")
