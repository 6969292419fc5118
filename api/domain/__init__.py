"""The pure domain: no I/O, no framework. Aggregates record the events they cause."""
