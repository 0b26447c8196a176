"""RESP2/RESP3: sans-I/O request parser, reply encoder, per-connection protocol."""
