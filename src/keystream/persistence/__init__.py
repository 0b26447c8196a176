"""Redis persistence: RDB snapshots (rdb.py, snapshot.py) and their encodings."""
