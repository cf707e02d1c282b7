"""The registry: the versioned definitions file and its snapshot (``file``), plans (``plan``), apply-time
checks of definitions against their sources (``checks``) and the loader of a repo's modules (``loader``)."""
