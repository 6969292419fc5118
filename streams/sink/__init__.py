"""The warehouse sink: accepted events from Kafka into the Parquet lake."""
