"""Reproducible, versioned training sets: manifests, fingerprints, creation and re-creation."""
