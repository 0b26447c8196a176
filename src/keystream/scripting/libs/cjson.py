"""The `cjson` library scripts get (lua-cjson 2.1.0 as bundled with Redis 7.0).

encode: tables whose keys are all positive integers are arrays (holes become null; more than
2x sparse with an index over 10 is an error), other tables objects (keys: strings, or numbers
written with %.14g), an empty table is `{}`; numbers with %.14g, NaN/Inf refused; `/` escaped
as `\\/`, control characters and DEL as \\u00XX. decode: lua-cjson's tokenizer and its error
texts ("Expected value but found invalid token at character 1"); null is `cjson.null`.
The encode_*/decode_* settings keep lua-cjson's defaults and can be read and changed.
"""

from __future__ import annotations

import math
import re
from typing import Any

from lupa import lua51

__all__ = ["CJson"]

_ESCAPES = {0x22: b'\\"', 0x5C: b"\\\\", 0x2F: b"\\/", 0x08: b"\\b", 0x0C: b"\\f", 0x0A: b"\\n",
            0x0D: b"\\r", 0x09: b"\\t"}
_ESCAPE_TABLE = {c: (_ESCAPES.get(c) or b"\\u%04x" % c) for c in [*range(0x20), 0x22, 0x5C, 0x2F, 0x7F]}
_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"\\/\x7f]')
_NUMBER = re.compile(rb"[-+0-9A-Za-z.]+")
_WS = b" \t\n\r"


class _DecodeError(Exception):
    pass


def _escape(s: bytes) -> bytes:
    if _NEEDS_ESCAPE.search(s) is None:
        return b'"' + s + b'"'
    return b'"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPE_TABLE[m.group()[0]], s) + b'"'


