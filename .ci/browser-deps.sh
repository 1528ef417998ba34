#!/usr/bin/env bash
# What the browser test (tests/server/test_browser.py) needs besides pip packages:
# Debian's Chromium at /usr/bin/chromium. Idempotent: does nothing when it is there.
# Playwright's own browser downloads are never used (no `playwright install`).
set -euo pipefail

version() { /usr/bin/chromium --version 2>/dev/null | head -n 1 || true; }

if [ -x /usr/bin/chromium ]; then
  echo "browser-deps: /usr/bin/chromium is present ($(version)); nothing to install"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "browser-deps: /usr/bin/chromium is missing and installing it needs root or sudo" >&2
    exit 1
  fi
fi

echo "browser-deps: /usr/bin/chromium is missing; installing Debian's chromium with apt-get"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
if [ ! -x /usr/bin/chromium ]; then
  echo "browser-deps: apt-get finished but /usr/bin/chromium is still missing" >&2
  exit 1
fi
echo "browser-deps: installed $(version)"
