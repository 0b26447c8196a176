"""Pure data structures behind the Redis types (no protocol, no I/O)."""
