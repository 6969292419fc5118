"""Warehouse: the Parquet lake the sink appends to, and the DuckDB file dbt builds from it."""
