"""Sans-I/O Kafka codec: frame splitting, request headers, message classes and fast encoders.

Message classes come from `kio` (generated from Kafka's JSON message definitions, native
decoder). Produce, Fetch and Metadata responses are encoded by hand in `fast.py`, so record
bytes are never copied through a generic encoder; unit tests check that those encoders give
the same bytes as kio's generic one.
"""
