#!/usr/bin/env sh
# Install Debian's Java 17 runtime for the Spark engine's tests (tests/offline/test_spark_engine.py): pyspark from
# PyPI starts a JVM (Spark 4 needs Java 17 or newer). Does nothing when java is already on PATH.
# Exit 0: java available; exit 3: apt-get unusable here.
exec sh "$(dirname "$0")/apt-install.sh" java openjdk-17-jre-headless
