"""The offline engines: the engine protocol, its factory, entity frames, and ``get_historical_features``;
the DuckDB engine in ``duckdb/``."""
