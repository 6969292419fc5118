"""The event contract: what clients send (Segment HTTP API) and what the collector puts on Kafka."""
