"""Keystream: one server that speaks the Redis and Kafka wire protocols over one engine."""

__version__ = "0.1.0"
# The Redis version we report to clients (INFO server, HELLO): clients use it to decide
# which commands they may send, so it names the release whose commands we implement.
REDIS_VERSION = "7.0.15"

import os as _os

if _os.environ.get("KEYSTREAM_PURE") == "1":  # run the compiled hot path's sources (keystream/hotpath.py)
    from keystream.hotpath import use_sources as _use_sources

    _use_sources()
