#!/usr/bin/env sh
# Install promtool (Debian's `prometheus` package ships /usr/bin/promtool) for the tests of deploy/prometheus/.
# Does nothing when promtool is already on PATH; never starts the prometheus service.
# Exit 0: promtool available; exit 3: apt-get unusable here (not root, or no apt-get).
set -eu
if command -v promtool >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-promtool: no apt-get on this machine" >&2
    exit 3
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-promtool: apt-get needs root (no passwordless sudo)" >&2
        exit 3
    fi
fi
# policy-rc.d 101: the package's maintainer scripts must not start the prometheus service
if [ -d /usr/sbin ] && [ ! -e /usr/sbin/policy-rc.d ] && [ -z "$SUDO" ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null 2>&1