class CJson:
    """One cjson module instance (cjson.new() makes another with its own settings)."""

    def __init__(self, lua: Any, null: Any, is_null: Any) -> None:
        self.lua = lua
        self.null = null
        self.is_null = is_null
        self.encode_max_depth = 1000
        self.decode_max_depth = 1000
        self.precision = 14
        self.sparse = [False, 2, 10]
        self.keep_buffer = True
        self.encode_invalid = False
        self.decode_invalid = True

    def table(self) -> Any:
        lua = self.lua
        return lua.table_from({
            b"encode": self.encode, b"decode": self.decode, b"null": self.null,
            b"new": lambda: CJson(lua, self.null, self.is_null).table(),
            b"encode_max_depth": self._max_depth("encode_max_depth"),
            b"decode_max_depth": self._max_depth("decode_max_depth"),
            b"encode_number_precision": self._precision,
            b"encode_sparse_array": self._sparse_array,
            b"encode_keep_buffer": self._keep_buffer,
            b"encode_invalid_numbers": self._flag("encode_invalid"),
            b"decode_invalid_numbers": self._flag("decode_invalid"),
            b"_NAME": b"cjson", b"_VERSION": b"2.1.0",
        })

    # -- settings ---------------------------------------------------------------------
    def _max_depth(self, attr: str) -> Any:
        def setting(*args: Any) -> int:
            if args and args[0] is not None:
                depth = int(args[0])
                if depth < 1:
                    raise ValueError(f"bad argument #1 to '{attr}' (expected integer between 1 and 2147483647)")
                setattr(self, attr, depth)
            return getattr(self, attr)
        return setting

    def _precision(self, *args: Any) -> int:
        if args and args[0] is not None:
            p = int(args[0])
            if not 1 <= p <= 14:
                raise ValueError("bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)")
            self.precision = p
        return self.precision

    def _sparse_array(self, *args: Any) -> tuple[Any, ...]:
        for i, value in enumerate(args[:3]):
            if value is not None:
                self.sparse[i] = value if i == 0 else int(value)
        return tuple(self.sparse)

    def _keep_buffer(self, *args: Any) -> bool:
        if args and args[0] is not None:
            self.keep_buffer = bool(args[0])
        return self.keep_buffer

    def _flag(self, attr: str) -> Any:
        def setting(*args: Any) -> bool:
            if args and args[0] is not None:
                setattr(self, attr, bool(args[0]))
            return getattr(self, attr)
        return setting

    # -- encode -----------------------------------------------------------------------
    def encode(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise ValueError("bad argument #1 to 'encode' (expected 1 argument)")
        out: list[bytes] = []
        self._encode(args[0], out, 1)
        return b"".join(out)

    def _number(self, n: float) -> bytes:
        if isinstance(n, float) and not math.isfinite(n):
            if not self.encode_invalid:
                raise ValueError("Cannot serialise number: must not be NaN or Inf")
            return b"nan" if math.isnan(n) else (b"inf" if n > 0 else b"-inf")
        return b"%.*g" % (self.precision, n)

    def _encode(self, v: Any, out: list[bytes], depth: int) -> None:
        t = type(v)
        if t is bytes:
            out.append(_escape(v))
        elif t is bool:
            out.append(b"true" if v else b"false")
        elif t is int or t is float:
            out.append(self._number(v))
        elif v is None:
            out.append(b"null")
        else:
            kind = lua51.lua_type(v)
            if kind == "table":
                self._table(v, out, depth)
            elif kind == "userdata" and self.is_null(v):
                out.append(b"null")
            else:
                raise ValueError(f"Cannot serialise {kind}: type not supported")

    def _table(self, table: Any, out: list[bytes], depth: int) -> None:
        if depth > self.encode_max_depth:
            raise ValueError(f"Cannot serialise, excessive nesting ({depth})")
        items = list(table.items())
        size = self._array_size(items)
        if size > 0:
            out.append(b"[")
            for i in range(1, size + 1):
                if i > 1:
                    out.append(b",")
                self._encode(table[i], out, depth + 1)
            out.append(b"]")
            return
        out.append(b"{")
        first = True
        for k, v in items:
            if not first:
                out.append(b",")
            first = False
            tk = type(k)
            if tk is bytes:
                out.append(_escape(k))
            elif tk is int or tk is float:
                out.append(b'"' + self._number(k) + b'"')
            else:
                kind = "boolean" if tk is bool else lua51.lua_type(k)
                raise ValueError(f"Cannot serialise {kind}: table key must be a number or string")
            out.append(b":")
            self._encode(v, out, depth + 1)
        out.append(b"}")

    def _array_size(self, items: list[tuple[Any, Any]]) -> int:
        """lua-cjson's lua_array_length: the array size, or -1 for an object (0 when empty)."""
        largest = 0
        for k, _ in items:
            if (type(k) is int or (type(k) is float and k.is_integer())) and k >= 1:
                largest = max(largest, int(k))
            else:
                return -1
        convert, ratio, safe = self.sparse
        if ratio > 0 and largest > safe and largest > len(items) * ratio:
            if not convert:
                raise ValueError("Cannot serialise table: excessively sparse array")
            return -1
        return largest

    # -- decode -----------------------------------------------------------------------
    def decode(self, *args: Any) -> Any:
        if len(args) != 1:
            raise ValueError("bad argument #1 to 'decode' (expected 1 argument)")
        text = args[0]
        if type(text) is int or type(text) is float:
            text = b"%.14g" % text
        if type(text) is not bytes:
            raise ValueError(f"bad argument #1 to 'decode' (string expected, got {lua51.lua_type(text) or 'nil'})")
        parser = _Parser(self, text)
        try:
            value = parser.value(parser.token(), 1)
            kind, _, pos = parser.token()
            if kind != "T_END":
                raise _DecodeError(f"Expected the end but found {parser.found(kind)} at character {pos + 1}")
        except _DecodeError as e:
            raise ValueError(str(e)) from None
        return value


class _Parser:
    """lua-cjson's tokenizer and recursive parser; tables are built bottom-up in Lua."""

    def __init__(self, cj: CJson, text: bytes) -> None:
        self.cj = cj
        self.s = text
        self.i = 0
        self.err = ""

    def found(self, kind: str) -> str:
        return self.err if kind == "T_ERROR" else kind

    def token(self) -> tuple[str, Any, int]:
        s, i = self.s, self.i
        while i < len(s) and s[i] in _WS:
            i += 1
        self.i = i
        if i >= len(s):
            return "T_END", None, i
        c = s[i:i + 1]
        simple = {b"{": "T_OBJ_BEGIN", b"}": "T_OBJ_END", b"[": "T_ARR_BEGIN", b"]": "T_ARR_END",
                  b":": "T_COLON", b",": "T_COMMA"}
        if c in simple:
            self.i = i + 1
            return simple[c], None, i
        if c == b'"':
            return self.string(i)
        for word, kind, constant in ((b"true", "T_BOOLEAN", True), (b"false", "T_BOOLEAN", False),
                                     (b"null", "T_NULL", None)):
            if s.startswith(word, i):
                self.i = i + len(word)
                return kind, constant, i
        if c in b"-0123456789" or (self.cj.decode_invalid and c.lower() in (b"i", b"n")):
            m = _NUMBER.match(s, i)
            assert m is not None
            text = m.group().lower()
            try:
                value: Any = int(text, 16) if text.lstrip(b"-+").startswith(b"0x") else float(text)
            except ValueError:
                value = None
            if value is not None:
                self.i = m.end()
                if type(value) is float and value.is_integer():
                    value = int(value)
                return "T_NUMBER", value, i
        self.err = "invalid token"
        return "T_ERROR", None, i

    def string(self, start: int) -> tuple[str, Any, int]:
        s = self.s
        i = start + 1
        out = bytearray()
        while True:
            if i >= len(s):
                self.err = "unexpected end of string"
                return "T_ERROR", None, i
            c = s[i]
            if c == 0x22:
                self.i = i + 1
                return "T_STRING", bytes(out), start
            if c == 0x5C:
                e = s[i + 1:i + 2]
                simple = {b'"': b'"', b"\\": b"\\", b"/": b"/", b"b": b"\b", b"f": b"\f",
                          b"n": b"\n", b"r": b"\r", b"t": b"\t"}
                if e in simple:
                    out += simple[e]
                    i += 2
                    continue
                if e == b"u":
                    cp, i = self._unicode(i)
                    if cp is None:
                        self.err = "invalid unicode escape code"
                        return "T_ERROR", None, i
                    out += chr(cp).encode("utf-8", "surrogatepass")
                    continue
                self.err = "invalid escape code"
                return "T_ERROR", None, i
            out.append(c)
            i += 1

    def _unicode(self, i: int) -> tuple[int | None, int]:
        s = self.s
        try:
            cp = int(s[i + 2:i + 6], 16)
        except ValueError:
            return None, i
        if len(s[i + 2:i + 6]) != 4:
            return None, i
        i += 6
        if 0xD800 <= cp <= 0xDBFF:
            if s[i:i + 2] != b"\\u":
                return None, i
            try:
                low = int(s[i + 2:i + 6], 16)
            except ValueError:
                return None, i
            if not 0xDC00 <= low <= 0xDFFF:
                return None, i
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
            i += 6
        elif 0xDC00 <= cp <= 0xDFFF:
            return None, i
        return cp, i

    def value(self, tok: tuple[str, Any, int], depth: int) -> Any:
        kind, value, pos = tok
        if kind in ("T_STRING", "T_NUMBER", "T_BOOLEAN"):
            return value
        if kind == "T_NULL":
            return self.cj.null
        if kind == "T_OBJ_BEGIN":
            return self.obj(pos, depth)
        if kind == "T_ARR_BEGIN":
            return self.arr(pos, depth)
        raise _DecodeError(f"Expected value but found {self.found(kind)} at character {pos + 1}")

    def _nest(self, pos: int, depth: int) -> None:
        if depth > self.cj.decode_max_depth:
            raise _DecodeError(f"Found too many nested data structures ({depth}) at character {pos + 1}")

    def obj(self, pos: int, depth: int) -> Any:
        self._nest(pos, depth)
        result: dict[Any, Any] = {}
        kind, key, pos = self.token()
        if kind == "T_OBJ_END":
            return self.cj.lua.table_from(result)
        while True:
            if kind != "T_STRING":
                raise _DecodeError(f"Expected object key string but found {self.found(kind)} at character {pos + 1}")
            kind, _, pos = self.token()
            if kind != "T_COLON":
                raise _DecodeError(f"Expected colon but found {self.found(kind)} at character {pos + 1}")
            result[key] = self.value(self.token(), depth + 1)
            kind, _, pos = self.token()
            if kind == "T_OBJ_END":
                return self.cj.lua.table_from(result)
            if kind != "T_COMMA":
                raise _DecodeError(f"Expected comma or object end but found {self.found(kind)} at character {pos + 1}")
            kind, key, pos = self.token()

    def arr(self, pos: int, depth: int) -> Any:
        self._nest(pos, depth)
        items: list[Any] = []
        tok = self.token()
        if tok[0] == "T_ARR_END":
            return self.cj.lua.table_from(items)
        while True:
            items.append(self.value(tok, depth + 1))
            kind, _, pos = self.token()
            if kind == "T_ARR_END":
                return self.cj.lua.table_from(items)
            if kind != "T_COMMA":
                raise _DecodeError(f"Expected comma or array end but found {self.found(kind)} at character {pos + 1}")
            tok = self.token()
