"""Kafka API handlers: `registry.py` plus one module per API group (auto-imported)."""
