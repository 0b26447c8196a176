"""Partition logs on local disk in Kafka's segment layout (see `manager.LogManager`)."""
