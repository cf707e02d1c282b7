"""Definitions: frozen dataclasses checked when built (entities, fields, sources, feature views and
services), and the table of their kinds."""
