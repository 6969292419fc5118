"""The collector: a Segment-compatible HTTP API that hands every accepted event to Kafka before answering."""
