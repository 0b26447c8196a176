"""Geohash arithmetic as Redis's geo commands use it (geohash.c, geohash_helper.c).

Pure functions, no I/O. A position is stored in a sorted set as the score
`interleave(lat_cell, lon_cell)` with 26 bits per axis (52 bits, exact in a double), over
latitudes -85.05112878..85.05112878 (the Web Mercator limits) and longitudes -180..180.
Searches cover the query shape with the cell that holds its centre, at a precision chosen
from the radius, plus that cell's eight neighbours, then filter by exact distance.

Every formula follows Redis's operation order in IEEE doubles (haversine on a sphere of
radius 6372797.560856 m) so that distances, coordinates and which members a search
returns are the same bits as Redis computes.
"""

from __future__ import annotations

from math import asin, cos, isfinite, pi, sin, sqrt

__all__ = [
    "LAT_MAX",
    "LAT_MIN",
    "LON_MAX",
    "LON_MIN",
    "STEP_MAX",
    "Shape",
    "align52",
    "decode_area",
    "decode_score",
    "distance",
    "encode",
    "geohash_string",
    "lat_distance",
    "neighbors",
    "search_boxes",
]

STEP_MAX = 26
LAT_MIN = -85.05112878
LAT_MAX = 85.05112878
LON_MIN = -180.0
LON_MAX = 180.0
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37
_D_R = pi / 180.0
_M64 = (1 << 64) - 1
_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"

# (bits, step); (0, 0) is "no cell".
Cell = tuple[int, int]
Area = tuple[float, float, float, float]  # lon_min, lon_max, lat_min, lat_max


def _spread(v: int) -> int:
    """Put the 32 bits of v at the even bit positions of a 64-bit number."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & 0x5555555555555555


def _squeeze(v: int) -> int:
    """The inverse of _spread: the even bits of v, packed."""
    v &= 0x5555555555555555
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0x00000000FFFFFFFF


def encode(lon: float, lat: float, step: int, lat_min: float = LAT_MIN,
           lat_max: float = LAT_MAX) -> int | None:
    """The step-bit-per-axis cell holding (lon, lat), or None if outside the ranges."""
    if lon > LON_MAX or lon < LON_MIN or lat > LAT_MAX or lat < LAT_MIN:
        return None
    if lat < lat_min or lat > lat_max:
        return None
    lat_offset = (lat - lat_min) / (lat_max - lat_min)
    lon_offset = (lon - LON_MIN) / (LON_MAX - LON_MIN)
    lat_offset *= float(1 << step)
    lon_offset *= float(1 << step)
    return _spread(int(lat_offset)) | (_spread(int(lon_offset)) << 1)


def decode_area(bits: int, step: int, lat_min: float = LAT_MIN, lat_max: float = LAT_MAX) -> Area:
    """The (lon_min, lon_max, lat_min, lat_max) rectangle of a cell."""
    ilat = _squeeze(bits)
    ilon = _squeeze(bits >> 1)
    lat_scale = lat_max - lat_min
    lon_scale = LON_MAX - LON_MIN
    cells = float(1 << step)
    return (
        LON_MIN + (ilon * 1.0 / cells) * lon_scale,
        LON_MIN + ((ilon + 1) * 1.0 / cells) * lon_scale,
        lat_min + (ilat * 1.0 / cells) * lat_scale,
        lat_min + ((ilat + 1) * 1.0 / cells) * lat_scale,
    )


def decode_score(score: float) -> tuple[float, float]:
    """(lon, lat) of the centre of the 52-bit cell stored as a sorted-set score."""
    bits = int(score) & _M64 if isfinite(score) else 1 << 63
    lon_min, lon_max, lat_min, lat_max = decode_area(bits, STEP_MAX)
    lon = (lon_min + lon_max) / 2
    lon = min(max(lon, LON_MIN), LON_MAX)
    lat = (lat_min + lat_max) / 2
    lat = min(max(lat, LAT_MIN), LAT_MAX)
    return lon, lat


def align52(bits: int, step: int) -> int:
    return (bits << (52 - step * 2)) & _M64


def _move_x(bits: int, step: int, d: int) -> int:
    x = bits & 0xAAAAAAAAAAAAAAAA
    y = bits & 0x5555555555555555
    zz = 0x5555555555555555 >> (64 - step * 2)
    if d > 0:
        x = (x + (zz + 1)) & _M64
    else:
        x = ((x | zz) - (zz + 1)) & _M64
    x &= 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
    return x | y


def _move_y(bits: int, step: int, d: int) -> int:
    x = bits & 0xAAAAAAAAAAAAAAAA
    y = bits & 0x5555555555555555
    zz = 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
    if d > 0:
        y = (y + (zz + 1)) & _M64
    else:
        y = ((y | zz) - (zz + 1)) & _M64
    y &= 0x5555555555555555 >> (64 - step * 2)
    return x | y


def neighbors(bits: int, step: int) -> dict[str, int]:
    """The eight neighbouring cells (east, west, north, south, and the corners)."""
    return {
        "north": _move_y(bits, step, 1),
        "south": _move_y(bits, step, -1),
        "east": _move_x(bits, step, 1),
        "west": _move_x(bits, step, -1),
        "north_east": _move_y(_move_x(bits, step, 1), step, 1),
        "north_west": _move_y(_move_x(bits, step, -1), step, 1),
        "south_east": _move_y(_move_x(bits, step, 1), step, -1),
        "south_west": _move_y(_move_x(bits, step, -1), step, -1),
    }


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS_IN_METERS * abs(lat2 * _D_R - lat1 * _D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance in meters, exactly as geohashGetDistance computes it."""
    lon1r = lon1 * _D_R
    lon2r = lon2 * _D_R
    v = sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = lat1 * _D_R
    lat2r = lat2 * _D_R
    u = sin((lat2r - lat1r) / 2)
    a = u * u + cos(lat1r) * cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * asin(sqrt(a))


