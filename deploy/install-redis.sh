#!/usr/bin/env sh
# Install Debian's redis-server and redis-cli for the tests' private Redis and local Redis Cluster (tests/conftest.py,
# tests/redis_cluster.py: `redis-server --cluster-enabled yes` joined by `redis-cli --cluster create`). Does nothing
# when redis-cli is already on PATH (the packages' own service is never started). Exit 0: available; 3: no apt-get.
exec sh "$(dirname "$0")/apt-install.sh" redis-cli redis-server redis-tools
