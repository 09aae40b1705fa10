"""Files sqlops keeps: content-addressed objects, atomic writes, locks, the no-op cache."""
