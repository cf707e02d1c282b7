"""``make demo``: sample data, the demo run, and a small HTTP client of the demo server."""
