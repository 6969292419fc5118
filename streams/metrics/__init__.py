"""Live metrics: per-minute numbers by event time for the live dashboard."""
