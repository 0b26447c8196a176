"""The Lua libraries Redis bundles for scripts: cjson, cmsgpack, bit, struct.

Each module implements one library in Python with the results of Redis's C library on the
inputs scripts use; `install_libraries` returns them as Lua tables (name -> table) for the
sandbox, which makes them read-only and turns errors into Lua errors.
"""

from __future__ import annotations

from typing import Any

from keystream.scripting.libs import bit

__all__ = ["install_libraries"]


def install_libraries(lua: Any) -> dict[bytes, Any]:
    return {
        b"bit": lua.table_from(bit.functions),
    }
