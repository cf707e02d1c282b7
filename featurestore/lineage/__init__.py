"""Lineage: what each definition, source and training set depends on, and what depends on it."""
