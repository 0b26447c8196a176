"""Listening addresses: the `bind` setting as the host list asyncio's create_server takes."""

from __future__ import annotations

__all__ = ["bind_hosts"]


def bind_hosts(bind: str) -> list[str] | str:
    hosts = [h.lstrip("-") for h in bind.split() if h]
    return hosts if len(hosts) > 1 else (hosts[0] if hosts else "127.0.0.1")
