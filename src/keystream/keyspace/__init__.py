"""The in-memory keyspace: databases, expiry, WATCH versions; pure data types in datatypes/."""
