#!/usr/bin/env sh
# Install promtool (Debian's `prometheus` package ships /usr/bin/promtool) for the tests of deploy/prometheus/.
# Does nothing when promtool is already on PATH; never starts the prometheus service.
# Exit 0: promtool available; exit 3: apt-get unusable here (not root, or no apt-get).
exec sh "$(dirname "$0")/apt-install.sh" promtool prometheus
