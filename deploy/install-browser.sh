#!/usr/bin/env sh
# Install Debian's Chromium (/usr/bin/chromium) for the UI's browser tests (tests/ui/test_browser.py).
# Playwright for Python drives this binary, never a downloaded one: the `playwright` pin in pyproject.toml
# (dev extra) is the release whose bundled Chromium matches Debian's major version (see tests/ui/browser.py).
# fonts-liberation: a sans-serif font, so pages and screenshots render text the same on every machine.
# Does nothing when chromium is already on PATH. Exit 0: chromium available; exit 3: apt-get unusable here.
exec sh "$(dirname "$0")/apt-install.sh" chromium chromium fonts-liberation
