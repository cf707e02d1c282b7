"""The Spark offline engine: Spark reads and shuffles, DuckDB joins each bucket (see store.py)."""
