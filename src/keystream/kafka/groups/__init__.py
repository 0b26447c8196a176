"""Consumer groups: the group coordinator and the records of `__consumer_offsets`."""
