"""Use cases: commands handled inside a unit of work."""
