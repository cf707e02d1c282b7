"""The DuckDB offline engine: sources as relations, the point-in-time join as SQL, the retrieval job."""
