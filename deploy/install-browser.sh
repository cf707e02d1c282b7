#!/usr/bin/env sh
# Install Debian's Chromium (/usr/bin/chromium) for the UI's browser tests (tests/ui/test_browser.py).
# Playwright for Python drives this binary, never a downloaded one: the `playwright` pin in pyproject.toml
# (dev extra) is the release whose bundled Chromium matches Debian's major version (see tests/ui/browser.py).
# Does nothing when chromium is already on PATH.
# Exit 0: chromium available; exit 3: apt-get unusable here (not root, or no apt-get).
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get on this machine" >&2
    exit 3
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-browser: apt-get needs root (no passwordless sudo)" >&2
        exit 3
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-liberation: a sans-serif font so pages and screenshots render text the same on every machine
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
command -v chromium >/dev/null 2>&1
