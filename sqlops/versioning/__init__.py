"""Data versions: branches, commits, diff, merge, tags and time travel of tables."""
