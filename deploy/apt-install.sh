#!/usr/bin/env sh
# apt-install.sh COMMAND PACKAGE...: install Debian PACKAGEs when COMMAND is not on PATH (the test tools:
# install-promtool.sh, install-browser.sh). Never starts a service the packages bring.
# Exit 0: COMMAND available; exit 3: apt-get unusable here (not root, or no apt-get).
set -eu
command_name="$1"
shift
if command -v "$command_name" >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-install: no apt-get on this machine to install $*" >&2
    exit 3
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "apt-install: apt-get needs root (no passwordless sudo) to install $*" >&2
        exit 3
    fi
fi
# policy-rc.d 101: the packages' maintainer scripts must not start services (prometheus would)
if [ -d /usr/sbin ] && [ ! -e /usr/sbin/policy-rc.d ] && [ -z "$SUDO" ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
command -v "$command_name" >/dev/null 2>&1
