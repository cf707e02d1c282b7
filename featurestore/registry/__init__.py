"""The registry: the versioned definitions and their snapshot (``file``: the JSON file registry and
:class:`RegistryState`; ``postgres``: the same in PostgreSQL; ``protocol``: what both implement; ``factory``: the
one the ``registry`` setting names), plans (``plan``), apply-time checks of definitions against their sources
(``checks``) and the loader of a repo's modules (``loader``)."""