class Shape:
    """A search area: a circle (radius) or an axis-aligned box (width, height) around a
    centre, with sizes in the query's unit and `conversion` meters per unit."""

    __slots__ = ("conversion", "height", "is_box", "lat", "lon", "radius", "width")

    def __init__(self) -> None:
        self.lon = 0.0
        self.lat = 0.0
        self.is_box = False
        self.radius = 0.0
        self.width = 0.0
        self.height = 0.0
        self.conversion = 1.0

    def contains(self, lon: float, lat: float) -> float | None:
        """Distance in meters from the centre to (lon, lat) if inside, else None."""
        if not self.is_box:
            d = distance(self.lon, self.lat, lon, lat)
            return None if d > self.radius * self.conversion else d
        height_m = self.height * self.conversion
        width_m = self.width * self.conversion
        if lat_distance(lat, self.lat) > height_m / 2:
            return None
        if distance(lon, lat, self.lon, lat) > width_m / 2:
            return None
        return distance(self.lon, self.lat, lon, lat)

    def bounding_box(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of the shape (geohashBoundingBox)."""
        lon, lat = self.lon, self.lat
        height = self.conversion * (self.height / 2 if self.is_box else self.radius)
        width = self.conversion * (self.width / 2 if self.is_box else self.radius)
        lat_delta = (height / EARTH_RADIUS_IN_METERS) / _D_R
        long_delta_top = (width / EARTH_RADIUS_IN_METERS / cos((lat + lat_delta) * _D_R)) / _D_R
        long_delta_bottom = (width / EARTH_RADIUS_IN_METERS / cos((lat - lat_delta) * _D_R)) / _D_R
        delta = long_delta_bottom if lat < 0 else long_delta_top
        return lon - delta, lat - lat_delta, lon + delta, lat + lat_delta


def _estimate_steps(range_meters: float, lat: float) -> int:
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), 26)


def search_boxes(shape: Shape) -> list[Cell]:
    """The cells to scan for a search, in Redis's order: the centre cell, then north,
    south, east, west, north-east, north-west, south-east, south-west; (0, 0) for a
    neighbour Redis leaves out (geohashCalculateAreasByShapeWGS84)."""
    min_lon, min_lat, max_lon, max_lat = shape.bounding_box()
    if shape.is_box:
        radius_meters = sqrt((shape.width / 2) * (shape.width / 2) + (shape.height / 2) * (shape.height / 2))
    else:
        radius_meters = shape.radius
    radius_meters *= shape.conversion
    steps = _estimate_steps(radius_meters, shape.lat)
    bits = encode(shape.lon, shape.lat, steps) or 0
    nb = neighbors(bits, steps)
    decrease = (
        decode_area(nb["north"], steps)[3] < max_lat
        or decode_area(nb["south"], steps)[2] > min_lat
        or decode_area(nb["east"], steps)[1] < max_lon
        or decode_area(nb["west"], steps)[0] > min_lon
    )
    if steps > 1 and decrease:
        steps -= 1
        bits = encode(shape.lon, shape.lat, steps) or 0
        nb = neighbors(bits, steps)
    cells = {name: (b, steps) for name, b in nb.items()}
    if steps >= 2:
        a_lon_min, a_lon_max, a_lat_min, a_lat_max = decode_area(bits, steps)
        zero = (0, 0)
        if a_lat_min < min_lat:
            cells["south"] = cells["south_west"] = cells["south_east"] = zero
        if a_lat_max > max_lat:
            cells["north"] = cells["north_east"] = cells["north_west"] = zero
        if a_lon_min < min_lon:
            cells["west"] = cells["south_west"] = cells["north_west"] = zero
        if a_lon_max > max_lon:
            cells["east"] = cells["south_east"] = cells["north_east"] = zero
    return [(bits, steps)] + [cells[n] for n in (
        "north", "south", "east", "west", "north_east", "north_west", "south_east", "south_west")]


def geohash_string(score: float) -> bytes:
    """The standard 11-character geohash of a stored position (GEOHASH)."""
    lon, lat = decode_score(score)
    bits = encode(lon, lat, 26, -90.0, 90.0) or 0
    out = bytearray()
    for i in range(10):
        out.append(_ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F])
    out.append(_ALPHABET[0])
    return bytes(out)
