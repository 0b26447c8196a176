"""The Lua libraries Redis bundles for scripts: cjson, cmsgpack, bit, struct.

Each module implements one library in Python with the results of Redis's C library on the
inputs scripts use; `install_libraries` returns them as Lua tables (name -> table) for the
sandbox, which makes them read-only and turns their exceptions into Lua errors.
"""

from __future__ import annotations

import sys
from typing import Any

from keystream.scripting.libs import bit, struct
from keystream.scripting.libs.cjson import CJson
from keystream.scripting.libs.cmsgpack import CMsgpack

__all__ = ["install_libraries"]

# cjson nests up to 1000 levels (encode_max_depth) and recurses twice per level.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))


def install_libraries(lua: Any) -> dict[bytes, Any]:
    """The library tables for a fresh LuaRuntime (before the sandbox takes its globals)."""
    null = lua.eval("newproxy()")
    is_null = lua.eval("function(null) return function(v) return v == null end end")(null)
    return {
        b"bit": lua.table_from(bit.functions),
        b"struct": lua.table_from(struct.functions),
        b"cjson": CJson(lua, null, is_null).table(),
        b"cmsgpack": CMsgpack(lua).table(),
    }
