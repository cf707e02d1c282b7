"""``python -m featurestore.cli``: the ``featurestore`` command without the console script."""

from featurestore.cli import main

main(prog_name="featurestore")
