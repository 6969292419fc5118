"""Ingestion: the collector (Segment HTTP API), the tracking contract, the simulator and the mini-program SDK."""
