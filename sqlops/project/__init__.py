"""Files on disk -> immutable Model and Source objects."""
