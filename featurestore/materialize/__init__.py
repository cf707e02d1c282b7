"""Materialization and direct writes: the latest rows per entity into the online store (``run``), and
``push`` / ``write_to_online_store`` (``writes``)."""
