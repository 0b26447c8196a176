"""Keystream: one server that speaks the Redis and Kafka wire protocols over one engine."""

__version__ = "0.1.0"
# The Redis version we report to clients (INFO server, HELLO): clients use it to decide
# which commands they may send, so it names the release whose commands we implement.
REDIS_VERSION = "7.0.15"
