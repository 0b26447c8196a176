"""The Kafka side: wire protocol (codec/), one module per API group (apis/), the listener.

`KafkaBroker` (broker.py) is the service the server starts beside the RESP listener on the
same event loop; it owns the `LogManager`, the fetch waiters and the retention/flush timers.
Not here: the partition logs themselves (keystream.log).
"""
