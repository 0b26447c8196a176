"""Bridge between the Kafka log and the Redis keyspace."""
